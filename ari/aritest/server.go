// Package aritest is an ARI simulator: an HTTP server that answers ARI REST
// calls and serves the events WebSocket the way a real Asterisk 22.10.1
// does, as captured in ../shared/asterisk/scenarios. Tests and the bench
// drive it as the far ends of calls would: a caller dials in, presses keys
// and hangs up; an agent's phone rings and answers.
//
// It models what the captures show of channels (PJSIP inbound and
// outbound, snoop), bridges, playbacks, live and stored recordings,
// endpoints, channel and global variables, and the events that follow
// each, with the same field names, key order and value formats; the
// replay test in this package holds it to the captures. It does not run a
// dialplan beyond the Stasis entry of the captured extensions.conf, and no
// media: playbacks and recordings take the time Options.MediaDuration
// says, and recordings are silent WAV files of the right length.
package aritest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Options configure a simulator. The zero value matches the captures.
type Options struct {
	User, Password string // default hotline / hotline
	AsteriskID     string // default 02:fc:00:00:00:01
	// HotlineExten is the number that runs plain Stasis(app) in the
	// from-trunk context; any other number runs Stasis(app,inbound,EXTEN).
	// Default 4001161016, as in the captured extensions.conf.
	HotlineExten string
	// MediaDuration is how long one media item plays (default: 20 ms per
	// sound, 10 ms per digit or number).
	MediaDuration func(uri string) time.Duration
	// QueueLen bounds each WebSocket's backlog; a connection that falls
	// further behind is dropped (default 65536).
	QueueLen int
}

// Server is a running simulator.
type Server struct {
	opts Options
	ln   net.Listener
	hs   *http.Server
	base string

	mu        sync.Mutex
	closed    bool
	start     time.Time
	seq       int // channel id counter (the part after the dot)
	nameSeq   int // channel name counter (PJSIP/trunk-0000000e)
	channels  map[string]*channel
	order     []string // channel ids in creation order
	bridges   map[string]*bridge
	playbacks map[string]*playback
	live      map[string]*recording
	stored    map[string]*stored
	endpoints map[string]*endpoint // "PJSIP/agent1"
	devices   map[string]string    // device name → last state
	globals   map[string]string
	conns     map[*conn]bool
	timers    map[*time.Timer]bool

	requests   atomic.Int64
	eventsDown atomic.Bool
	// mutate, when set, changes every event just before it is sent: the
	// replay test's proof that it notices a changed field.
	mutate func(o obj) obj
}

// New starts a simulator on a free loopback port.
func New(opts Options) (*Server, error) {
	if opts.User == "" {
		opts.User = "hotline"
	}
	if opts.Password == "" {
		opts.Password = "hotline"
	}
	if opts.AsteriskID == "" {
		opts.AsteriskID = "02:fc:00:00:00:01"
	}
	if opts.HotlineExten == "" {
		opts.HotlineExten = "4001161016"
	}
	if opts.MediaDuration == nil {
		opts.MediaDuration = DefaultMediaDuration
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = 65536
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("aritest: %w", err)
	}
	now := time.Now()
	s := &Server{
		opts: opts, ln: ln, base: "http://" + ln.Addr().String() + "/ari",
		start: now, seq: 0,
		channels: map[string]*channel{}, bridges: map[string]*bridge{}, playbacks: map[string]*playback{},
		live: map[string]*recording{}, stored: map[string]*stored{}, endpoints: map[string]*endpoint{},
		devices: map[string]string{}, globals: map[string]string{}, conns: map[*conn]bool{}, timers: map[*time.Timer]bool{},
	}
	// The captured pjsip.conf: an IP-identified trunk and agent1.
	s.endpoints["PJSIP/trunk"] = &endpoint{tech: "PJSIP", resource: "trunk", context: "from-trunk", trunk: true}
	s.endpoints["PJSIP/agent1"] = &endpoint{tech: "PJSIP", resource: "agent1", context: "from-agents",
		callerName: "Agent One", callerNumber: "1001"}
	s.hs = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go s.hs.Serve(ln)
	return s, nil
}

