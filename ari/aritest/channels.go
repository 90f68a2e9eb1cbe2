package aritest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// channel is one simulated channel.
type channel struct {
	id, name, state, protocolID string
	callerName, callerNum       string
	connName, connNum           string
	context, exten              string
	priority                    int
	appName, appData            string
	created                     time.Time
	language                    string
	accountcode                 string

	vars       map[string]string
	headers    map[string]string // inbound SIP headers, for PJSIP_HEADER(read,…)
	addHeaders map[string]string // PJSIP_HEADER(add,…) for the outbound INVITE
	pres       string            // CALLERID(pres)
	remoteAddr string

	app      string // the application it belongs to (events go there)
	inStasis bool
	bridge   string
	ep       *endpoint
	inbound  bool
	snoopOf  string // the channel a snoop channel spies on
	referred bool   // redirected with REFER
	zombie   bool   // redirected and hung up: listed, never destroyed
	gone     bool
	done     chan struct{}

	// outbound legs
	dialstring string
	dialing    bool
	dialed     bool
	answered   bool
	leg        *Leg
	originArgs []string // POST /channels: the args of the StasisStart at the answer

	caller *Caller
}

func (c *channel) json() obj {
	return obj{
		{"id", c.id}, {"name", c.name}, {"state", c.state}, {"protocol_id", c.protocolID},
		{"caller", obj{{"name", c.callerName}, {"number", c.callerNum}}},
		{"connected", obj{{"name", c.connName}, {"number", c.connNum}}},
		{"accountcode", c.accountcode},
		{"dialplan", obj{{"context", c.context}, {"exten", c.exten}, {"priority", c.priority}, {"app_name", c.appName}, {"app_data", c.appData}}},
		{"creationtime", ts(c.created)}, {"language", c.language},
	}
}

func (c *channel) subj() subject { return subject{channel: c.id} }

// newChannel makes a channel with an Asterisk-style id (epoch.counter).
func (s *Server) newChannel(id, name string) *channel {
	if id == "" {
		id = fmt.Sprintf("%d.%d", s.start.Unix(), s.seq)
	}
	s.seq++
	c := &channel{id: id, name: name, state: "Down", created: s.now(), language: "en",
		vars: map[string]string{}, headers: map[string]string{}, addHeaders: map[string]string{},
		pres: "allowed_not_screened", priority: 1, done: make(chan struct{})}
	s.channels[id] = c
	s.order = append(s.order, id)
	return c
}

func (s *Server) nextName(prefix string) string {
	n := fmt.Sprintf("%s-%08x", prefix, s.nameSeq)
	s.nameSeq++
	return n
}

func (s *Server) chanEvent(typ string, c *channel, fields ...kv) {
	s.emit(s.event(typ, append(fields, kv{"channel", c.json()})...), c.subj())
}

func (s *Server) varset(c *channel, name, value string) {
	s.emit(s.eventFirst("ChannelVarset", []kv{{"variable", name}, {"value", value}}, kv{"channel", c.json()}), c.subj())
}

// enterStasis runs Stasis(app[,args]) for c: the dialplan step, then
// StasisStart if the application is connected. It reports false when
// the application is not registered (STASISSTATUS=FAILED, as Asterisk).
func (s *Server) enterStasis(c *channel, app string, args []string) bool {
	c.appName = "Stasis"
	c.appData = strings.Join(append([]string{app}, args...), ",")
	s.chanEvent("ChannelDialplan", c, kv{"dialplan_app", "Stasis"}, kv{"dialplan_app_data", c.appData})
	if !s.registered(app) {
		c.vars["STASISSTATUS"] = "FAILED"
		return false
	}
	c.app, c.inStasis = app, true
	c.vars["STASISSTATUS"] = ""
	s.varset(c, "STASISSTATUS", "")
	if args == nil {
		args = []string{}
	}
	s.chanEvent("StasisStart", c, kv{"args", args})
	return true
}

func (s *Server) setState(c *channel, state string) {
	if c.state == state {
		return
	}
	c.state = state
	s.chanEvent("ChannelStateChange", c)
}

