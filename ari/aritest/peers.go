package aritest

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// endpoint is a PJSIP endpoint of the simulated pjsip.conf.
type endpoint struct {
	tech, resource, context  string
	trunk                    bool // identified by IP; dialled as PJSIP/<number>@<name>
	callerName, callerNumber string
	contact                  string // registered contact; "" when not registered
	onDial                   func(*Leg)
}

func (e *endpoint) device() string { return e.tech + "/" + e.resource }

func (s *Server) endpointJSON(e *endpoint) obj {
	state := "offline"
	if e.contact != "" {
		state = "online"
	}
	ids := []string{}
	for _, id := range s.order {
		if c := s.channels[id]; c.ep == e {
			ids = append(ids, id)
		}
	}
	return obj{{"technology", e.tech}, {"resource", e.resource}, {"state", state}, {"channel_ids", ids}}
}

// Agent is an agent's softphone endpoint.
type Agent struct {
	// CallerName and CallerNumber are the endpoint's callerid (what a leg
	// to it shows before the app sets one); default the user.
	CallerName, CallerNumber string
	// OnDial runs (in a goroutine of its own) each time a leg to this
	// endpoint is dialled: it plays the phone (Ring, Answer, Busy, …).
	// Nil: the phone rings and is never answered.
	OnDial func(*Leg)
}

// Register adds (or updates) the endpoint PJSIP/<user> and registers its
// contact, with the events of a REGISTER: PeerStatusChange and
// ContactStatusChange.
func (s *Server) Register(user string, a Agent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := "PJSIP/" + user
	e := s.endpoints[key]
	if e == nil {
		e = &endpoint{tech: "PJSIP", resource: user, context: "from-agents"}
		s.endpoints[key] = e
	}
	if a.CallerName != "" || a.CallerNumber != "" {
		e.callerName, e.callerNumber = a.CallerName, a.CallerNumber
	}
	if e.callerName == "" && e.callerNumber == "" {
		e.callerName, e.callerNumber = user, user
	}
	e.onDial = a.OnDial
	if e.contact != "" {
		return
	}
	e.contact = "sip:" + user + "@127.0.0.1:5091"
	s.device(e.device(), "NOT_INUSE")
	s.contactEvents(e, "Reachable", "NonQualified")
}

// Unregister removes the endpoint's contact (REGISTER with Expires: 0).
func (s *Server) Unregister(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.endpoints["PJSIP/"+user]
	if e == nil || e.contact == "" {
		return
	}
	s.contactEvents(e, "Unreachable", "Removed")
	e.contact = ""
	s.deviceIdle(e)
}

func (s *Server) contactEvents(e *endpoint, peer, status string) {
	ep := s.endpointJSON(e)
	if status == "Removed" {
		ep = ep.with("state", "offline")
	}
	s.emit(s.event("PeerStatusChange", kv{"endpoint", ep}, kv{"peer", obj{{"peer_status", peer}}}), subject{})
	s.emit(s.event("ContactStatusChange", kv{"endpoint", ep}, kv{"contact_info", obj{{"uri", e.contact},
		{"contact_status", status}, {"aor", e.resource}, {"roundtrip_usec", "0"}}}), subject{})
}

// Trunk adds a carrier trunk endpoint: legs dialled as
// PJSIP/<number>@<name> go to it, and onDial plays the far end.
func (s *Server) Trunk(name string, onDial func(*Leg)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := "PJSIP/" + name
	e := s.endpoints[key]
	if e == nil {
		e = &endpoint{tech: "PJSIP", resource: name, context: "from-trunk", trunk: true}
		s.endpoints[key] = e
	}
	e.onDial = onDial
}

// --- inbound callers ---

// Inbound is a call arriving from the trunk into the captured dialplan.
type Inbound struct {
	Name, Number string // the caller id Asterisk takes from From or PAI
	Exten        string // default Options.HotlineExten
	// Privacy makes the call as the pai_privacy capture: From anonymous,
	// P-Asserted-Identity with the caller, Privacy: id; CALLERID(pres)
	// reads prohib_not_screened.
	Privacy bool
	// ID, Name and ProtocolID override the channel's id, the name's
	// counter and the SIP Call-ID (the replay test uses the captured ones).
	ID, ChannelName, ProtocolID string
	Headers                     map[string]string
	App                         string // default "hotline"
}

// ErrNotRegistered is returned by Call when no WebSocket is connected
// for the application: Stasis() fails and the dialplan hangs up.
var ErrNotRegistered = errors.New("aritest: Stasis application not registered")

