package hotline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ari"
	"github.com/hotline-desk/hotline/ari/aritest"
	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

// rig is the application against the ARI simulator, with a real SQLite
// store behind the call intake.
type rig struct {
	t      testing.TB
	sim    *aritest.Server
	store  ticketing.Store
	client *ari.Client
	tr     *http.Transport
	app    *App
	stop   context.CancelFunc
	done   chan struct{}
}

type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func quietLog(t testing.TB, verbose bool) *slog.Logger {
	if !verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var testMenu = map[string]string{"1": "incident", "2": "service_request", "3": "complaint", "0": ChoiceOperator}

func newRig(t testing.TB, agents []config.Agent, escalation []string, tune func(*Config), simOpts aritest.Options) *rig {
	t.Helper()
	return newRigStore(t, agents, escalation, tune, simOpts, nil)
}

// storeGate holds the store's answers while closed: the store is down.
type storeGate struct {
	channels.Sink
	mu   sync.Mutex
	open chan struct{}
}

func (g *storeGate) wait(ctx context.Context) error {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *storeGate) Submit(ctx context.Context, c channels.Contact) (channels.Receipt, error) {
	if err := g.wait(ctx); err != nil {
		return channels.Receipt{}, err
	}
	return g.Sink.Submit(ctx, c)
}

func (g *storeGate) Record(ctx context.Context, n channels.Note) error {
	if err := g.wait(ctx); err != nil {
		return err
	}
	return g.Sink.Record(ctx, n)
}

func newRigStore(t testing.TB, agents []config.Agent, escalation []string, tune func(*Config), simOpts aritest.Options, gate *storeGate) *rig {
	t.Helper()
	log := quietLog(t, testing.Verbose())
	sim, err := aritest.New(simOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "hotline.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx, stop := context.WithCancel(context.Background())
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	desk := ticketing.NewDesk(st, ticketing.DeskConfig{Prefix: "HL", Location: time.UTC, Log: log})
	intake := channels.NewIntake(desk, nil, log)
	journal, err := channels.OpenJournal(filepath.Join(dir, "journal"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { journal.Close() })
	var sink channels.Sink = intake
	deadline := 2 * time.Second
	if gate != nil {
		gate.Sink, sink, deadline = intake, gate, 100*time.Millisecond
	}
	calls := channels.NewCallIntake(sink, journal, deadline, log)
	journalDone := make(chan struct{})
	go func() {
		defer close(journalDone)
		calls.Run(ctx)
	}()
	t.Cleanup(func() { stop(); <-journalDone })
	roster, err := channels.NewRoster(agents, nil, escalation, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	holder := &channels.RosterHolder{}
	holder.Store(roster)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client, err := ari.New(ari.Config{URL: sim.URL(), User: "hotline", Password: "hotline", HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		// Generous: the steps below must not time out on a loaded machine.
		Menu: testMenu, MenuTimeout: 2 * time.Second,
		Plan:    channels.PlanConfig{Ring: 3 * time.Second, MobileRing: 3 * time.Second},
		Hotline: "4001161016", ARIURL: sim.URL(), Log: log,
	}
	if tune != nil {
		tune(&cfg)
	}
	app := New(client, calls, holder, cfg)
	r := &rig{t: t, sim: sim, store: st, client: client, tr: tr, app: app, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		app.Run(ctx)
	}()
	t.Cleanup(r.close)
	r.eventually("the app connects", 5*time.Second, func() bool { return sim.Connected("hotline") })
	return r
}

func (r *rig) close() {
	r.stop()
	<-r.done
}

func (r *rig) eventually(what string, d time.Duration, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// call places a call and returns its caller.
func (r *rig) call(in aritest.Inbound) *aritest.Caller {
	r.t.Helper()
	c, err := r.sim.Call(in)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// ticket waits for the call to end everywhere and returns its ticket.
func (r *rig) ticket(c *aritest.Caller) *ticketing.Ticket {
	r.t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		r.t.Fatal("the call did not end")
	}
	r.eventually("the app has no call", 10*time.Second, func() bool { return r.app.Active() == 0 })
	tk, err := r.tryTicket(c)
	if err != nil {
		r.t.Fatalf("no ticket for the call: %v", err)
	}
	return tk
}

func (r *rig) tryTicket(c *aritest.Caller) (*ticketing.Ticket, error) {
	ctx := context.Background()
	key := ticketing.ContactKey{Channel: ticketing.ChannelPhone, ExternalID: c.ID() + "|" + c.ProtocolID()}
	res, err := r.store.ContactGet(ctx, key)
	if err != nil {
		return nil, err
	}
	return r.store.TicketGet(ctx, ticketing.TicketGetParams{ID: res.TicketID, Timeline: true})
}

// clean checks that the call left no channel, bridge or live recording.
func (r *rig) clean() {
	r.t.Helper()
	ctx := context.Background()
	chans, err := r.client.Channels(ctx)
	if err != nil || len(chans) != 0 {
		r.t.Errorf("channels left: %v (%v)", chans, err)
	}
	bridges, err := r.client.Bridges(ctx)
	if err != nil || len(bridges) != 0 {
		r.t.Errorf("bridges left: %v (%v)", bridges, err)
	}
}

// events returns the ticket's events of one type, with their data.
func events(tk *ticketing.Ticket, typ string) []map[string]string {
	var out []map[string]string
	for _, e := range tk.Events {
		if e.Type != typ {
			continue
		}
		d := map[string]string{}
		json.Unmarshal(e.Data, &d)
		out = append(out, d)
	}
	return out
}

func one(t testing.TB, tk *ticketing.Ticket, typ string) map[string]string {
	t.Helper()
	evs := events(tk, typ)
	if len(evs) != 1 {
		var types []string
		for _, e := range tk.Events {
			types = append(types, e.Type)
		}
		t.Fatalf("want one %s event, got %d; timeline: %v", typ, len(evs), types)
	}
	return evs[0]
}

var zhang = config.Agent{ID: "zhang", Name: "张工", SIPUser: "agent1", Mobile: "+8613800000001"}
var lead = config.Agent{ID: "lead", Name: "李组长", Mobile: "+8613900000002"}

// pressWhenMenu presses digits once the caller heard the menu.
func pressWhenMenu(t testing.TB, c *aritest.Caller, digits string) {
	t.Helper()
	if c.WaitHeard(DefaultPrompts.Menu, 5*time.Second) == "" {
		t.Fatal("the caller never heard the menu")
	}
	c.DTMF(digits)
}

// The whole call: 张三 presses 2, hears the ticket number, agent1 answers,
// they talk (recorded), the agent hangs up; the ticket has it all and the
// recording attached.
func TestServiceRequestAnsweredAndRecorded(t *testing.T) {
	legs := make(chan *aritest.Leg, 4)
	r := newRig(t, []config.Agent{zhang}, nil, nil, aritest.Options{})
	r.sim.Register("agent1", aritest.Agent{CallerName: "Agent One", CallerNumber: "1001", OnDial: func(l *aritest.Leg) {
		legs <- l
		l.Ring()
		time.Sleep(50 * time.Millisecond)
		l.Answer()
	}})
	c := r.call(aritest.Inbound{Name: "张三", Number: "13800138000"})
	pressWhenMenu(t, c, "2")
	digits := c.WaitHeard("digits:", 5*time.Second)
	var leg *aritest.Leg
	select {
	case leg = <-legs:
	case <-time.After(5 * time.Second):
		t.Fatal("agent1 was never dialled")
	}
	r.eventually("caller and agent are bridged", 5*time.Second, func() bool { return c.Bridged() != "" && r.app.Active() == 1 && r.bridgedPair(c.Bridged()) })
	time.Sleep(1100 * time.Millisecond) // a recording of a second
	leg.Hangup()
	tk := r.ticket(c)

	if tk.Kind != ticketing.KindServiceRequest || tk.Channel != ticketing.ChannelPhone {
		t.Errorf("ticket %s: kind %s channel %s", tk.Number, tk.Kind, tk.Channel)
	}
	if tk.Caller.Name != "张三" || tk.Caller.Phone != "+8613800138000" || tk.Caller.Withheld {
		t.Errorf("caller %+v", tk.Caller)
	}
	if want := "digits:" + ticketDigits(tk.Number); digits != want {
		t.Errorf("read back %q, want %q", digits, want)
	}
	if leg.Headers["X-Hotline-Ticket"] != tk.Number {
		t.Errorf("agent leg X-Hotline-Ticket %q, want %q", leg.Headers["X-Hotline-Ticket"], tk.Number)
	}
	if leg.CallerName != "张三" || leg.CallerNumber != "13800138000" || leg.Endpoint != "PJSIP/agent1" {
		t.Errorf("agent leg shows %q <%s> on %s", leg.CallerName, leg.CallerNumber, leg.Endpoint)
	}
	if ivr := one(t, tk, EventIVR); ivr["digit"] != "2" || ivr["choice"] != "service_request" || ivr["how"] != "pressed" {
		t.Errorf("ivr event %v", ivr)
	}
	if ring := one(t, tk, EventRinging); ring["agent"] != "zhang" || ring["sip_user"] != "agent1" {
		t.Errorf("ringing event %v", ring)
	}
	if ans := one(t, tk, EventAnswered); ans["agent"] != "zhang" || ans["wait_seconds"] == "" {
		t.Errorf("answered event %v", ans)
	}
	if end := one(t, tk, EventEnded); end["hung_up_by"] != "agent" || atof(end["duration_seconds"]) < 1 {
		t.Errorf("ended event %v", end)
	}
	rec := one(t, tk, EventRecording)
	if rec["result"] != "attached" || atof(rec["duration_seconds"]) < 1 {
		t.Errorf("recording event %v", rec)
	}
	if len(tk.Attachments) != 1 || tk.Attachments[0].ContentType != "audio/wav" || tk.Attachments[0].Size < 8000*2 ||
		tk.Attachments[0].Name != tk.Number+"-call.wav" {
		t.Errorf("attachments %+v", tk.Attachments)
	}
	if left := r.sim.StoredRecordings(); len(left) != 0 {
		t.Errorf("stored recordings left on Asterisk: %v", left)
	}
	if len(events(tk, EventMissed))+len(events(tk, EventAbandoned)) != 0 {
		t.Error("an answered call is neither missed nor abandoned")
	}
	r.clean()
}

func (r *rig) bridgedPair(id string) bool {
	b, err := r.client.Bridge(context.Background(), id)
	return err == nil && len(b.Channels) == 2
}

// Nobody answers the softphone, nor the mobile: the plan goes up to the
// escalation contact, whose mobile answers through the trunk.
func TestNoAnswerForwardsToMobileThenEscalation(t *testing.T) {
	r := newRig(t, []config.Agent{zhang, lead}, []string{"lead"}, func(c *Config) {
		c.Menu = nil // straight to routing
		c.Plan = channels.PlanConfig{Ring: 400 * time.Millisecond, MobileRing: 400 * time.Millisecond}
	}, aritest.Options{})
	r.sim.Register("agent1", aritest.Agent{OnDial: func(l *aritest.Leg) { l.Ring() }})
	var mu sync.Mutex
	var dialled []*aritest.Leg
	r.sim.Trunk("carrier", func(l *aritest.Leg) {
		mu.Lock()
		dialled = append(dialled, l)
		mu.Unlock()
		l.Ring()
		if strings.HasPrefix(l.Dialstring, "+8613900000002@") {
			time.Sleep(30 * time.Millisecond)
			l.Answer()
		}
	})
	c := r.call(aritest.Inbound{Name: "李四", Number: "13900139000"})
	r.eventually("the escalation contact is bridged", 10*time.Second, func() bool { return c.Bridged() != "" && r.bridgedPair(c.Bridged()) })
	c.Hangup()
	tk := r.ticket(c)

	if tk.Kind != ticketing.KindInquiry {
		t.Errorf("kind %s, want inquiry without a menu", tk.Kind)
	}
	if ring := one(t, tk, EventRinging); ring["agent"] != "zhang" || ring["step"] != channels.StepSoftphones {
		t.Errorf("ringing %v", ring)
	}
	fw := events(tk, EventForwarded)
	if len(fw) != 2 || fw[0]["number"] != "+8613800000001" || fw[0]["step"] != channels.StepMobile ||
		fw[1]["number"] != "+8613900000002" || fw[1]["step"] != channels.StepEscalation {
		t.Errorf("forwarded %v", fw)
	}
	if ans := one(t, tk, EventAnswered); ans["agent"] != "lead" || ans["number"] != "+8613900000002" {
		t.Errorf("answered %v", ans)
	}
	if end := one(t, tk, EventEnded); end["hung_up_by"] != "caller" {
		t.Errorf("ended %v", end)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialled) != 2 {
		t.Fatalf("trunk legs %d, want 2", len(dialled))
	}
	for _, l := range dialled {
		if l.Endpoint != "PJSIP/carrier" || l.Headers["X-Hotline-Ticket"] != tk.Number || l.Headers["Diversion"] != "<tel:4001161016>;reason=no-answer" ||
			l.CallerNumber != "13900139000" {
			t.Errorf("trunk leg %+v", l)
		}
	}
	r.clean()
}

// Nobody at all answers: the call is missed, the caller hears so, and the
// ticket asks for a call back.
func TestMissedCall(t *testing.T) {
	onDuty := zhang
	onDuty.Email = "zhang@example.com"
	r := newRig(t, []config.Agent{onDuty}, nil, func(c *Config) { c.Plan.MobileRing = 400 * time.Millisecond }, aritest.Options{})
	r.sim.Register("agent1", aritest.Agent{OnDial: func(l *aritest.Leg) { l.Busy() }})
	r.sim.Trunk("carrier", func(l *aritest.Leg) { l.Ring() })
	c := r.call(aritest.Inbound{Name: "赵六", Number: "13800138006"})
	pressWhenMenu(t, c, "1")
	tk := r.ticket(c)
	if tk.Kind != ticketing.KindIncident {
		t.Errorf("kind %s", tk.Kind)
	}
	if m := one(t, tk, EventMissed); m["callback"] != "13800138006" || m["callback_notified"] != "zhang@example.com" {
		t.Errorf("missed %v", m)
	}
	// The callback task: a mail to the agent on duty, committed with the
	// missed event.
	jobs, err := r.store.JobClaim(context.Background(), ticketing.JobClaimParams{Worker: "t", Kinds: []string{channels.JobMailSend},
		Now: time.Now().Add(time.Hour), Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) != 1 || jobs[0].TicketID != tk.ID || !strings.Contains(string(jobs[0].Args), "zhang@example.com") {
		t.Errorf("callback task: %v %v", jobs, err)
	}
	if c.WaitHeard(DefaultPrompts.Unavailable, time.Second) == "" {
		t.Error("the caller did not hear that nobody is available")
	}
	r.clean()
}

// The caller hangs up at each step; each leaves a consistent ticket and
// nothing behind on Asterisk.
func TestCallerHangsUp(t *testing.T) {
	t.Run("during the IVR", func(t *testing.T) {
		r := newRig(t, []config.Agent{zhang}, nil, nil, aritest.Options{})
		c := r.call(aritest.Inbound{Name: "张三", Number: "13800138000"})
		if c.WaitHeard(DefaultPrompts.Greeting, 5*time.Second) == "" {
			t.Fatal("no greeting")
		}
		c.Hangup()
		tk := r.ticket(c)
		if tk.Kind != ticketing.KindInquiry {
			t.Errorf("kind %s", tk.Kind)
		}
		if ab := one(t, tk, EventAbandoned); ab["stage"] != "ivr" || ab["wait_seconds"] == "" {
			t.Errorf("abandoned %v", ab)
		}
		if len(events(tk, EventRinging)) != 0 {
			t.Error("nobody should ring for a caller gone in the menu")
		}
		r.clean()
	})
	t.Run("during ringing", func(t *testing.T) {
		ringing := make(chan *aritest.Leg, 1)
		r := newRig(t, []config.Agent{zhang}, nil, func(c *Config) { c.Plan.Ring = 5 * time.Second }, aritest.Options{})
		r.sim.Register("agent1", aritest.Agent{OnDial: func(l *aritest.Leg) { l.Ring(); ringing <- l }})
		c := r.call(aritest.Inbound{Name: "张三", Number: "13800138000"})
		pressWhenMenu(t, c, "3")
		l := <-ringing
		time.Sleep(100 * time.Millisecond)
		c.Hangup()
		select {
		case <-l.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("the ringing leg was not released")
		}
		tk := r.ticket(c)
		if tk.Kind != ticketing.KindComplaint {
			t.Errorf("kind %s", tk.Kind)
		}
		one(t, tk, EventRinging)
		if ab := one(t, tk, EventAbandoned); ab["stage"] != "ringing" {
			t.Errorf("abandoned %v", ab)
		}
		if len(events(tk, EventAnswered)) != 0 {
			t.Error("not answered")
		}
		r.clean()
	})
	t.Run("after the answer", func(t *testing.T) {
		r := newRig(t, []config.Agent{zhang}, nil, nil, aritest.Options{})
		r.sim.Register("agent1", aritest.Agent{OnDial: func(l *aritest.Leg) { l.Answer() }})
		c := r.call(aritest.Inbound{Name: "张三", Number: "13800138000"})
		pressWhenMenu(t, c, "1")
		r.eventually("bridged", 5*time.Second, func() bool { return c.Bridged() != "" && r.bridgedPair(c.Bridged()) })
		c.Hangup()
		tk := r.ticket(c)
		if end := one(t, tk, EventEnded); end["hung_up_by"] != "caller" {
			t.Errorf("ended %v", end)
		}
		one(t, tk, EventAnswered)
		if rec := one(t, tk, EventRecording); rec["result"] != "attached" {
			t.Errorf("recording %v", rec)
		}
		r.clean()
	})
}

// A caller with P-Asserted-Identity and Privacy: id: the desk keeps the
// number on the ticket, marked withheld, and no agent's phone shows it.
func TestPrivacyCaller(t *testing.T) {
	legs := make(chan *aritest.Leg, 1)
	r := newRig(t, []config.Agent{zhang}, nil, nil, aritest.Options{})
	r.sim.Register("agent1", aritest.Agent{OnDial: func(l *aritest.Leg) { legs <- l; l.Answer() }})
	c := r.call(aritest.Inbound{Name: "王五", Number: "13700137000", Privacy: true})
	pressWhenMenu(t, c, "1")
	l := <-legs
	r.eventually("bridged", 5*time.Second, func() bool { return c.Bridged() != "" && r.bridgedPair(c.Bridged()) })
	c.Hangup()
	tk := r.ticket(c)
	if !tk.Caller.Withheld || tk.Caller.Phone != "+8613700137000" || tk.Caller.Name != "王五" {
		t.Errorf("caller %+v", tk.Caller)
	}
	if strings.Contains(tk.Subject, "13700137000") {
		t.Errorf("subject shows a withheld number: %q", tk.Subject)
	}
	if l.CallerNumber != "anonymous" || l.CallerName != "Anonymous" || l.Presentation != "prohib" {
		t.Errorf("the agent's phone shows %q <%s> (%s)", l.CallerName, l.CallerNumber, l.Presentation)
	}
	if l.Headers["X-Hotline-Ticket"] != tk.Number {
		t.Errorf("X-Hotline-Ticket %q", l.Headers["X-Hotline-Ticket"])
	}
	r.clean()
}

// The events WebSocket drops while the agent's phone rings, and the agent
// answers while it is down: that event is lost. After the reconnect the
// call re-reads its state, bridges the agent, and completes; the ticket is
// right.
func TestWebSocketDropMidCall(t *testing.T) {
	ringing := make(chan *aritest.Leg, 1)
	r := newRig(t, []config.Agent{zhang}, nil, func(c *Config) { c.Plan.Ring = 10 * time.Second }, aritest.Options{})
	r.sim.Register("agent1", aritest.Agent{OnDial: func(l *aritest.Leg) { l.Ring(); ringing <- l }})
	c := r.call(aritest.Inbound{Name: "张三", Number: "13800138000"})
	pressWhenMenu(t, c, "2")
	l := <-ringing
	r.sim.EventsDown(true)
	r.sim.DropEvents()
	r.eventually("the app notices the drop", 5*time.Second, func() bool { return !r.sim.Connected("hotline") })
	if !l.Answer() {
		t.Fatal("the leg was gone before the answer")
	}
	time.Sleep(300 * time.Millisecond) // the app retries against a refusing Asterisk
	r.sim.EventsDown(false)
	r.eventually("the app reconnects", 10*time.Second, func() bool { return r.sim.Connected("hotline") })
	r.eventually("bridged after the reconnect", 10*time.Second, func() bool { return c.Bridged() != "" && r.bridgedPair(c.Bridged()) })
	time.Sleep(1100 * time.Millisecond)
	// The agent's hang-up comes over the new connection.
	l.Hangup()
	tk := r.ticket(c)
	if tk.Kind != ticketing.KindServiceRequest {
		t.Errorf("kind %s", tk.Kind)
	}
	if ans := one(t, tk, EventAnswered); ans["agent"] != "zhang" {
		t.Errorf("answered %v", ans)
	}
	if end := one(t, tk, EventEnded); end["hung_up_by"] != "agent" {
		t.Errorf("ended %v", end)
	}
	if rec := one(t, tk, EventRecording); rec["result"] != "attached" {
		t.Errorf("recording %v", rec)
	}
	if len(events(tk, EventAbandoned))+len(events(tk, EventMissed)) != 0 {
		t.Error("the call was answered")
	}
	r.clean()
}

// The caller hangs up while the WebSocket is down: the call learns it from
// REST after the reconnect and records the abandonment.
func TestWebSocketDropCallerGone(t *testing.T) {
	ringing := make(chan *aritest.Leg, 1)
	r := newRig(t, []config.Agent{zhang}, nil, func(c *Config) { c.Plan.Ring = 10 * time.Second }, aritest.Options{})
	r.sim.Register("agent1", aritest.Agent{OnDial: func(l *aritest.Leg) { l.Ring(); ringing <- l }})
	c := r.call(aritest.Inbound{Name: "张三", Number: "13800138000"})
	pressWhenMenu(t, c, "1")
	l := <-ringing
	r.sim.EventsDown(true)
	r.sim.DropEvents()
	r.eventually("the app notices the drop", 5*time.Second, func() bool { return !r.sim.Connected("hotline") })
	c.Hangup()
	r.sim.EventsDown(false)
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the ringing leg was not released after the reconnect")
	}
	tk := r.ticket(c)
	if ab := one(t, tk, EventAbandoned); ab["stage"] != "ringing" {
		t.Errorf("abandoned %v", ab)
	}
	r.clean()
}

// A recording over the size limit is linked, not attached, and stays on
// Asterisk.
func TestLargeRecordingIsLinked(t *testing.T) {
	r := newRig(t, []config.Agent{zhang}, nil, func(c *Config) { c.RecordingMaxBytes = 1000 }, aritest.Options{})
	r.sim.Register("agent1", aritest.Agent{OnDial: func(l *aritest.Leg) { l.Answer() }})
	c := r.call(aritest.Inbound{Name: "张三", Number: "13800138000"})
	pressWhenMenu(t, c, "1")
	r.eventually("bridged", 5*time.Second, func() bool { return c.Bridged() != "" && r.bridgedPair(c.Bridged()) })
	time.Sleep(200 * time.Millisecond)
	c.Hangup()
	tk := r.ticket(c)
	rec := one(t, tk, EventRecording)
	if rec["result"] != "linked" || !strings.HasSuffix(rec["link"], "/recordings/stored/"+rec["name"]+"/file") {
		t.Errorf("recording %v", rec)
	}
	if len(tk.Attachments) != 0 {
		t.Errorf("attachments %+v", tk.Attachments)
	}
	if left := r.sim.StoredRecordings(); len(left) != 1 {
		t.Errorf("the linked recording must stay on Asterisk: %v", left)
	}
}

// 1,000 calls through the application leave no goroutine, channel or
// bridge behind.
func TestNoLeakAfterManyCalls(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	r := newRig(t, []config.Agent{zhang}, nil, func(c *Config) { c.Log = slog.New(slog.DiscardHandler) },
		aritest.Options{MediaDuration: func(string) time.Duration { return time.Millisecond }})
	r.sim.Register("agent1", aritest.Agent{OnDial: func(l *aritest.Leg) {
		l.Ring()
		if l.Answer() {
			time.Sleep(5 * time.Millisecond)
			l.Hangup()
		}
	}})
	settle := func() int {
		r.tr.CloseIdleConnections()
		time.Sleep(50 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	base := settle()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := r.sim.Call(aritest.Inbound{Name: "压测", Number: fmt.Sprintf("1380013%04d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			if c.WaitHeard(DefaultPrompts.Menu, 10*time.Second) != "" {
				c.DTMF("1")
			}
			select {
			case <-c.Done():
			case <-time.After(30 * time.Second):
				t.Error("a call did not end")
			}
		}()
	}
	wg.Wait()
	r.eventually("every call finished", 30*time.Second, func() bool { return r.app.Active() == 0 })
	r.clean()
	deadline := time.Now().Add(10 * time.Second)
	for {
		now := settle()
		if now <= base+2 {
			t.Logf("goroutines: %d before, %d after %d calls", base, now, n)
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after %d calls\n%s", base, now, n, buf[:runtime.Stack(buf, true)])
		}
	}
	// Every call has its ticket (some may have waited in the journal).
	r.eventually("a ticket for every call", 30*time.Second, func() bool {
		page, err := r.store.TicketList(context.Background(), ticketing.TicketListParams{Limit: 1})
		return err == nil && len(page.Tickets) == 1 && page.Tickets[0].ID == int64(n)
	})
}

// A call whose StasisStart was lost with the WebSocket is taken up after
// the reconnect: the application lists the channels in Stasis(hotline)
// and adopts the ones no call owns.
func TestLostStasisStartIsAdopted(t *testing.T) {
	legs := make(chan *aritest.Leg, 1)
	r := newRig(t, []config.Agent{zhang}, nil, func(c *Config) { c.Menu = nil }, aritest.Options{})
	r.sim.Register("agent1", aritest.Agent{OnDial: func(l *aritest.Leg) { legs <- l; l.Answer() }})
	// Another WebSocket for the application (without subscribeAll) keeps
	// it registered in Asterisk while ours is down, so the StasisStart
	// goes there only.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	other, err := ari.New(ari.Config{URL: r.sim.URL(), User: "hotline", Password: "hotline"})
	if err != nil {
		t.Fatal(err)
	}
	otherUp := make(chan bool, 1)
	go other.Stream(ari.StreamConfig{App: "hotline"}, handlerFunc(func(up bool) {
		select {
		case otherUp <- up:
		default:
		}
	})).Run(ctx)
	<-otherUp
	r.sim.EventsDown(true)
	r.sim.DropEventsOf(true)
	r.eventually("our WebSocket is down", 5*time.Second, func() bool { return r.app.Active() == 0 && !r.appConnected() })
	c := r.call(aritest.Inbound{Name: "张三", Number: "13800138000"})
	r.sim.EventsDown(false)
	select {
	case <-legs:
	case <-time.After(10 * time.Second):
		t.Fatal("the lost call was not taken up")
	}
	r.eventually("bridged", 5*time.Second, func() bool { return c.Bridged() != "" && r.bridgedPair(c.Bridged()) })
	c.Hangup()
	tk := r.ticket(c)
	if tk.Caller.Name != "张三" || tk.Kind != ticketing.KindInquiry {
		t.Errorf("ticket %+v", tk)
	}
	if created := one(t, tk, ticketing.EventCreated); created["ari_adopted"] != "true" {
		t.Errorf("not marked adopted: %v", created)
	}
	one(t, tk, EventAnswered)
	r.clean()
}

// appConnected: the application's own WebSocket (subscribeAll) is up.
func (r *rig) appConnected() bool {
	apps, err := r.client.Application(context.Background(), "hotline")
	return err == nil && len(apps.ChannelIDs) == 1 && apps.ChannelIDs[0] == "__AST_CHANNEL_ALL_TOPIC"
}

// handlerFunc is an ari.Handler that only reports connections.
type handlerFunc func(up bool)

func (f handlerFunc) Connected(bool)     { f(true) }
func (f handlerFunc) Disconnected(error) {}
func (f handlerFunc) Event(ari.Event)    {}

// The store is down when the call comes: the call is not held up. Its
// contact and events go to the journal (no ticket number to read back or
// to send in X-Hotline-Ticket), the agent is rung and answers, and when the
// store is back the ticket holds everything, recording included.
func TestStoreDownCallGoesOn(t *testing.T) {
	legs := make(chan *aritest.Leg, 1)
	gate := &storeGate{open: make(chan struct{})}
	r := newRigStore(t, []config.Agent{zhang}, nil, nil, aritest.Options{}, gate)
	r.sim.Register("agent1", aritest.Agent{OnDial: func(l *aritest.Leg) { legs <- l; l.Ring(); l.Answer() }})
	c := r.call(aritest.Inbound{Name: "张三", Number: "13800138000"})
	pressWhenMenu(t, c, "3")
	var l *aritest.Leg
	select {
	case l = <-legs:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent was not rung while the store was down")
	}
	if h, ok := l.Headers["X-Hotline-Ticket"]; ok {
		t.Errorf("X-Hotline-Ticket %q without a ticket", h)
	}
	r.eventually("bridged", 5*time.Second, func() bool { return c.Bridged() != "" && r.bridgedPair(c.Bridged()) })
	time.Sleep(1100 * time.Millisecond)
	c.Hangup()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not end")
	}
	r.eventually("the call is done", 10*time.Second, func() bool { return r.app.Active() == 0 })
	for _, m := range c.Heard() {
		if strings.HasPrefix(m, "digits:") {
			t.Errorf("read back %s without a ticket", m)
		}
	}
	close(gate.open) // the store is back; the journal replays
	var tk *ticketing.Ticket
	r.eventually("every event replayed", 10*time.Second, func() bool {
		var err error
		tk, err = r.tryTicket(c)
		return err == nil && len(events(tk, EventRecording)) == 1
	})
	if tk.Kind != ticketing.KindComplaint || tk.Caller.Phone != "+8613800138000" {
		t.Errorf("ticket %+v", tk)
	}
	for _, typ := range []string{EventIVR, EventRinging, EventAnswered, EventEnded} {
		one(t, tk, typ)
	}
	if len(tk.Attachments) != 1 {
		t.Errorf("attachments %+v", tk.Attachments)
	}
	r.clean()
}

// The menu: a key picks the kind; an invalid key gets the menu again; two
// invalid keys, or no key at all, go on as an inquiry.
func TestIVR(t *testing.T) {
	tests := []struct {
		name, keys string
		kind       ticketing.Kind
		choice     string
		how        string
	}{
		{"incident", "1", ticketing.KindIncident, "incident", "pressed"},
		{"complaint", "3", ticketing.KindComplaint, "complaint", "pressed"},
		{"operator", "0", ticketing.KindInquiry, ChoiceOperator, "pressed"},
		{"invalid then valid", "92", ticketing.KindServiceRequest, "service_request", "pressed"},
		{"invalid twice", "98", ticketing.KindInquiry, "inquiry", "invalid"},
		{"no key", "", ticketing.KindInquiry, "inquiry", "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, nil, nil, nil, aritest.Options{})
			c := r.call(aritest.Inbound{Name: "张三", Number: "13800138000"})
			for i, k := range tt.keys {
				if i == 0 {
					pressWhenMenu(t, c, string(k))
					continue
				}
				// The menu again, after the invalid prompt.
				if c.WaitHeard(DefaultPrompts.Invalid, 5*time.Second) == "" {
					t.Fatal("no invalid-key prompt")
				}
				c.DTMF(string(k))
			}
			tk := r.ticket(c)
			ivr := one(t, tk, EventIVR)
			if tk.Kind != tt.kind || ivr["choice"] != tt.choice || ivr["how"] != tt.how {
				t.Errorf("kind %s, ivr %v; want %s, %s, %s", tk.Kind, ivr, tt.kind, tt.choice, tt.how)
			}
			// Nobody on duty: missed at once.
			one(t, tk, EventMissed)
			r.clean()
		})
	}
}

// An agent whose softphone is not registered cannot be rung (Asterisk
// answers 500 "Allocation failed"): the plan goes on to the mobile.
func TestUnregisteredAgentGoesToMobile(t *testing.T) {
	r := newRig(t, []config.Agent{{ID: "wang", SIPUser: "wang", Mobile: "+8613800000009"}}, nil, func(c *Config) { c.Menu = nil }, aritest.Options{})
	r.sim.Trunk("carrier", func(l *aritest.Leg) { l.Answer() })
	c := r.call(aritest.Inbound{Name: "张三", Number: "13800138000"})
	r.eventually("bridged", 5*time.Second, func() bool { return c.Bridged() != "" && r.bridgedPair(c.Bridged()) })
	c.Hangup()
	tk := r.ticket(c)
	if f := one(t, tk, EventLegFailed); f["agent"] != "wang" || !strings.Contains(f["error"], "Allocation failed") {
		t.Errorf("leg failed %v", f)
	}
	if ans := one(t, tk, EventAnswered); ans["number"] != "+8613800000009" {
		t.Errorf("answered %v", ans)
	}
	r.clean()
}

func atof(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
