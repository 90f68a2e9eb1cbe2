package aritest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hotline-desk/hotline/internal/testenv"
)

// The replay test holds the simulator to the captures of a real Asterisk
// 22.10.1 (../shared/asterisk/scenarios): it plays each scenario's far
// ends (callers, the agent's phone) at the moments the capture shows,
// sends the captured REST requests, and checks
//   - each answer's status, headers and body: the same keys in the same
//     order, the same JSON types, the same values, except those that
//     cannot be equal (times, generated ids), which must have Asterisk's
//     format;
//   - the events: per object (channel, bridge, playback, recording,
//     device, endpoint), the same sequence of events, each with the same
//     keys in the same order, types, values and formats, including the
//     exact repeats Asterisk sends.

// replayed lists the scenarios the simulator models; the others are not
// simulated: fax_local runs SendFax/ReceiveFax in the dialplan, and
// originate_local originates Local channels that run dialplan apps.
var replayed = []string{
	"rest_basics", "hello_playback_utf8", "ascii_callerid", "no_display_name", "pai_privacy",
	"sipp_builtin_uac", "dtmf", "record", "caller_hangup", "caller_cancel", "reject_busy",
	"hold_moh_snoop_continue", "redirect_refer", "bridge_agent",
}

// unsimulated REST resources: static Asterisk facts (modules, logging,
// sounds, mailboxes, pjsip's dynamic config, the API docs) and the device
// state list (it holds states left by earlier runs). Their requests are
// skipped, and counted.
var unsimulated = regexp.MustCompile(`^/(asterisk/modules|asterisk/logging|sounds|mailboxes|asterisk/config/dynamic|api-docs)(/|$)|^/deviceStates$`)

// notModeled says which captured events the simulator does not produce:
// media-plane and bridge-internal variables, and the device states of
// Asterisk's internal announcer, recorder, snoop and Local channels.
func notModeled(ev map[string]any) bool {
	switch ev["type"] {
	case "ChannelVarset":
		v, _ := ev["variable"].(string)
		return strings.HasPrefix(v, "RTPAUDIOQOS") || strings.HasPrefix(v, "BRIDGEPEER") ||
			strings.HasPrefix(v, "BRIDGEPVTCALLID") || v == "PLAYBACKSTATUS" || strings.HasPrefix(v, "FAX")
	case "DeviceStateChanged":
		name, _ := ev["device_state"].(map[string]any)["name"].(string)
		return !strings.HasPrefix(name, "PJSIP/") && !strings.HasPrefix(name, "Stasis:")
	}
	return false
}

type captured struct {
	ReceivedAt time.Time       `json:"received_at"`
	Seq        int             `json:"seq"`
	Event      json.RawMessage `json:"event"`
}

type exchange struct {
	Seq            int                 `json:"seq"`
	StartedAt      time.Time           `json:"started_at"`
	Method         string              `json:"method"`
	URL            string              `json:"url"`
	Path           string              `json:"path"`
	Query          map[string][]string `json:"query"`
	Auth           string              `json:"auth"`
	RequestBody    json.RawMessage     `json:"request_body"`
	Status         int                 `json:"status"`
	RespHeaders    map[string]string   `json:"response_headers"`
	ResponseBody   json.RawMessage     `json:"response_body"`
	ResponseSaved  string              `json:"response_saved_to"`
	ResponseText   string              `json:"response_text"`
	ResponseLength int                 `json:"response_bytes"`
}

func readLines[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, v)
	}
	return out
}

// decodeOrdered parses JSON keeping object key order (as []member).
type member struct {
	k string
	v any
}

func decodeOrdered(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch d := tok.(type) {
	case json.Delim:
		switch d {
		case '{':
			var obj []member
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				obj = append(obj, member{kt.(string), v})
			}
			_, err := dec.Token()
			if obj == nil {
				obj = []member{}
			}
			return obj, err
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
	}
	return tok, nil
}