// device records an endpoint's device state, emitting a change.
func (s *Server) device(name, state string) {
	if s.devices[name] == state {
		return
	}
	s.devices[name] = state
	s.emit(obj{{"type", "DeviceStateChanged"}, {"application", appName{}}, {"timestamp", ts(s.now())},
		{"device_state", obj{{"name", name}, {"state", state}}}, {"asterisk_id", s.opts.AsteriskID}}, subject{})
}

// deviceIdle is an endpoint's state with no call on it.
func (s *Server) deviceIdle(ep *endpoint) {
	if ep == nil {
		return
	}
	for _, c := range s.channels {
		if c.ep == ep && !c.gone && !c.zombie {
			return
		}
	}
	if ep.contact != "" {
		s.device(ep.device(), "NOT_INUSE")
	} else {
		s.device(ep.device(), "UNAVAILABLE")
	}
}

// hangupHow describes how a channel ends.
type hangupHow struct {
	first      []kv // the first ChannelHangupRequest's own fields
	noFirst    bool
	secondTech int
	cause      int
	techCause  int
	dialStatus string // a Dial event for a leg still dialling
}

var causeText = map[int]string{
	0: "Unknown", 1: "Unallocated (unassigned) number", 16: "Normal Clearing", 17: "User busy",
	18: "No user responding", 19: "User alerting, no answer", 21: "Call Rejected", 26: "Answered elsewhere",
	27: "Destination out of order", 31: "Normal, unspecified", 34: "Circuit/channel congestion",
	38: "Network out of order", 127: "Interworking, unspecified",
}

// end hangs c up with the events Asterisk sends, in its order.
func (s *Server) end(c *channel, h hangupHow) {
	if c.gone {
		return
	}
	if h.dialStatus != "" && c.dialing {
		s.dialEvent(c, h.dialStatus, "")
	}
	c.dialing = false
	if !h.noFirst {
		s.emit(s.eventFirst("ChannelHangupRequest", h.first, kv{"channel", c.json()}), c.subj())
	}
	for _, pb := range s.sortedPlaybacks() {
		if pb.target == "channel:"+c.id {
			s.finishPlayback(pb, "failed")
		}
	}
	for _, rec := range s.live {
		if rec.target == "channel:"+c.id {
			s.finishRecording(rec)
		}
	}
	if c.bridge != "" {
		if b := s.bridges[c.bridge]; b != nil {
			s.leaveBridge(b, c)
		}
	}
	if c.inStasis {
		c.inStasis = false
		s.chanEvent("StasisEnd", c)
		c.vars["STASISSTATUS"] = "SUCCESS"
		s.varset(c, "STASISSTATUS", "SUCCESS")
	}
	if c.inbound {
		// The Stasis() application returns and the dialplan hangs up:
		// a channel the dialplan runs gets a second request; one that
		// ARI made does not (as captured).
		second := []kv{{"cause", 16}, {"soft", true}}
		if h.secondTech != 0 {
			second = append(second, kv{"tech_cause", h.secondTech})
		}
		s.emit(s.eventFirst("ChannelHangupRequest", second, kv{"channel", c.json()}), c.subj())
	}
	if c.zombie {
		// A channel redirected with REFER to a peer that never sent
		// NOTIFY: Asterisk sent BYE and StasisEnd, but never destroyed
		// it (NOTES.md, surprise 6).
		return
	}
	for _, id := range slices.Clone(s.order) {
		if sn := s.channels[id]; sn != nil && sn.snoopOf == c.id && !sn.gone {
			s.destroy(sn, []kv{{"cause", 16}, {"cause_txt", causeText[16]}})
		}
	}
	fields := []kv{{"cause", h.cause}, {"cause_txt", causeText[h.cause]}}
	if h.techCause != 0 {
		fields = append(fields, kv{"tech_cause", h.techCause})
	}
	s.destroy(c, fields)
}

func (s *Server) destroy(c *channel, fields []kv) {
	// A destroyed channel runs no application any more.
	c.appName, c.appData = "", ""
	s.chanEvent("ChannelDestroyed", c, fields...)
	c.gone = true
	delete(s.channels, c.id)
	s.order = slices.DeleteFunc(s.order, func(id string) bool { return id == c.id })
	close(c.done)
	s.deviceIdle(c.ep)
}

