package ari

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Handler receives what the events WebSocket brings. Its methods are
// called from the stream's one goroutine, in order; they must not block for
// long (hand work to other goroutines).
type Handler interface {
	// Connected is called after each successful connection; reconnect is
	// set on all but the first. Events lost while disconnected are not
	// replayed by Asterisk: a handler re-reads the state it depends on.
	Connected(reconnect bool)
	// Disconnected is called when a connection ends or cannot be made.
	Disconnected(err error)
	// Event is called for each event, exact repeats left out.
	Event(ev Event)
}

// StreamConfig configures the events WebSocket.
type StreamConfig struct {
	App string
	// SubscribeAll asks for every channel's, bridge's, endpoint's and
	// device's events, as the captures were made.
	SubscribeAll bool
	// MinBackoff and MaxBackoff bound the wait between reconnects (the
	// wait doubles from Min to Max, with jitter). Zero: 250 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// PingEvery is how often a ping checks the connection (0: 20 s); a
	// ping not answered within the same time drops it.
	PingEvery time.Duration
	Log       *slog.Logger
	// OnDuplicate, when set, is called for each exact repeat left out.
	OnDuplicate func()
}

// Stream is the events WebSocket of one Stasis application, kept
// connected: it reconnects with backoff until its context ends.
type Stream struct {
	c     *Client
	cfg   StreamConfig
	h     Handler
	log   *slog.Logger
	dedup dedup

	connected  atomic.Bool
	connects   atomic.Int64
	duplicates atomic.Int64
	undecoded  atomic.Int64
}

// Stream makes the events stream of cfg.App; Run connects it.
func (c *Client) Stream(cfg StreamConfig, h Handler) *Stream {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(10*time.Second, cfg.MinBackoff)
	}
	if cfg.PingEvery <= 0 {
		cfg.PingEvery = 20 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Stream{c: c, cfg: cfg, h: h, log: log, dedup: newDedup(64, 2*time.Second)}
}

// Connected reports whether the WebSocket is up.
func (s *Stream) Connected() bool { return s.connected.Load() }

// Duplicates is how many exact repeats were left out.
func (s *Stream) Duplicates() int64 { return s.duplicates.Load() }

// URL is the WebSocket address, without credentials.
func (s *Stream) URL() string {
	u := *s.c.base
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path += "/events"
	u.RawPath = ""
	q := url.Values{"app": {s.cfg.App}}
	if s.cfg.SubscribeAll {
		q.Set("subscribeAll", "true")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Run keeps the stream connected until ctx ends, then returns nil.
func (s *Stream) Run(ctx context.Context) error {
	backoff := s.cfg.MinBackoff
	for {
		start := time.Now()
		err := s.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		s.h.Disconnected(err)
		if time.Since(start) > 2*s.cfg.MaxBackoff {
			backoff = s.cfg.MinBackoff // it was up for a while: start over
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		s.log.Warn("ARI events: disconnected; reconnecting", "in", wait.Round(time.Millisecond), "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, s.cfg.MaxBackoff)
	}
}

// session is one connection: dial, read until it fails.
func (s *Stream) session(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s.c.user+":"+s.c.pass)))
	conn, resp, err := websocket.Dial(dctx, s.URL(), &websocket.DialOptions{HTTPHeader: h, HTTPClient: s.wsClient()})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode >= 300 {
			return &Error{Op: "GET /events", Status: resp.StatusCode, Message: "WebSocket upgrade refused"}
		}
		return fmt.Errorf("ari: events: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(16 << 20)
	reconnect := s.connects.Add(1) > 1
	s.connected.Store(true)
	defer s.connected.Store(false)
	s.log.Info("ARI events: connected", "url", s.URL(), "reconnect", reconnect)
	s.h.Connected(reconnect)

	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go s.ping(rctx, conn, stop)
	for {
		typ, frame, err := conn.Read(rctx)
		if err != nil {
			if ctx.Err() != nil {
				conn.Close(websocket.StatusNormalClosure, "")
				return ctx.Err()
			}
			return fmt.Errorf("ari: events: %w", err)
		}
		if typ != websocket.MessageText {
			continue
		}
		if s.dedup.seen(frame, time.Now()) {
			s.duplicates.Add(1)
			if s.cfg.OnDuplicate != nil {
				s.cfg.OnDuplicate()
			}
			continue
		}
		ev, err := DecodeEvent(frame)
		if err != nil {
			s.undecoded.Add(1)
			s.log.Warn("ARI events: undecodable frame", "error", err)
			continue
		}
		s.h.Event(ev)
	}
}

// ping drops a connection whose peer stopped answering (a half-open TCP
// connection would otherwise look connected forever).
func (s *Stream) ping(ctx context.Context, conn *websocket.Conn, drop func()) {
	t := time.NewTicker(s.cfg.PingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, s.cfg.PingEvery)
		err := conn.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("ARI events: ping failed; dropping the connection", "error", err)
			drop()
			return
		}
	}
}

// wsClient is the HTTP client for the upgrade: the REST client's, without
// its overall timeout, which would cut the WebSocket.
func (s *Stream) wsClient() *http.Client {
	hc := *s.c.hc
	hc.Timeout = 0
	return &hc
}

// dedup remembers the last frames, to leave out the exact repeats Asterisk
// sends (a bridge's recording and playback events come twice to an
// application subscribed to everything, byte for byte). Two different
// events are never byte-identical: each carries its millisecond timestamp
// and its object's state.
type dedup struct {
	seed   maphash.Seed
	window time.Duration
	ring   []dedupEntry
	next   int
}

type dedupEntry struct {
	sum   uint64
	at    time.Time
	frame []byte
}

func newDedup(n int, window time.Duration) dedup {
	return dedup{seed: maphash.MakeSeed(), window: window, ring: make([]dedupEntry, n)}
}

func (d *dedup) seen(frame []byte, now time.Time) bool {
	sum := maphash.Bytes(d.seed, frame)
	for i := range d.ring {
		e := &d.ring[i]
		if e.sum == sum && e.frame != nil && now.Sub(e.at) <= d.window && bytes.Equal(e.frame, frame) {
			return true
		}
	}
	e := &d.ring[d.next]
	e.sum, e.at = sum, now
	e.frame = append(e.frame[:0], frame...)
	d.next = (d.next + 1) % len(d.ring)
	return false
}