// Caller is the far end of an inbound call, as the test drives it.
type Caller struct {
	s       *Server
	id      string
	c       *channel
	media   []string
	changed chan struct{} // closed when media is added
	// stasisAt is when StasisStart was sent; firstLeg when the first
	// channel was created with this caller as its originator.
	stasisAt, firstLeg time.Time
}

// FirstLeg is the time from the caller's StasisStart to the first channel
// the application created for it (POST /channels/create or /channels with
// originator set to the caller), or 0 if none was.
func (c *Caller) FirstLeg() time.Duration {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.firstLeg.IsZero() {
		return 0
	}
	return c.firstLeg.Sub(c.stasisAt)
}

// Call places an inbound call: ChannelCreated, the dialplan, StasisStart.
func (s *Server) Call(in Inbound) (*Caller, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.Exten == "" {
		in.Exten = s.opts.HotlineExten
	}
	if in.App == "" {
		in.App = "hotline"
	}
	name := in.ChannelName
	if name == "" {
		name = s.nextName("PJSIP/trunk")
	}
	c := s.newChannel(in.ID, name)
	c.state, c.inbound = "Ring", true
	c.callerName, c.callerNum = in.Name, in.Number
	c.context, c.exten = "from-trunk", in.Exten
	c.ep = s.endpoints["PJSIP/trunk"]
	c.remoteAddr = "127.0.0.1:5090"
	protocolID := in.ProtocolID
	if protocolID == "" {
		protocolID = fmt.Sprintf("%d-%d@127.0.0.1", s.seq, 6000+s.seq)
	}
	from := fmt.Sprintf("%q <sip:%s@127.0.0.1>;tag=%dSIPpTag001", in.Name, in.Number, s.seq)
	if in.Name == "" {
		from = fmt.Sprintf("<sip:%s@127.0.0.1>;tag=%dSIPpTag001", in.Number, s.seq)
	}
	if in.Privacy {
		from = fmt.Sprintf(`"Anonymous" <sip:anonymous@127.0.0.1>;tag=%dSIPpTag001`, s.seq)
		c.headers["p-asserted-identity"] = fmt.Sprintf("%q <sip:%s@127.0.0.1>", in.Name, in.Number)
		c.headers["privacy"] = "id"
		c.pres = "prohib_not_screened"
	}
	c.headers["from"] = from
	for k, v := range in.Headers {
		c.headers[strings.ToLower(k)] = v
	}
	s.chanEvent("ChannelCreated", c)
	c.protocolID = protocolID
	c.vars["SIPDOMAIN"] = "127.0.0.1"
	s.varset(c, "SIPDOMAIN", "127.0.0.1")
	cl := &Caller{s: s, id: c.id, c: c, changed: make(chan struct{})}
	c.caller = cl
	cl.stasisAt = time.Now()
	if !s.runInbound(c, in.App) {
		// The dialplan goes on to Hangup().
		s.end(c, hangupHow{noFirst: true, cause: 16})
		return nil, ErrNotRegistered
	}
	return cl, nil
}

// ID is the caller's channel id.
func (c *Caller) ID() string { return c.id }

// ProtocolID is the caller's SIP Call-ID.
func (c *Caller) ProtocolID() string { return c.c.protocolID }

// Done is closed when the caller's channel is destroyed.
func (c *Caller) Done() <-chan struct{} { return c.c.done }

// State is the channel's state ("Ring", "Up"), or "" once destroyed.
func (c *Caller) State() string {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.c.gone {
		return ""
	}
	return c.c.state
}

// Bridged reports the id of the bridge the caller is in.
func (c *Caller) Bridged() string {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.c.bridge
}

// DTMF presses keys (RFC 4733, 280 ms each), once the call is answered.
func (c *Caller) DTMF(digits string) {
	for _, d := range digits {
		c.Press(string(d), 280)
	}
}

// Press presses one key for durationMS (280 for sipp's RFC 4733 packets,
// 160 for SIP INFO).
func (c *Caller) Press(digit string, durationMS int) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.c.gone || c.c.state != "Up" {
		return
	}
	c.s.chanEvent("ChannelDtmfReceived", c.c, kv{"digit", digit}, kv{"duration_ms", durationMS})
}

// Hangup ends the call from the caller's side: a CANCEL before the
// answer, a BYE after it, with the events and causes the captures show.
func (c *Caller) Hangup() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.c.gone {
		return
	}
	if c.c.state != "Up" {
		c.s.end(c.c, hangupHow{first: []kv{{"cause", 127}, {"tech_cause", 487}}, secondTech: 487, cause: 127, techCause: 487})
		return
	}
	c.s.end(c.c, hangupHow{first: nil, cause: 0})
}