// hangupCause maps DELETE's reason to a Q.850 cause.
var hangupCause = map[string]int{
	"": 16, "normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 18, "rejected": 21,
	"unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28, "codec_mismatch": 58,
	"interworking": 127, "failure": 38, "answered_elsewhere": 26,
}

// sipStatus is the response an unanswered inbound channel gets.
var sipStatus = map[int]int{17: 486, 34: 503, 19: 480, 18: 408, 21: 603, 1: 404, 38: 500, 127: 500}

// --- REST: channels ---

func (s *Server) channel(id string) (*channel, *reply) {
	c := s.channels[id]
	if c == nil || c.gone {
		r := fail(http.StatusNotFound, "Channel not found")
		return nil, &r
	}
	return c, nil
}

func (s *Server) listChannels(req) reply {
	out := []obj{}
	for _, id := range s.order {
		out = append(out, s.channels[id].json())
	}
	return ok(out)
}

func (s *Server) getChannel(r req) reply {
	c, bad := s.channel(r.params[0])
	if bad != nil {
		return *bad
	}
	return ok(c.json())
}

func (s *Server) hangup(r req) reply {
	c, bad := s.channel(r.params[0])
	if bad != nil {
		return *bad
	}
	if c.zombie {
		return fail(http.StatusNotFound, "Channel not found")
	}
	reason := r.get("reason")
	cause, known := hangupCause[reason]
	if code := r.get("reason_code"); code != "" {
		n, err := strconv.Atoi(code)
		if err != nil {
			return fail(http.StatusBadRequest, "Invalid reason for hangup provided")
		}
		cause, known = n, true
	}
	if !known {
		return fail(http.StatusBadRequest, "Invalid reason for hangup provided")
	}
	h := hangupHow{first: []kv{{"cause", 32}, {"soft", true}}, cause: cause, dialStatus: "CANCEL"}
	if c.inbound && c.state != "Up" && cause != 16 {
		h.techCause = sipStatus[cause]
	}
	if c.referred {
		c.zombie = true
	}
	if c.snoopOf != "" {
		// A snoop channel leaves the application at once but is only
		// destroyed with the channel it spies on (as captured).
		s.emit(s.eventFirst("ChannelHangupRequest", h.first, kv{"channel", c.json()}), c.subj())
		if c.inStasis {
			c.inStasis = false
			s.chanEvent("StasisEnd", c)
			c.vars["STASISSTATUS"] = "SUCCESS"
			s.varset(c, "STASISSTATUS", "SUCCESS")
		}
		c.zombie = true
		return noContent()
	}
	s.end(c, h)
	return noContent()
}

// stasisChannel finds a channel the application may act on.
func (s *Server) stasisChannel(id string) (*channel, *reply) {
	c, bad := s.channel(id)
	if bad != nil {
		return nil, bad
	}
	if bad := s.needStasis(c); bad != nil {
		return nil, bad
	}
	return c, nil
}

func (s *Server) needStasis(c *channel) *reply {
	if !c.inStasis {
		r := fail(http.StatusConflict, "Channel not in Stasis application")
		return &r
	}
	return nil
}

func (s *Server) answer(r req) reply {
	c, bad := s.stasisChannel(r.params[0])
	if bad != nil {
		return *bad
	}
	if c.state != "Up" {
		s.setState(c, "Up")
		if c.ep != nil {
			s.device(c.ep.device(), "INUSE")
		}
	}
	return noContent()
}

func (s *Server) ring(r req) reply {
	c, bad := s.stasisChannel(r.params[0])
	if bad != nil {
		return *bad
	}
	if c.ep != nil {
		s.device(c.ep.device(), "INUSE")
	}
	return noContent()
}

func (s *Server) ringStop(r req) reply { return s.chanNoop(r) }

func (s *Server) chanNoop(r req) reply {
	if _, bad := s.stasisChannel(r.params[0]); bad != nil {
		return *bad
	}
	return noContent()
}

func (s *Server) hold(r req) reply { return s.holdState(r, "ONHOLD") }

func (s *Server) unhold(r req) reply { return s.holdState(r, "INUSE") }