// DefaultMediaDuration is the default Options.MediaDuration.
func DefaultMediaDuration(uri string) time.Duration {
	kind, rest, _ := strings.Cut(uri, ":")
	switch kind {
	case "digits", "number", "characters":
		return time.Duration(len(rest)) * 10 * time.Millisecond
	}
	return 20 * time.Millisecond
}

// URL is ARI's base URL, e.g. http://127.0.0.1:43123/ari.
func (s *Server) URL() string { return s.base }

// Requests is how many REST requests the simulator has answered.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Close stops the simulator: its WebSockets, timers and listener.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for t := range s.timers {
		t.Stop()
	}
	s.timers = nil
	conns := s.conns
	s.conns = map[*conn]bool{}
	s.mu.Unlock()
	for c := range conns {
		c.close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.hs.Shutdown(ctx)
}

func (s *Server) now() time.Time { return time.Now().UTC() }

// after runs f with the lock held after d, unless the simulator closed.
func (s *Server) after(d time.Duration, f func()) {
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return
		}
		delete(s.timers, t)
		f()
	})
	s.timers[t] = true
}

func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// --- the events WebSocket ---

// conn is one events WebSocket, subscribed for one application.
type conn struct {
	app    string
	all    bool     // subscribeAll
	out    chan obj // events, encoded by the writer (out of the lock)
	done   chan struct{}
	closer sync.Once

	mu          sync.Mutex
	ws          *websocket.Conn // set once the upgrade is done
	closedEarly bool
}

func (c *conn) close() {
	c.closer.Do(func() {
		close(c.done)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.ws == nil {
			c.closedEarly = true
			return
		}
		c.ws.CloseNow()
	})
}

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	app := q.Get("app")
	if app == "" {
		writeJSON(w, http.StatusBadRequest, message("Missing parameter app"))
		return
	}
	// The application is registered as the upgrade completes: events
	// from then on are queued for the connection.
	c := &conn{app: app, all: q.Get("subscribeAll") == "true", out: make(chan obj, s.opts.QueueLen), done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.conns[c] = true
	s.mu.Unlock()
	unregister := func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		unregister()
		return
	}
	c.mu.Lock()
	c.ws = ws
	closed := c.closedEarly
	c.mu.Unlock()
	defer func() {
		unregister()
		c.close()
	}()
	if closed {
		return
	}
	// A reader notices the client going away; ARI clients send nothing.
	ctx := ws.CloseRead(context.Background())
	for {
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			return
		case o := <-c.out:
			e := forApp(o, c.app)
			if s.mutate != nil {
				e = s.mutate(e)
			}
			frame := encode(e)
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := ws.Write(wctx, websocket.MessageText, frame)
			cancel()
			if err != nil {
				return
			}
		}
	}
}

// DropEvents closes every events WebSocket, as a network failure or an
// Asterisk restart of the HTTP server would. Clients reconnect.
func (s *Server) DropEvents() {
	s.mu.Lock()
	conns := s.conns
	s.conns = map[*conn]bool{}
	s.mu.Unlock()
	for c := range conns {
		c.close()
	}
}