// --- outbound legs ---

// Leg is the far end of a channel the application dialled: an agent's
// phone or a mobile behind the trunk.
type Leg struct {
	s *Server
	c *channel
	// What the INVITE carried.
	ID, Endpoint, Dialstring string
	CallerName, CallerNumber string
	Presentation             string
	Headers                  map[string]string
}

// Done is closed when the leg's channel is destroyed.
func (l *Leg) Done() <-chan struct{} { return l.c.done }

// Ring answers 180 Ringing.
func (l *Leg) Ring() {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	c := l.c
	if c.gone || !c.dialing || c.state == "Ringing" {
		return
	}
	l.s.dialEvent(c, "RINGING", "")
	l.s.setState(c, "Ringing")
	l.s.device(c.ep.device(), "RINGING")
}

// Answer answers 200 OK. It reports false when the leg was already gone
// (the application hung it up first).
func (l *Leg) Answer() bool {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	c := l.c
	if c.gone || !c.dialing {
		return false
	}
	c.dialing, c.answered = false, true
	l.s.setState(c, "Up")
	l.s.device(c.ep.device(), "INUSE")
	l.s.dialEvent(c, "ANSWER", "")
	if !c.inStasis && c.app != "" {
		l.s.enterStasis(c, c.app, c.originArgs)
	}
	return true
}

// Busy answers 486 Busy Here.
func (l *Leg) Busy() {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	l.s.end(l.c, hangupHow{dialStatus: "BUSY", first: []kv{{"cause", 17}, {"tech_cause", 486}}, secondTech: 486, cause: 17, techCause: 486})
}

// Decline answers 603 Decline.
func (l *Leg) Decline() {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	l.s.end(l.c, hangupHow{dialStatus: "BUSY", first: []kv{{"cause", 21}, {"tech_cause", 603}}, secondTech: 603, cause: 21, techCause: 603})
}

// Hangup sends BYE (after the answer) or declines (before it).
func (l *Leg) Hangup() {
	l.s.mu.Lock()
	c := l.c
	answered := c.answered
	if answered {
		l.s.end(c, hangupHow{first: nil, cause: 0})
	}
	l.s.mu.Unlock()
	if !answered {
		l.Decline()
	}
}

func (s *Server) dialEvent(c *channel, status, dialstring string) {
	s.emit(s.event("Dial", kv{"dialstatus", status}, kv{"forward", ""}, kv{"dialstring", dialstring}, kv{"peer", c.json()}), c.subj())
}

// resolve finds the endpoint of a dial string: PJSIP/agent1, or
// PJSIP/<number>@<trunk>.
func (s *Server) resolve(dial string) (*endpoint, string, bool) {
	tech, rest, ok := strings.Cut(dial, "/")
	if !ok || rest == "" {
		return nil, "", false
	}
	name := rest
	if _, ep, at := strings.Cut(rest, "@"); at {
		name = ep
	}
	e := s.endpoints[tech+"/"+name]
	if e == nil || (!e.trunk && e.contact == "") {
		return nil, "", false
	}
	return e, rest, true
}

// create is POST /channels/create: the channel is made and enters the
// application at once; Dial dials it.
func (s *Server) create(r req) reply {
	if r.get("endpoint") == "" {
		return fail(http.StatusBadRequest, "Endpoint must be specified")
	}
	if r.get("app") == "" {
		return fail(http.StatusBadRequest, "Application must be specified")
	}
	c, bad := s.newLeg(r)
	if bad != nil {
		return *bad
	}
	snap := c.json()
	var args []string
	if a := r.get("appArgs"); a != "" {
		args = strings.Split(a, ",")
	}
	s.enterStasis(c, r.get("app"), args)
	return ok(snap)
}

// newLeg makes an outbound channel with its variables applied.
func (s *Server) newLeg(r req) (*channel, *reply) {
	e, dialstring, found := s.resolve(r.get("endpoint"))
	if !found {
		rep := reply{status: http.StatusInternalServerError, body: obj{{"error", "Allocation failed"}}}
		return nil, &rep
	}
	id := r.get("channelId")
	if id != "" && s.channels[id] != nil {
		rep := fail(http.StatusConflict, "Channel with given unique ID already exists")
		return nil, &rep
	}
	if orig := s.channels[r.get("originator")]; orig != nil && orig.caller != nil && orig.caller.firstLeg.IsZero() {
		orig.caller.firstLeg = time.Now()
	}
	c := s.newChannel(id, s.nextName(e.device()))
	c.ep, c.dialstring = e, dialstring
	c.callerName, c.callerNum = e.callerName, e.callerNumber
	c.context, c.exten = e.context, "s"
	s.chanEvent("ChannelCreated", c)
	c.protocolID = uuid()
	if cid := r.get("callerId"); cid != "" {
		name, num := parseCallerID(cid)
		s.writeVar(c, "CALLERID(name)", name)
		s.writeVar(c, "CALLERID(num)", num)
	}
	keys := make([]string, 0, len(r.vars))
	for k := range r.vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s.writeVar(c, k, r.vars[k])
	}
	return c, nil
}