// holdState: hold and unhold show in the endpoint's device state.
func (s *Server) holdState(r req, state string) reply {
	rep := s.chanNoop(r)
	if rep.status == http.StatusNoContent {
		if c := s.channels[r.params[0]]; c.ep != nil {
			s.device(c.ep.device(), state)
		}
	}
	return rep
}

func (s *Server) sendDTMF(r req) reply {
	if r.get("dtmf") == "" {
		return fail(http.StatusBadRequest, "DTMF is required")
	}
	return s.chanNoop(r)
}

func (s *Server) redirect(r req) reply {
	c, bad := s.channel(r.params[0])
	if bad != nil {
		return *bad
	}
	if r.get("endpoint") == "" {
		return fail(http.StatusBadRequest, "Endpoint parameter not provided")
	}
	if bad := s.needStasis(c); bad != nil {
		return *bad
	}
	c.referred = true
	return noContent()
}

// continueDialplan sends the channel back to the dialplan; the captured
// from-trunk context sends it straight into Stasis again.
func (s *Server) continueDialplan(r req) reply {
	c, bad := s.stasisChannel(r.params[0])
	if bad != nil {
		return *bad
	}
	app := c.app
	c.inStasis = false
	s.chanEvent("StasisEnd", c)
	c.vars["STASISSTATUS"] = "SUCCESS"
	s.varset(c, "STASISSTATUS", "SUCCESS")
	if ctx := r.get("context"); ctx != "" {
		c.context = ctx
	}
	if ext := r.get("extension"); ext != "" {
		c.exten = ext
	}
	c.priority = 1
	s.runInbound(c, app)
	return noContent()
}

// runInbound is the captured from-trunk dialplan: NoOp, then Stasis.
func (s *Server) runInbound(c *channel, app string) bool {
	callerID := fmt.Sprintf("%q <%s>", c.callerName, c.callerNum)
	text := "hotline call from " + callerID
	var args []string
	if c.exten != s.opts.HotlineExten {
		text = fmt.Sprintf("call to %s from %s", c.exten, callerID)
		args = []string{"inbound", c.exten}
	}
	c.appName, c.appData = "NoOp", text
	s.chanEvent("ChannelDialplan", c, kv{"dialplan_app", "NoOp"}, kv{"dialplan_app_data", text})
	c.priority = 2
	return s.enterStasis(c, app, args)
}

func (s *Server) snoop(r req) reply {
	c, bad := s.channel(r.params[0])
	if bad != nil {
		return *bad
	}
	app := r.get("app")
	if app == "" {
		return fail(http.StatusBadRequest, "Invalid parameters")
	}
	id := r.get("snoopId")
	if len(r.params) > 1 {
		id = r.params[1]
	}
	sn := s.newChannel(id, fmt.Sprintf("Snoop/%s-%08x", c.id, 0))
	sn.state, sn.snoopOf = "Up", c.id
	sn.context, sn.exten = "default", "s"
	sn.ep = &endpoint{tech: "Snoop", resource: c.id}
	s.chanEvent("ChannelCreated", sn)
	var args []string
	if a := r.get("appArgs"); a != "" {
		args = strings.Split(a, ",")
	}
	snap := sn.json()
	s.enterStasis(sn, app, args)
	return ok(snap.with("dialplan", obj{{"context", sn.context}, {"exten", sn.exten}, {"priority", 1}, {"app_name", ""}, {"app_data", ""}}))
}

// --- variables ---

// getVar reads what the captures read: CALLERID(…), CONNECTEDLINE(all),
// CHANNEL(…), PJSIP_HEADER(read,…), EXTEN, CONTEXT, and set variables.
func (s *Server) getVar(r req) reply {
	c, bad := s.channel(r.params[0])
	if bad != nil {
		return *bad
	}
	name := r.get("variable")
	if name == "" {
		return fail(http.StatusBadRequest, "Missing variable parameter.")
	}
	v, found, readable := s.readVar(c, name)
	switch {
	case !readable:
		return fail(http.StatusInternalServerError, "Unable to read provided function")
	case !found:
		return fail(http.StatusNotFound, "Provided variable was not found")
	}
	return ok(obj{{"value", v}})
}