func lookup(v any, key string) any {
	if obj, ok := v.([]member); ok {
		for _, m := range obj {
			if m.k == key {
				return m.v
			}
		}
	}
	return nil
}

func str(v any) string { s, _ := v.(string); return s }

var (
	timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$`)
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	nameRE = regexp.MustCompile(`^((?:PJSIP|Snoop)/.+)-[0-9a-f]{8}$`)
)

// comparer compares captured (want) and simulated (got) JSON values.
type comparer struct {
	uuids map[string]string // captured generated id → the simulator's
}

// volatile paths: values that depend on the machine or the clock, held to
// their type only.
var volatile = map[string]bool{
	"build.kernel": true, "build.date": true, "recording.duration": true,
}

func (c *comparer) compare(path string, want, got any, diffs *[]string) {
	add := func(format string, args ...any) {
		*diffs = append(*diffs, fmt.Sprintf("%s: ", path)+fmt.Sprintf(format, args...))
	}
	switch w := want.(type) {
	case []member:
		g, ok := got.([]member)
		if !ok {
			add("want an object, got %T", got)
			return
		}
		var wk, gk []string
		for _, m := range w {
			wk = append(wk, m.k)
		}
		for _, m := range g {
			gk = append(gk, m.k)
		}
		if !slices.Equal(wk, gk) {
			add("keys %v, want %v", gk, wk)
			return
		}
		for i := range w {
			c.compare(join(path, w[i].k), w[i].v, g[i].v, diffs)
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			add("want an array, got %T", got)
			return
		}
		if len(g) != len(w) {
			add("%d elements, want %d", len(g), len(w))
			return
		}
		// Lists of objects with ids (GET /channels) come in Asterisk's
		// container order, which means nothing: compare them by id.
		if len(w) > 1 && str(lookup(w[0], "id")) != "" {
			byID := func(xs []any) []any {
				ys := slices.Clone(xs)
				sort.Slice(ys, func(i, j int) bool { return str(lookup(ys[i], "id")) < str(lookup(ys[j], "id")) })
				return ys
			}
			w, g = byID(w), byID(g)
		}
		for i := range w {
			c.compare(path+"[]", w[i], g[i], diffs)
		}
	case string:
		g, ok := got.(string)
		if !ok {
			add("want a string, got %T %v", got, got)
			return
		}
		c.compareString(path, w, g, add)
	case json.Number:
		g, ok := got.(json.Number)
		if !ok {
			add("want a number, got %T %v", got, got)
			return
		}
		if !volatile[lastTwo(path)] && g != w {
			add("%s, want %s", g, w)
		}
	case bool:
		if g, ok := got.(bool); !ok || g != w {
			add("%v, want %v", got, w)
		}
	case nil:
		if got != nil {
			add("%v, want null", got)
		}
	}
}

func (c *comparer) compareString(path, w, g string, add func(string, ...any)) {
	switch {
	case w == g:
	case volatile[lastTwo(path)]:
	case timeRE.MatchString(w):
		if !timeRE.MatchString(g) {
			add("%q is not in Asterisk's time format (like %q)", g, w)
		}
	case uuidRE.MatchString(w):
		if !uuidRE.MatchString(g) {
			add("%q is not a generated id like %q", g, w)
		} else if prev, seen := c.uuids[w]; seen && prev != g {
			add("%q, want the same id as before (%q)", g, prev)
		} else {
			c.uuids[w] = g
		}
	case nameRE.MatchString(w):
		// Channel names carry Asterisk's running counter.
		if nameRE.FindStringSubmatch(g) == nil || nameRE.FindStringSubmatch(g)[1] != nameRE.FindStringSubmatch(w)[1] {
			add("%q, want a name like %q", g, w)
		}
	case strings.HasSuffix(path, "state") && (w == "queued" || w == "playing") && (g == "queued" || g == "playing"):
		// A playback just started reads queued or playing: the
		// captures show both.
	default:
		add("%q, want %q", g, w)
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func lastTwo(path string) string {
	parts := strings.Split(strings.ReplaceAll(path, "[]", ""), ".")
	if len(parts) < 2 {
		return path
	}
	return parts[len(parts)-2] + "." + parts[len(parts)-1]
}

// subjectKey says which object an event is about, for per-object order.
func subjectKey(ev any) string {
	for _, k := range []string{"channel", "peer"} {
		if id := str(lookup(lookup(ev, k), "id")); id != "" {
			return "channel:" + id
		}
	}
	if id := str(lookup(lookup(ev, "playback"), "id")); id != "" {
		return "playback"
	}
	if n := str(lookup(lookup(ev, "recording"), "name")); n != "" {
		return "recording:" + n
	}
	if id := str(lookup(lookup(ev, "bridge"), "id")); id != "" {
		return "bridge:" + id
	}
	if n := str(lookup(lookup(ev, "device_state"), "name")); n != "" {
		return "device:" + n
	}
	if r := str(lookup(lookup(ev, "endpoint"), "resource")); r != "" {
		return "endpoint:" + r
	}
	return "global"
}

// listener is the replay's events WebSocket: raw frames, repeats kept.
type listener struct {
	mu     sync.Mutex
	frames [][]byte
	sig    chan struct{}
}

func listen(t *testing.T, s *Server) *listener {
	t.Helper()
	l := &listener{sig: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	h := http.Header{}
	h.Set("Authorization", "Basic aG90bGluZTpob3RsaW5l") // hotline:hotline
	u := strings.Replace(s.URL(), "http://", "ws://", 1) + "/events?app=hotline&subscribeAll=true"
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Protocol") != "" {
		t.Errorf("upgrade: %d, protocol %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	conn.SetReadLimit(16 << 20)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			typ, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if typ != websocket.MessageText {
				t.Errorf("a %v frame; Asterisk sends text frames", typ)
			}
			l.mu.Lock()
			l.frames = append(l.frames, b)
			l.mu.Unlock()
			select {
			case l.sig <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { cancel(); conn.CloseNow(); <-done })
	for !s.Connected("hotline") {
		time.Sleep(time.Millisecond)
	}
	return l
}

// events parses what arrived so far.
func (l *listener) events(t *testing.T) []any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []any
	for _, f := range l.frames {
		v, err := decodeOrdered(f)
		if err != nil {
			t.Fatalf("frame %s: %v", f, err)
		}
		out = append(out, v)
	}
	return out
}

// settle waits until no frame arrived for quiet.
func (l *listener) settle(quiet time.Duration) {
	for {
		select {
		case <-l.sig:
		case <-time.After(quiet):
			return
		}
	}
}

// step is one moment of a scenario: a REST exchange or an event.
type step struct {
	at   time.Time
	rest *exchange
	ev   *captured
}

// replayMedia plays long enough for the captured GETs of playing media.
func replayMedia(uri string) time.Duration {
	if uri == "sound:demo-congrats" {
		return 30 * time.Second
	}
	// Long enough for a captured GET of a playing playback to find it
	// playing on a loaded machine; the replay waits for its end anyway.
	return 600 * time.Millisecond
}

// TestReplayCaptures replays every modelled scenario.
func TestReplayCaptures(t *testing.T) {
	dir := testenv.Shared(t, "asterisk/scenarios")
	for _, name := range replayed {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, d := range replay(t, dir, name, nil) {
				t.Error(d)
			}
		})
	}
}

// replay runs one scenario against a fresh simulator and returns the
// differences. mutate, when set, is the simulator's event hook.
func replay(t *testing.T, dir, name string, mutate func(obj) obj) []string {
	evs := readLines[captured](t, filepath.Join(dir, name+".events.jsonl"))
	rest := readLines[exchange](t, filepath.Join(dir, name+".rest.jsonl"))
	s, err := New(Options{MediaDuration: replayMedia})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.mutate = mutate
	// State an earlier run of the capturing Asterisk left behind: a
	// device state, and the zombie channel of redirect_refer, which the
	// capture of bridge_agent still lists.
	s.devices["Stasis:hotline-agent1"] = "NOT_INUSE"
	if name == "bridge_agent" {
		z := s.newChannel("1795747122.14", "PJSIP/trunk-0000000d")
		z.state, z.inbound, z.zombie, z.protocolID = "Up", true, true, "1-7540@127.0.0.1"
		z.callerName, z.callerNum = "Refer Tester", "13800138005"
		z.context, z.exten, z.priority, z.appName, z.appData = "from-trunk", "4001161016", 2, "Stasis", "hotline"
		z.created, _ = time.Parse("2006-01-02T15:04:05.000-0700", "2026-11-27T02:38:42.318+0000")
	}
	lis := listen(t, s)

	var steps []step
	for i := range rest {
		steps = append(steps, step{at: rest[i].StartedAt, rest: &rest[i]})
	}
	for i := range evs {
		steps = append(steps, step{at: evs[i].ReceivedAt, ev: &evs[i]})
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].at.Before(steps[j].at) })

	var want []any
	var diffs []string
	cmp := &comparer{uuids: map[string]string{}}
	callers := map[string]*Caller{}
	legs := map[string]*Leg{}
	var legMu sync.Mutex
	deleted := map[string]bool{}
	skipped := 0
	hc := &http.Client{Timeout: 10 * time.Second}

	for i, st := range steps {
		if st.ev != nil {
			ev, err := decodeOrdered(st.ev.Event)
			if err != nil {
				t.Fatal(err)
			}
			var plain map[string]any
			json.Unmarshal(st.ev.Event, &plain)
			if notModeled(plain) {
				continue
			}
			want = append(want, ev)
			trigger(t, s, ev, steps[i+1:], callers, legs, &legMu, deleted)
			continue
		}
		x := st.rest
		if unsimulated.MatchString(x.Path) {
			skipped++
			continue
		}
		// The captured order: what happened before this request has
		// happened here too.
		waitFor(lis, t, want, 5*time.Second)
		if x.Method == http.MethodDelete && strings.HasPrefix(x.Path, "/channels/") {
			deleted[strings.TrimPrefix(x.Path, "/channels/")] = true
		}
		diffs = append(diffs, doREST(t, hc, s, cmp, x)...)
	}
	waitFor(lis, t, want, 5*time.Second)
	lis.settle(300 * time.Millisecond)
	got := lis.events(t)
	var kept []any
	for _, ev := range got {
		b, _ := json.Marshal(toPlain(ev))
		var plain map[string]any
		json.Unmarshal(b, &plain)
		if !notModeled(plain) {
			kept = append(kept, ev)
		}
	}
	diffs = append(diffs, compareEvents(cmp, want, kept)...)
	t.Logf("%s: %d REST exchanges (%d not simulated), %d events compared", name, len(rest), skipped, len(want))
	return diffs
}

func toPlain(v any) any {
	switch x := v.(type) {
	case []member:
		m := map[string]any{}
		for _, e := range x {
			m[e.k] = toPlain(e.v)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = toPlain(x[i])
		}
		return out
	}
	return v
}

// waitFor waits until the simulator has sent, per object, at least as
// many events as the capture shows so far.
func waitFor(l *listener, t *testing.T, want []any, d time.Duration) {
	need := map[string]int{}
	for _, ev := range want {
		need[subjectKey(ev)]++
	}
	deadline := time.Now().Add(d)
	for {
		have := map[string]int{}
		for _, ev := range l.events(t) {
			have[subjectKey(ev)]++
		}
		ok := true
		for k, n := range need {
			if have[k] < n {
				ok = false
			}
		}
		if ok || time.Now().After(deadline) {
			return
		}
		select {
		case <-l.sig:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// trigger plays the far end an event stands for: a call arriving, a
// caller's key or hang-up, the agent registering, ringing, answering.
func trigger(t *testing.T, s *Server, ev any, later []step, callers map[string]*Caller, legs map[string]*Leg, legMu *sync.Mutex, deleted map[string]bool) {
	typ := str(lookup(ev, "type"))
	ch := lookup(ev, "channel")
	id := str(lookup(ch, "id"))
	name := str(lookup(ch, "name"))
	switch {
	case typ == "ChannelCreated" && strings.HasPrefix(name, "PJSIP/trunk-"):
		in := Inbound{ID: id, ChannelName: name, Name: str(lookup(lookup(ch, "caller"), "name")),
			Number: str(lookup(lookup(ch, "caller"), "number")), Exten: str(lookup(lookup(ch, "dialplan"), "exten")),
			Headers: map[string]string{}}
		// What the rest of the capture reads of this call.
		for _, st := range later {
			if st.ev != nil && in.ProtocolID == "" {
				e, _ := decodeOrdered(st.ev.Event)
				if c := lookup(e, "channel"); str(lookup(c, "id")) == id && str(lookup(c, "protocol_id")) != "" {
					in.ProtocolID = str(lookup(c, "protocol_id"))
				}
			}
			x := st.rest
			if x == nil || x.Path != "/channels/"+id+"/variable" || x.Method != "GET" || x.Status != 200 {
				continue
			}
			var v struct{ Value string }
			json.Unmarshal(x.ResponseBody, &v)
			variable := x.Query["variable"][0]
			if h, ok := strings.CutPrefix(variable, "PJSIP_HEADER(read,"); ok {
				in.Headers[strings.TrimSuffix(h, ")")] = v.Value
			}
			if variable == "CALLERID(pres)" && strings.HasPrefix(v.Value, "prohib") {
				in.Privacy = true
			}
		}
		c, err := s.Call(in)
		if err != nil {
			t.Fatalf("call %s: %v", id, err)
		}
		callers[id] = c
	case typ == "ChannelHangupRequest" && callers[id] != nil && !deleted[id] && lookup(ev, "soft") == nil:
		callers[id].Hangup()
	case typ == "ChannelDtmfReceived" && callers[id] != nil:
		n, _ := lookup(ev, "duration_ms").(json.Number).Int64()
		callers[id].Press(str(lookup(ev, "digit")), int(n))
	case typ == "PeerStatusChange":
		res := str(lookup(lookup(ev, "endpoint"), "resource"))
		if str(lookup(lookup(ev, "peer"), "peer_status")) == "Reachable" {
			s.Register(res, Agent{OnDial: func(l *Leg) {
				legMu.Lock()
				legs[l.ID] = l
				legMu.Unlock()
			}})
		} else {
			s.Unregister(res)
		}
	case typ == "Dial" && str(lookup(ev, "dialstatus")) == "RINGING":
		if l := waitLeg(legs, legMu, str(lookup(lookup(ev, "peer"), "id"))); l != nil {
			l.Ring()
		}
	case typ == "ChannelStateChange" && str(lookup(ch, "state")) == "Up" && !strings.HasPrefix(name, "PJSIP/trunk-"):
		if l := waitLeg(legs, legMu, id); l != nil {
			l.Answer()
		}
	}
}

func waitLeg(legs map[string]*Leg, mu *sync.Mutex, id string) *Leg {
	for range 200 {
		mu.Lock()
		l := legs[id]
		mu.Unlock()
		if l != nil {
			return l
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// doREST sends a captured request to the simulator and compares answers.
func doREST(t *testing.T, hc *http.Client, s *Server, cmp *comparer, x *exchange) []string {
	u := strings.Replace(x.URL, "http://127.0.0.1:8088/ari", s.URL(), 1)
	var body io.Reader
	if len(x.RequestBody) > 0 {
		body = bytes.NewReader(x.RequestBody)
	}
	req, err := http.NewRequest(x.Method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case x.Auth == "none":
	case strings.Contains(x.Auth, "wrong password"):
		req.SetBasicAuth("hotline", "wrong")
	default:
		req.SetBasicAuth("hotline", "hotline")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	where := fmt.Sprintf("REST #%d %s %s", x.Seq, x.Method, x.Path)
	var diffs []string
	if resp.StatusCode != x.Status {
		return []string{fmt.Sprintf("%s: status %d, want %d (%s)", where, resp.StatusCode, x.Status, got)}
	}
	for _, h := range []string{"Content-Type", "Server", "Cache-Control"} {
		if w := x.RespHeaders[h]; w != "" && resp.Header.Get(h) != w {
			diffs = append(diffs, fmt.Sprintf("%s: header %s %q, want %q", where, h, resp.Header.Get(h), w))
		}
	}
	switch {
	case x.Status == http.StatusNoContent:
		if len(got) != 0 {
			diffs = append(diffs, fmt.Sprintf("%s: a 204 with a body", where))
		}
	case len(x.ResponseBody) > 0:
		want, _ := decodeOrdered(x.ResponseBody)
		g, err := decodeOrdered(got)
		if err != nil {
			return append(diffs, fmt.Sprintf("%s: body %q: %v", where, got, err))
		}
		var d []string
		cmp.compare("", want, g, &d)
		for _, e := range d {
			diffs = append(diffs, where+": "+e)
		}
		if bytes.Contains(got, []byte(`\u`)) {
			diffs = append(diffs, where+": \\u escapes in the body; Asterisk sends raw UTF-8")
		}
	case strings.HasSuffix(x.Path, "/file"):
		if !bytes.HasPrefix(got, []byte("RIFF")) || !bytes.Equal(got[8:12], []byte("WAVE")) {
			diffs = append(diffs, where+": not a WAV file")
		}
	}
	return diffs
}

// compareEvents compares the events per object, in order.
func compareEvents(cmp *comparer, want, got []any) []string {
	group := func(evs []any) (map[string][]any, []string) {
		m := map[string][]any{}
		var keys []string
		for _, ev := range evs {
			k := subjectKey(ev)
			if _, ok := m[k]; !ok {
				keys = append(keys, k)
			}
			m[k] = append(m[k], ev)
		}
		return m, keys
	}
	wm, wkeys := group(want)
	gm, gkeys := group(got)
	var diffs []string
	for _, k := range gkeys {
		if _, ok := wm[k]; !ok && !strings.HasPrefix(k, "device:") {
			diffs = append(diffs, fmt.Sprintf("events of %s: %d, the capture has none (first: %s)", k, len(gm[k]), brief(gm[k][0])))
		}
	}
	for _, k := range wkeys {
		w, g := wm[k], gm[k]
		if strings.HasPrefix(k, "device:") {
			// Asterisk computes device states asynchronously and
			// coalesces them: what it sent must be among what the
			// simulator sends, in order.
			g = subsequence(cmp, w, g)
		}
		if len(w) != len(g) {
			diffs = append(diffs, fmt.Sprintf("events of %s: %v, want %v", k, types(g), types(w)))
			continue
		}
		for i := range w {
			var d []string
			cmp.compare(str(lookup(w[i], "type")), w[i], g[i], &d)
			for _, e := range d {
				diffs = append(diffs, fmt.Sprintf("event %d of %s: %s", i+1, k, e))
			}
		}
	}
	return diffs
}

func types(evs []any) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, str(lookup(ev, "type")))
	}
	return out
}

func brief(ev any) string {
	b, _ := json.Marshal(toPlain(ev))
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// subsequence picks from got, in order, the events that match want's.
func subsequence(cmp *comparer, want, got []any) []any {
	var out []any
	j := 0
	for _, w := range want {
		for j < len(got) {
			g := got[j]
			j++
			var d []string
			cmp.compare("", w, g, &d)
			if len(d) == 0 {
				out = append(out, g)
				break
			}
		}
	}
	return out
}
