package sla_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/calendar"
	"github.com/hotline-desk/hotline/ticketing/sla"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

// clock is an injected, settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// office is the issue's calendar: 09:00-17:00 Mon-Fri, 2026-10-01..07
// holidays, Saturday 2026-10-10 a working day.
func office(t *testing.T) *calendar.Calendar {
	c, err := calendar.New(calendar.Spec{Name: "office", Days: [7]bool{false, true, true, true, true, true, false},
		Open: 9 * time.Hour, Close: 17 * time.Hour,
		Holidays: []string{"2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07"},
		Workdays: []string{"2026-10-10"}}, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type tiers map[int][2]string

func (m tiers) Escalate(tier int, now time.Time) (string, string, bool) {
	g, ok := m[tier]
	return g[0], g[1], ok
}

type fixture struct {
	store  *sqlite.Store
	desk   *ticketing.Desk
	clocks *sla.Clocks
	clock  *clock
}

func newFixture(t *testing.T) *fixture {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "hotline.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, clock: &clock{}}
	f.clocks = sla.New(sla.Config{Targets: map[ticketing.Priority]sla.Target{
		ticketing.P1: {Response: 15 * time.Minute, Resolve: 4 * time.Hour, Calendar: calendar.TwentyFourSeven(shanghai)},
		ticketing.P2: {Response: 2 * time.Hour, Resolve: 24 * time.Hour, Calendar: office(t)},
		ticketing.P3: {Response: 4 * time.Hour, Resolve: 16 * time.Hour, Calendar: office(t)},
	}, Escalator: tiers{2: {"二线支持", "wang"}, 3: {"专家组", "zhao"}}})
	f.desk = ticketing.NewDesk(st, ticketing.DeskConfig{Location: shanghai, Now: f.clock.Now, Hooks: []ticketing.Hook{f.clocks},
		ReopenWindow: 7 * 24 * time.Hour})
	f.clocks.Attach(f.desk, "test-worker")
	return f
}

func (f *fixture) open(t *testing.T, p ticketing.Priority, received string) *ticketing.Ticket {
	t.Helper()
	f.clock.Set(at(received))
	r, err := f.desk.Open(context.Background(), ticketing.OpenParams{Channel: ticketing.ChannelWeb, Priority: p,
		Subject: "打印机无法打印", Caller: ticketing.Party{Name: "张三", Email: "zhangsan@example.com"}, ReceivedAt: at(received)})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := f.desk.Get(context.Background(), r.Number)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func (f *fixture) update(t *testing.T, when string, number string, u ticketing.Update) *ticketing.Ticket {
	t.Helper()
	f.clock.Set(at(when))
	tk, err := f.desk.Update(context.Background(), number, u, "zhang")
	if err != nil {
		t.Fatalf("update at %s: %v", when, err)
	}
	return tk
}

func ptr[T any](v T) *T { return &v }

func local(t *time.Time) string {
	if t == nil {
		return "<nil>"
	}
	return t.In(shanghai).Format("2006-01-02 15:04")
}

// The issue's case, exactly: P2 (2h / 24h) on the office calendar,
// received Wednesday 2026-09-30 16:00 +08:00.
func TestIssueCaseDues(t *testing.T) {
	f := newFixture(t)
	tk := f.open(t, ticketing.P2, "2026-09-30 16:00")
	if got := local(tk.ResponseDue); got != "2026-10-08 10:00" {
		t.Errorf("response due %s, want 2026-10-08 10:00", got)
	}
	if got := local(tk.ResolveDue); got != "2026-10-10 16:00" {
		t.Errorf("resolve due %s, want 2026-10-10 16:00 (the working Saturday)", got)
	}
}

func TestDuesTable(t *testing.T) {
	type step struct {
		at string
		u  ticketing.Update
	}
	inProgress, pending := ticketing.StatusInProgress, ticketing.StatusPending
	cases := []struct {
		name          string
		priority      ticketing.Priority
		received      string
		steps         []step
		response, res string
	}{
		{name: "24x7 crosses midnight", priority: ticketing.P1, received: "2026-09-29 23:50",
			response: "2026-09-30 00:05", res: "2026-09-30 03:50"},
		{name: "24x7 ignores the holidays", priority: ticketing.P1, received: "2026-10-01 22:00",
			response: "2026-10-01 22:15", res: "2026-10-02 02:00"},
		{name: "office: received at night starts at opening", priority: ticketing.P3, received: "2026-09-28 20:00",
			response: "2026-09-29 13:00", res: "2026-09-30 17:00"},
		{name: "office: weekend crossing", priority: ticketing.P2, received: "2026-09-25 16:30",
			response: "2026-09-28 10:30", res: "2026-09-30 16:30"},
		{name: "pending pauses both clocks, the reply resumes them", priority: ticketing.P2, received: "2026-09-28 09:00",
			steps: []step{
				{"2026-09-28 09:10", ticketing.Update{Assignee: ptr("zhang")}},
				{"2026-09-28 09:30", ticketing.Update{Status: &inProgress}}, // the response
				{"2026-09-28 10:00", ticketing.Update{Status: &pending}},
				// 10:00-17:00 and 09:00-10:00 the next day: 8 business hours paused.
				{"2026-09-29 10:00", ticketing.Update{Status: &inProgress}},
			},
			// Responded before the pause: the response due stays. The resolve
			// due moves 8 hours: from Wed 17:00 past the holidays.
			response: "2026-09-28 11:00", res: "2026-10-08 17:00"},
		{name: "changing the priority recomputes the dues", priority: ticketing.P3, received: "2026-09-30 16:00",
			steps:    []step{{"2026-09-30 16:10", ticketing.Update{Priority: ptr(ticketing.P2)}}},
			response: "2026-10-08 10:00", res: "2026-10-10 16:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tk := f.open(t, tc.priority, tc.received)
			for _, s := range tc.steps {
				tk = f.update(t, s.at, tk.Number, s.u)
			}
			if got := local(tk.ResponseDue); got != tc.response {
				t.Errorf("response due %s, want %s", got, tc.response)
			}
			if got := local(tk.ResolveDue); got != tc.res {
				t.Errorf("resolve due %s, want %s", got, tc.res)
			}
		})
	}
}

func TestPendingDuesMoveWhileWaiting(t *testing.T) {
	f := newFixture(t)
	tk := f.open(t, ticketing.P2, "2026-09-28 09:00")
	tk = f.update(t, "2026-09-28 09:10", tk.Number, ticketing.Update{Assignee: ptr("zhang"), Status: nil})
	tk = f.update(t, "2026-09-28 09:20", tk.Number, ticketing.Update{Status: ptr(ticketing.StatusInProgress)})
	tk = f.update(t, "2026-09-28 10:00", tk.Number, ticketing.Update{Status: ptr(ticketing.StatusPending)})
	if tk.PausedSince == nil || !tk.PausedSince.Equal(at("2026-09-28 10:00")) {
		t.Fatalf("paused since %v", tk.PausedSince)
	}
	// The customer replies by mail: the ticket goes back to work and the
	// clock resumes, 2 business hours later.
	f.clock.Set(at("2026-09-28 12:00"))
	if _, err := f.desk.Append(context.Background(), ticketing.AppendParams{TicketID: tk.ID, FromCustomer: true, Text: "补充：型号是 HP 1020",
		Events: []ticketing.Event{ticketing.NewEvent(at("2026-09-28 12:00"), ticketing.EventContact, "channel:email", nil)}}); err != nil {
		t.Fatal(err)
	}
	tk, _ = f.desk.Get(context.Background(), tk.Number)
	if tk.Status != ticketing.StatusInProgress || tk.PausedSince != nil || tk.Paused != 2*time.Hour {
		t.Fatalf("after the reply: status %s, paused since %v, paused %s", tk.Status, tk.PausedSince, tk.Paused)
	}
	if got := local(tk.ResolveDue); got != "2026-10-08 11:00" {
		t.Errorf("resolve due %s, want Wed 17:00 plus 2h = 2026-10-08 11:00", got)
	}
}

// claim leases the due timers as a runner would at the clock's time.
func (f *fixture) claim(t *testing.T) []*ticketing.Job {
	t.Helper()
	js, err := f.store.JobClaim(context.Background(), ticketing.JobClaimParams{Worker: "test-worker", Kinds: []string{sla.JobTimer},
		Now: f.clock.Now(), Lease: time.Minute, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func (f *fixture) fire(t *testing.T, when string) int {
	t.Helper()
	f.clock.Set(at(when))
	js := f.claim(t)
	for _, j := range js {
		err := f.clocks.Work(context.Background(), j)
		switch {
		case errors.Is(err, jobs.ErrFinished):
		case err == nil:
			if err := f.store.JobFinish(context.Background(), ticketing.JobFinishParams{ID: j.ID, Worker: "test-worker", At: f.clock.Now()}); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("timer at %s: %v", when, err)
		}
	}
	return len(js)
}

func count(tk *ticketing.Ticket, typ string) int {
	n := 0
	for _, e := range tk.Events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestWarningThenEscalation(t *testing.T) {
	f := newFixture(t)
	// P1 on 24x7: response 15m (warn at 11m15s), resolve 4h (warn at 3h).
	tk := f.open(t, ticketing.P1, "2026-09-29 10:00")
	tk = f.update(t, "2026-09-29 10:01", tk.Number, ticketing.Update{Assignee: ptr("zhang"), Group: ptr("一线服务台")})
	if n := f.fire(t, "2026-09-29 10:05"); n != 0 {
		t.Fatalf("%d timers fired before the warning was due", n)
	}
	// The ticket's first timer (made before it had an id) and its keyed
	// one may both be due: the warning is still written once.
	if n := f.fire(t, "2026-09-29 10:12"); n == 0 {
		t.Fatal("no timer at the warning")
	}
	tk, _ = f.desk.Get(context.Background(), tk.Number)
	if count(tk, sla.EventWarning) != 1 || count(tk, sla.EventEscalated) != 0 || !tk.Flags.Has(ticketing.ResponseWarned) {
		t.Fatalf("after the warning: %d warnings, %d escalations, flags %b", count(tk, sla.EventWarning), count(tk, sla.EventEscalated), tk.Flags)
	}
	// The same moment again: nothing more.
	if n := f.fire(t, "2026-09-29 10:13"); n != 0 {
		t.Fatalf("%d timers fired twice", n)
	}
	if n := f.fire(t, "2026-09-29 10:15"); n != 1 {
		t.Fatalf("%d timers at the breach, want 1", n)
	}
	tk, _ = f.desk.Get(context.Background(), tk.Number)
	if tk.Tier != 2 || tk.Group != "二线支持" || tk.Assignee != "wang" || tk.Escalations != 1 ||
		count(tk, sla.EventBreached) != 1 || count(tk, sla.EventEscalated) != 1 {
		t.Fatalf("after the breach: tier %d group %s assignee %s escalations %d breaches %d", tk.Tier, tk.Group, tk.Assignee,
			tk.Escalations, count(tk, sla.EventBreached))
	}
	// Taken into work late; the resolve clock still runs: warning at 13:00,
	// breach (tier 3) at 14:00.
	tk = f.update(t, "2026-09-29 10:30", tk.Number, ticketing.Update{Status: ptr(ticketing.StatusInProgress)})
	f.fire(t, "2026-09-29 13:00")
	f.fire(t, "2026-09-29 14:00")
	tk, _ = f.desk.Get(context.Background(), tk.Number)
	if tk.Tier != 3 || tk.Assignee != "zhao" || count(tk, sla.EventWarning) != 2 || count(tk, sla.EventEscalated) != 2 {
		t.Fatalf("after the resolve breach: tier %d assignee %s warnings %d escalations %d", tk.Tier, tk.Assignee,
			count(tk, sla.EventWarning), count(tk, sla.EventEscalated))
	}
	if n := f.fire(t, "2026-09-30 14:00"); n != 0 {
		t.Fatalf("%d timers after every step was done", n)
	}
}

func TestNoTimerWhileResolvedOrPending(t *testing.T) {
	f := newFixture(t)
	tk := f.open(t, ticketing.P1, "2026-09-29 10:00")
	tk = f.update(t, "2026-09-29 10:01", tk.Number, ticketing.Update{Assignee: ptr("zhang")})
	tk = f.update(t, "2026-09-29 10:02", tk.Number, ticketing.Update{Status: ptr(ticketing.StatusInProgress)})
	tk = f.update(t, "2026-09-29 10:03", tk.Number, ticketing.Update{Status: ptr(ticketing.StatusPending)})
	f.fire(t, "2026-09-29 20:00")
	tk, _ = f.desk.Get(context.Background(), tk.Number)
	if count(tk, sla.EventWarning)+count(tk, sla.EventBreached) != 0 {
		t.Fatalf("the clock ran while pending: %+v", tk.Events)
	}
}