func (s *Server) readVar(c *channel, name string) (value string, found, readable bool) {
	if fn, arg, isFn := function(name); isFn {
		switch fn {
		case "CALLERID":
			switch arg {
			case "name":
				return c.callerName, true, true
			case "num":
				return c.callerNum, true, true
			case "all":
				return fmt.Sprintf("%q <%s>", c.callerName, c.callerNum), true, true
			case "pres", "num-pres", "name-pres":
				return c.pres, true, true
			case "name-charset":
				return "iso8859-1", true, true
			}
		case "CONNECTEDLINE":
			if arg == "all" {
				return fmt.Sprintf("%q <%s>", c.connName, c.connNum), true, true
			}
		case "CHANNEL":
			switch arg {
			case "name":
				return c.name, true, true
			case "uniqueid", "linkedid":
				return c.id, true, true
			case "endpoint":
				if c.ep != nil {
					return c.ep.resource, true, true
				}
			case "pjsip,call-id":
				return c.protocolID, true, true
			case "pjsip,remote_addr":
				if c.remoteAddr != "" {
					return c.remoteAddr, true, true
				}
			case "audionativeformat":
				return "(ulaw|alaw)", true, true
			}
		case "PJSIP_HEADER":
			if h, ok := strings.CutPrefix(arg, "read,"); ok {
				if v, ok := c.headers[strings.ToLower(h)]; ok {
					return v, true, true
				}
			}
		}
		return "", false, false
	}
	switch name {
	case "EXTEN":
		return c.exten, true, true
	case "CONTEXT":
		return c.context, true, true
	}
	v, ok := c.vars[name]
	return v, ok, true
}

// function splits "CALLERID(name)" into its name and argument.
func function(name string) (fn, arg string, ok bool) {
	i := strings.IndexByte(name, '(')
	if i <= 0 || !strings.HasSuffix(name, ")") {
		return "", "", false
	}
	return name[:i], name[i+1 : len(name)-1], true
}

func (s *Server) setVar(r req) reply {
	c, bad := s.channel(r.params[0])
	if bad != nil {
		return *bad
	}
	name := r.get("variable")
	if name == "" {
		return fail(http.StatusBadRequest, "Missing variable parameter.")
	}
	s.writeVar(c, name, r.get("value"))
	return noContent()
}

// writeVar sets a variable or writes a function, with its events.
func (s *Server) writeVar(c *channel, name, value string) {
	fn, arg, isFn := function(name)
	if !isFn {
		c.vars[name] = value
		s.varset(c, name, value)
		return
	}
	switch fn {
	case "CALLERID":
		switch arg {
		case "name":
			if c.callerName == value {
				return
			}
			c.callerName = value
		case "num":
			if c.callerNum == value {
				return
			}
			c.callerNum = value
		case "pres", "num-pres", "name-pres":
			c.pres = value
		default:
			return
		}
		code, txt := presentation(c.pres)
		s.chanEvent("ChannelCallerId", c, kv{"caller_presentation", code}, kv{"caller_presentation_txt", txt})
	case "PJSIP_HEADER":
		if h, ok := strings.CutPrefix(arg, "add,"); ok {
			c.addHeaders[h] = value
		}
	}
}

// presentation is Asterisk's number for a CALLERID(pres) value.
func presentation(p string) (int, string) {
	if strings.HasPrefix(p, "prohib") {
		return 33, "Presentation Prohibited, Passed Screen"
	}
	return 0, "Presentation Allowed, Not Screened"
}

// readBody reads a JSON body: its members count as query parameters, and
// "variables" are the channel variables of an originate.
func readBody(hr *http.Request, rq *req) error {
	var body map[string]json.RawMessage
	dec := json.NewDecoder(http.MaxBytesReader(nil, hr.Body, 1<<20))
	if err := dec.Decode(&body); err != nil {
		if err.Error() == "EOF" {
			return nil
		}
		return fmt.Errorf("Invalid JSON: %v", err)
	}
	for k, raw := range body {
		if k == "variables" {
			var vars map[string]string
			if err := json.Unmarshal(raw, &vars); err != nil {
				return fmt.Errorf("variables: %v", err)
			}
			rq.vars = vars
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		if rq.q.Get(k) == "" {
			rq.q.Set(k, fmt.Sprint(v))
		}
	}
	return nil
}