// DropEventsOf closes only the WebSockets that subscribed to everything
// (subscribeAll true) or only those that did not.
func (s *Server) DropEventsOf(subscribeAll bool) {
	s.mu.Lock()
	var drop []*conn
	for c := range s.conns {
		if c.all == subscribeAll {
			drop = append(drop, c)
			delete(s.conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range drop {
		c.close()
	}
}

// EventsDown makes the events WebSocket refuse connections (true) or take
// them again (false), to hold a client disconnected for a while.
func (s *Server) EventsDown(down bool) { s.eventsDown.Store(down) }

// Connected reports whether an events WebSocket for app is open.
func (s *Server) Connected(app string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registered(app)
}

func (s *Server) registered(app string) bool {
	for c := range s.conns {
		if c.app == app {
			return true
		}
	}
	return false
}

// subject says which objects an event is about, for applications that did
// not subscribe to everything.
type subject struct {
	channel string
	bridge  string
	// appBridge marks a bridge that an application created: to one
	// subscribed to everything, its recording and playback events come
	// twice, byte for byte, as the captures show.
	appBridge bool
}

// emit sends an event to every application that sees it. Call with the
// lock held; the order of emits is the order on every WebSocket. Events
// are snapshots (obj trees built for the event), so each connection's
// writer encodes them outside the lock.
func (s *Server) emit(o obj, subj subject) {
	for c := range s.conns {
		if !c.all && !s.subscribed(c.app, subj) {
			continue
		}
		n := 1
		if c.all && subj.appBridge {
			n = 2
		}
		for range n {
			select {
			case c.out <- o:
			default:
				// Too far behind: drop it, as Asterisk drops a stuck
				// WebSocket.
				go c.close()
			}
		}
	}
}

// subscribed: a channel is subscribed while it is in the application; a
// bridge while one of the application's channels is in it.
func (s *Server) subscribed(app string, subj subject) bool {
	if ch := s.channels[subj.channel]; ch != nil && ch.app == app {
		return true
	}
	if b := s.bridges[subj.bridge]; b != nil {
		for _, id := range b.members {
			if ch := s.channels[id]; ch != nil && ch.app == app {
				return true
			}
		}
	}
	return false
}

// --- REST ---

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Server", "Asterisk/22.10.1")
	h.Set("Cache-Control", "no-cache, no-store")
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	b := encode(v)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// reply is a handler's answer.
type reply struct {
	status int
	body   any
	raw    []byte // a file; body is ignored
	ctype  string
}

func ok(v any) reply              { return reply{status: http.StatusOK, body: v} }
func created(v any) reply         { return reply{status: http.StatusCreated, body: v} }
func noContent() reply            { return reply{status: http.StatusNoContent} }
func fail(st int, m string) reply { return reply{status: st, body: message(m)} }

// req is a REST request with its path parameters and query (a JSON body's
// members count as query parameters, as Asterisk reads them).
type req struct {
	params []string
	q      url.Values
	vars   map[string]string // the body's "variables"
}

func (r req) get(k string) string { return r.q.Get(k) }

type route struct {
	method  string
	pattern []string // "*" matches one segment
	h       func(r req) reply
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path, okPath := strings.CutPrefix(r.URL.EscapedPath(), "/ari/")
	if !okPath {
		writeJSON(w, http.StatusNotFound, message("Resource not found"))
		return
	}
	user, pass, hasAuth := r.BasicAuth()
	if !hasAuth || user != s.opts.User || pass != s.opts.Password {
		w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
		writeJSON(w, http.StatusUnauthorized, message("Authentication required"))
		return
	}
	if path == "events" {
		if s.eventsDown.Load() {
			writeJSON(w, http.StatusServiceUnavailable, message("Service Unavailable"))
			return
		}
		s.serveEvents(w, r)
		return
	}
	s.requests.Add(1)
	var segs []string
	for _, p := range strings.Split(path, "/") {
		u, err := url.PathUnescape(p)
		if err != nil {
			writeJSON(w, http.StatusNotFound, message("Resource not found"))
			return
		}
		segs = append(segs, u)
	}
	rq := req{q: r.URL.Query()}
	if r.Body != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := readBody(r, &rq); err != nil {
			writeJSON(w, http.StatusBadRequest, message(err.Error()))
			return
		}
	}
	methodSeen := false
	for _, rt := range s.routes() {
		params, match := matchRoute(rt.pattern, segs)
		if !match {
			continue
		}
		methodSeen = true
		if rt.method != r.Method {
			continue
		}
		rq.params = params
		s.mu.Lock()
		rep := rt.h(rq)
		s.mu.Unlock()
		if rep.raw != nil {
			w.Header().Set("Server", "Asterisk/22.10.1")
			w.Header().Set("Cache-Control", "no-cache, no-store")
			w.Header().Set("Content-Type", rep.ctype)
			w.Header().Set("Content-Length", fmt.Sprint(len(rep.raw)))
			w.WriteHeader(rep.status)
			w.Write(rep.raw)
			return
		}
		writeJSON(w, rep.status, rep.body)
		return
	}
	if methodSeen {
		writeJSON(w, http.StatusMethodNotAllowed, message("Invalid method"))
		return
	}
	writeJSON(w, http.StatusNotFound, message("Resource not found"))
}

func matchRoute(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var params []string
	for i, p := range pattern {
		if p == "*" {
			params = append(params, segs[i])
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

func r(method, pattern string, h func(req) reply) route {
	return route{method: method, pattern: strings.Split(pattern, "/"), h: h}
}

func (s *Server) routes() []route {
	return []route{
		r("GET", "asterisk/ping", s.ping),
		r("GET", "asterisk/info", s.info),
		r("GET", "asterisk/variable", s.getGlobal),
		r("POST", "asterisk/variable", s.setGlobal),
		r("GET", "applications", s.listApps),
		r("GET", "applications/*", s.getApp),
		r("GET", "endpoints", s.listEndpoints),
		r("GET", "endpoints/*", s.listEndpointsByTech),
		r("GET", "endpoints/*/*", s.getEndpoint),
		r("GET", "deviceStates", s.listDevices),
		r("GET", "deviceStates/*", s.getDevice),
		r("PUT", "deviceStates/*", s.putDevice),

		r("GET", "channels", s.listChannels),
		r("POST", "channels", s.originate),
		r("POST", "channels/create", s.create),
		r("GET", "channels/*", s.getChannel),
		r("DELETE", "channels/*", s.hangup),
		r("POST", "channels/*/answer", s.answer),
		r("POST", "channels/*/ring", s.ring),
		r("DELETE", "channels/*/ring", s.ringStop),
		r("POST", "channels/*/dial", s.dial),
		r("POST", "channels/*/play", s.playChannel),
		r("POST", "channels/*/play/*", s.playChannel),
		r("POST", "channels/*/record", s.recordChannel),
		r("GET", "channels/*/variable", s.getVar),
		r("POST", "channels/*/variable", s.setVar),
		r("POST", "channels/*/moh", s.chanNoop),
		r("DELETE", "channels/*/moh", s.chanNoop),
		r("POST", "channels/*/silence", s.chanNoop),
		r("DELETE", "channels/*/silence", s.chanNoop),
		r("POST", "channels/*/mute", s.chanNoop),
		r("DELETE", "channels/*/mute", s.chanNoop),
		r("POST", "channels/*/hold", s.hold),
		r("DELETE", "channels/*/hold", s.unhold),
		r("POST", "channels/*/dtmf", s.sendDTMF),
		r("POST", "channels/*/continue", s.continueDialplan),
		r("POST", "channels/*/redirect", s.redirect),
		r("POST", "channels/*/snoop", s.snoop),
		r("POST", "channels/*/snoop/*", s.snoop),

		r("GET", "bridges", s.listBridges),
		r("POST", "bridges", s.createBridge),
		r("POST", "bridges/*", s.createBridge),
		r("GET", "bridges/*", s.getBridge),
		r("DELETE", "bridges/*", s.destroyBridge),
		r("POST", "bridges/*/addChannel", s.addChannel),
		r("POST", "bridges/*/removeChannel", s.removeChannel),
		r("POST", "bridges/*/moh", s.bridgeMOH),
		r("DELETE", "bridges/*/moh", s.bridgeMOH),
		r("POST", "bridges/*/play", s.playBridge),
		r("POST", "bridges/*/play/*", s.playBridge),
		r("POST", "bridges/*/record", s.recordBridge),
		r("POST", "bridges/*/videoSource/*", s.videoSource),

		r("GET", "playbacks/*", s.getPlayback),
		r("DELETE", "playbacks/*", s.stopPlayback),

		r("GET", "recordings/stored", s.listStored),
		r("GET", "recordings/stored/*", s.getStored),
		r("DELETE", "recordings/stored/*", s.deleteStored),
		r("GET", "recordings/stored/*/file", s.storedFile),
		r("POST", "recordings/stored/*/copy", s.copyStored),
		r("GET", "recordings/live/*", s.getLive),
		r("DELETE", "recordings/live/*", s.cancelLive),
		r("POST", "recordings/live/*/stop", s.stopLive),
		r("POST", "recordings/live/*/pause", s.liveNoop),
		r("DELETE", "recordings/live/*/pause", s.liveNoop),
		r("POST", "recordings/live/*/mute", s.liveNoop),
		r("DELETE", "recordings/live/*/mute", s.liveNoop),
	}
}
