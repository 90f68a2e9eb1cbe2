package ari_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ari"
	"github.com/hotline-desk/hotline/ari/aritest"
	"github.com/hotline-desk/hotline/internal/testenv"
)

// Every event of the captures decodes to its typed event, with the
// +0000 timestamps parsed.
func TestDecodeCapturedEvents(t *testing.T) {
	dir := testenv.Shared(t, "asterisk/scenarios")
	files, _ := filepath.Glob(filepath.Join(dir, "*.events.jsonl"))
	n := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var line struct{ Event json.RawMessage }
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatal(err)
			}
			ev, err := ari.DecodeEvent(line.Event)
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(f), err)
			}
			if _, unknown := ev.(*ari.UnknownEvent); unknown {
				t.Errorf("%s: %s is not modelled", filepath.Base(f), ev.Base().Type)
			}
			b := ev.Base()
			if b.Timestamp.IsZero() || b.Timestamp.Year() != 2026 || b.AsteriskID == "" || b.Application != "hotline" {
				t.Errorf("%s: base %+v", filepath.Base(f), b)
			}
			n++
		}
		fh.Close()
	}
	if n < 600 {
		t.Errorf("decoded %d events, the captures hold 608", n)
	}
}

func TestDecodeFields(t *testing.T) {
	ev, err := ari.DecodeEvent([]byte(`{"cause":127,"tech_cause":487,"type":"ChannelHangupRequest","timestamp":"2026-11-27T02:38:29.660+0000","channel":{"id":"1795747109.10","name":"PJSIP/trunk-0000000a","state":"Ring","protocol_id":"1-7301@127.0.0.1","caller":{"name":"赵六","number":"13800138006"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-trunk","exten":"4001161016","priority":2,"app_name":"Stasis","app_data":"hotline"},"creationtime":"2026-11-27T02:38:29.151+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"hotline"}`))
	if err != nil {
		t.Fatal(err)
	}
	h := ev.(*ari.ChannelHangupRequest)
	if h.Cause != 127 || h.TechCause != 487 || h.Soft || h.Channel.Caller.Name != "赵六" || h.Channel.ProtocolID != "1-7301@127.0.0.1" {
		t.Errorf("%+v", h)
	}
	want := time.Date(2026, 11, 27, 2, 38, 29, 151e6, time.UTC)
	if !h.Channel.CreationTime.Equal(want) {
		t.Errorf("creationtime %v, want %v", h.Channel.CreationTime, want)
	}
	ev, _ = ari.DecodeEvent([]byte(`{"variable":"HOTLINE_GLOBAL","value":"hello 世界","type":"ChannelVarset","timestamp":"2026-11-27T02:37:32.170+0000","asterisk_id":"02:fc:00:00:00:01","application":"hotline"}`))
	if v := ev.(*ari.ChannelVarset); v.Channel != nil || v.Value != "hello 世界" {
		t.Errorf("global varset %+v", v)
	}
	ev, _ = ari.DecodeEvent([]byte(`{"type":"ContactStatusChange","timestamp":"2026-11-27T02:39:01.061+0000","endpoint":{"technology":"PJSIP","resource":"agent1","state":"online","channel_ids":[]},"contact_info":{"uri":"sip:agent1@127.0.0.1:5091","contact_status":"NonQualified","aor":"agent1","roundtrip_usec":"0"},"asterisk_id":"02:fc:00:00:00:01","application":"hotline"}`))
	if c := ev.(*ari.ContactStatusChange); c.ContactInfo.RoundtripUsec != "0" || c.Endpoint.State != "online" {
		t.Errorf("%+v", c)
	}
	if _, err := ari.DecodeEvent([]byte(`{"type":"ChannelTalkingStarted","timestamp":"2026-11-27T02:39:01.061+0000"}`)); err != nil {
		t.Errorf("an unknown event type is not an error: %v", err)
	}
	for _, bad := range []string{`{`, `{"timestamp":"x"}`, `{"type":"StasisStart","timestamp":"yesterday"}`} {
		if _, err := ari.DecodeEvent([]byte(bad)); err == nil {
			t.Errorf("DecodeEvent(%s): no error", bad)
		}
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2026-11-27T02:33:50.213+0000": time.Date(2026, 11, 27, 2, 33, 50, 213e6, time.UTC),
		"2026-11-27T10:33:50.213+0800": time.Date(2026, 11, 27, 2, 33, 50, 213e6, time.UTC),
		"2026-11-27T02:33:50+0000":     time.Date(2026, 11, 27, 2, 33, 50, 0, time.UTC),
		"2026-11-27T02:33:50.213Z":     time.Date(2026, 11, 27, 2, 33, 50, 213e6, time.UTC),
	} {
		got, err := ari.ParseTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ari.ParseTime("27/11/2026"); err == nil {
		t.Error("a bad time parsed")
	}
	b, _ := json.Marshal(ari.Time{Time: time.Date(2026, 11, 27, 2, 33, 50, 213e6, time.UTC)})
	if string(b) != `"2026-11-27T02:33:50.213+0000"` {
		t.Errorf("marshal: %s", b)
	}
}

func sim(t *testing.T) (*aritest.Server, *ari.Client) {
	t.Helper()
	s, err := aritest.New(aritest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	c, err := ari.New(ari.Config{URL: s.URL(), User: "hotline", Password: "hotline"})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// Errors carry the status and Asterisk's message, in either body shape.
func TestErrors(t *testing.T) {
	s, c := sim(t)
	ctx := context.Background()
	_, err := c.Channel(ctx, "does-not-exist")
	var e *ari.Error
	if !errors.As(err, &e) || e.Status != 404 || e.Message != "Channel not found" || !ari.IsNotFound(err) || e.Temporary() {
		t.Errorf("404: %#v", err)
	}
	if e != nil && e.Op != "GET /channels/{channelId}" {
		t.Errorf("op %q", e.Op)
	}
	// {"error": …}: an endpoint that cannot be reached.
	_, err = c.Create(ctx, ari.CreateParams{Endpoint: "PJSIP/nobody", App: "hotline"})
	if !errors.As(err, &e) || e.Status != 500 || e.Message != "Allocation failed" {
		t.Errorf("500: %#v", err)
	}
	_, err = c.ChannelVar(ctx, "x", "y")
	if ari.StatusOf(err) != 404 {
		t.Errorf("var: %v", err)
	}
	bad, _ := ari.New(ari.Config{URL: s.URL(), User: "hotline", Password: "wrong"})
	if _, err := bad.Ping(ctx); ari.StatusOf(err) != http.StatusUnauthorized || !strings.Contains(err.Error(), "Authentication required") {
		t.Errorf("401: %v", err)
	}
	if _, err := ari.New(ari.Config{URL: "ftp://x"}); err == nil {
		t.Error("an ftp URL was taken")
	}
	if p, err := c.Ping(ctx); err != nil || p.Ping != "pong" || p.Timestamp.IsZero() {
		t.Errorf("ping %+v %v", p, err)
	}
}

// handler collects what a stream delivers.
type handler struct {
	mu        sync.Mutex
	events    []ari.Event
	connects  []bool
	drops     int
	connected chan bool
}

func newHandler() *handler { return &handler{connected: make(chan bool, 16)} }

func (h *handler) Connected(re bool) {
	h.mu.Lock()
	h.connects = append(h.connects, re)
	h.mu.Unlock()
	h.connected <- re
}

func (h *handler) Disconnected(error) { h.mu.Lock(); h.drops++; h.mu.Unlock() }

func (h *handler) Event(ev ari.Event) { h.mu.Lock(); h.events = append(h.events, ev); h.mu.Unlock() }

func (h *handler) of(typ string) []ari.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []ari.Event
	for _, ev := range h.events {
		if ev.Base().Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A bridge recording's events come twice from Asterisk (and from the
// simulator); the stream delivers them once. The stream reconnects after
// a drop, and REST works all along.
func TestStreamDedupAndReconnect(t *testing.T) {
	s, c := sim(t)
	h := newHandler()
	ctx, cancel := context.WithCancel(context.Background())
	st := c.Stream(ari.StreamConfig{App: "hotline", SubscribeAll: true, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, h)
	done := make(chan error)
	go func() { done <- st.Run(ctx) }()
	if re := <-h.connected; re {
		t.Fatal("first connect marked as a reconnect")
	}
	if !st.Connected() || !s.Connected("hotline") {
		t.Fatal("not connected")
	}
	caller, err := s.Call(aritest.Inbound{Name: "张三", Number: "13800138000"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Answer(ctx, caller.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBridge(ctx, "b1", "mixing", "b1"); err != nil {
		t.Fatal(err)
	}
	if err := c.AddChannel(ctx, "b1", caller.ID(), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RecordBridge(ctx, "b1", ari.RecordParams{Name: "r1", Format: "wav"}); err != nil {
		t.Fatal(err)
	}
	if err := c.StopRecording(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "RecordingFinished", func() bool { return len(h.of("RecordingFinished")) > 0 })
	time.Sleep(50 * time.Millisecond)
	if n := len(h.of("RecordingStarted")); n != 1 {
		t.Errorf("RecordingStarted delivered %d times", n)
	}
	if st.Duplicates() < 2 {
		t.Errorf("duplicates left out: %d, want 2", st.Duplicates())
	}
	ss := h.of("StasisStart")
	if len(ss) != 1 || ss[0].(*ari.StasisStart).Channel.Caller.Name != "张三" {
		t.Errorf("StasisStart %v", ss)
	}

	s.DropEvents()
	if re := <-h.connected; !re {
		t.Error("reconnect not marked")
	}
	// REST never stopped; events flow on the new connection.
	if err := c.Hangup(ctx, caller.ID(), ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ChannelDestroyed", func() bool { return len(h.of("ChannelDestroyed")) == 1 })
	if err := c.DestroyBridge(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	f, err := c.StoredFile(ctx, "r1", 0)
	if err != nil || f.ContentType != "audio/wav" || !strings.HasPrefix(string(f.Data), "RIFF") {
		t.Errorf("file %q %v", f.ContentType, err)
	}
	if _, err := c.StoredFile(ctx, "r1", 10); !errors.Is(err, ari.ErrTooLarge) {
		t.Errorf("limit: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if st.Connected() {
		t.Error("still connected after Run returned")
	}
}

// A playlist goes as one comma-separated media value: Asterisk plays only
// the last of repeated media= parameters.
func TestPlaylist(t *testing.T) {
	s, c := sim(t)
	h := newHandler()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Stream(ari.StreamConfig{App: "hotline"}, h).Run(ctx)
	<-h.connected
	caller, err := s.Call(aritest.Inbound{Name: "张三", Number: "13800138000"})
	if err != nil {
		t.Fatal(err)
	}
	c.Answer(ctx, caller.ID())
	pb, err := c.Play(ctx, caller.ID(), ari.PlayParams{ID: "pb1", Media: []string{"sound:beep", "digits:42"}, Lang: "zh_CN"})
	if err != nil || pb.MediaURI != "sound:beep" || pb.NextMediaURI != "digits:42" || pb.Language != "zh_CN" {
		t.Fatalf("%+v %v", pb, err)
	}
	waitFor(t, "PlaybackFinished", func() bool { return len(h.of("PlaybackFinished")) == 1 })
	if n := len(h.of("PlaybackContinuing")); n != 1 {
		t.Errorf("PlaybackContinuing %d", n)
	}
	if got := caller.Heard(); strings.Join(got, ",") != "sound:beep,digits:42" {
		t.Errorf("heard %v", got)
	}
}