// parseCallerID reads `"Name" <number>` or `Name <number>`.
func parseCallerID(s string) (name, number string) {
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		return strings.Trim(strings.TrimSpace(s[:i]), `"`), s[i+1 : len(s)-1]
	}
	return "", s
}

// originate is POST /channels: make and dial at once; with app, the
// channel enters the application when answered.
func (s *Server) originate(r req) reply {
	if r.get("endpoint") == "" {
		return fail(http.StatusBadRequest, "Endpoint must be specified")
	}
	if r.get("app") == "" && r.get("extension") == "" {
		return fail(http.StatusBadRequest, "Application or extension must be specified")
	}
	c, bad := s.newLeg(r)
	if bad != nil {
		return *bad
	}
	c.app = r.get("app")
	if a := r.get("appArgs"); a != "" {
		c.originArgs = strings.Split(a, ",")
	}
	timeout, _ := strconv.Atoi(r.get("timeout"))
	if timeout <= 0 {
		timeout = 30
	}
	snap := c.json()
	s.startDial(c, nil, timeout)
	return ok(snap)
}

func (s *Server) dial(r req) reply {
	c := s.channels[r.params[0]]
	if c == nil || c.gone {
		return fail(http.StatusNotFound, "Channel not found")
	}
	if c.dialed || c.inbound || c.ep == nil {
		return fail(http.StatusConflict, "Channel cannot be dialed.")
	}
	var caller *channel
	if id := r.get("caller"); id != "" {
		caller = s.channels[id]
	}
	timeout, _ := strconv.Atoi(r.get("timeout"))
	s.startDial(c, caller, timeout)
	return noContent()
}

func (s *Server) startDial(c *channel, caller *channel, timeoutSeconds int) {
	c.dialed, c.dialing = true, true
	if caller != nil && (c.connName != caller.callerName || c.connNum != caller.callerNum) {
		c.connName, c.connNum = caller.callerName, caller.callerNum
		s.chanEvent("ChannelConnectedLine", c)
	}
	s.dialEvent(c, "", c.dialstring)
	leg := &Leg{s: s, c: c, ID: c.id, Endpoint: c.ep.device(), Dialstring: c.dialstring,
		CallerName: c.callerName, CallerNumber: c.callerNum, Presentation: c.pres, Headers: map[string]string{}}
	for k, v := range c.addHeaders {
		leg.Headers[k] = v
	}
	c.leg = leg
	if timeoutSeconds > 0 {
		s.after(time.Duration(timeoutSeconds)*time.Second, func() {
			if c.dialing && !c.gone {
				s.end(c, hangupHow{dialStatus: "NOANSWER", first: []kv{{"cause", 19}}, cause: 19})
			}
		})
	}
	if f := c.ep.onDial; f != nil {
		go f(leg)
	}
}

// heard notes media played to the caller. Called with the lock held.
func (c *Caller) heard(q map[string][]string) {
	m := q["media"]
	if len(m) == 0 {
		return
	}
	c.media = append(c.media, strings.Split(m[len(m)-1], ",")...)
	close(c.changed)
	c.changed = make(chan struct{})
}

// WaitHeard waits until the caller has heard media whose URI starts
// with prefix (a prompt, "digits:") and returns that URI, or "" when the
// call ended or the timeout passed first.
func (c *Caller) WaitHeard(prefix string, timeout time.Duration) string {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.s.mu.Lock()
		for _, m := range c.media {
			if strings.HasPrefix(m, prefix) {
				c.s.mu.Unlock()
				return m
			}
		}
		changed := c.changed
		c.s.mu.Unlock()
		select {
		case <-changed:
		case <-c.c.done:
			return ""
		case <-deadline.C:
			return ""
		}
	}
}

// Heard lists the media URIs played to the caller, on its channel or on a
// bridge it was in, in order.
func (c *Caller) Heard() []string {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return append([]string(nil), c.media...)
}
