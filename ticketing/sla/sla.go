// Package sla runs the service-level clocks of tickets: response and
// resolution targets per priority, counted in the open hours of a business
// calendar from received_at, standing while the ticket waits for the
// customer (pending). It keeps response_due and resolve_due on every
// change, and one durable timer per ticket that warns the assignee at a
// share of a target (75 % by default) and escalates at the breach: the tier
// goes up and the ticket moves to the next tier's group.
package sla

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/calendar"
)

// JobTimer is the kind of the per-ticket SLA timer job.
const JobTimer = "sla.timer"

// Event types the clocks write.
const (
	EventWarning   = "sla_warning"
	EventBreached  = "sla_breached"
	EventEscalated = "escalated"
)

// Clock names, as events and metrics write them.
const (
	Response = "response"
	Resolve  = "resolve"
)

// Target is one priority's targets and the calendar they count on.
type Target struct {
	Response, Resolve time.Duration
	Calendar          *calendar.Calendar
}

// Escalator finds who takes a ticket at a tier: the group and its first
// agent on duty at now. ok is false when no group serves the tier.
type Escalator interface {
	Escalate(tier int, now time.Time) (group, assignee string, ok bool)
}

// Monitor records the clocks' outcomes (metrics.Process).
type Monitor interface {
	SLAWarned(priority, clock string)
	SLABreached(priority, clock string)
	Escalated(tier int)
	TimerLag(d time.Duration)
}

type Config struct {
	Targets map[ticketing.Priority]Target
	// WarnAt is the share of a target at which the assignee is warned.
	WarnAt    float64
	Escalator Escalator
	Monitor   Monitor
	Log       *slog.Logger
}

// Clocks is the SLA hook on the desk and the handler of its timers.
type Clocks struct {
	cfg  Config
	desk *ticketing.Desk
	// worker is the name the timers' runner leases jobs under: a timer's
	// effect finishes its job in the same commit.
	worker string
}

// New makes the clocks. Attach them to the desk with Attach before timers
// run.
func New(cfg Config) *Clocks {
	if cfg.WarnAt <= 0 || cfg.WarnAt >= 1 {
		cfg.WarnAt = 0.75
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Clocks{cfg: cfg}
}

// Attach gives the clocks the desk their timers change tickets through,
// and the worker name of the runner that runs the timers.
func (c *Clocks) Attach(desk *ticketing.Desk, worker string) {
	c.desk, c.worker = desk, worker
}

func (c *Clocks) target(p ticketing.Priority) (Target, bool) {
	t, ok := c.cfg.Targets[p]
	if ok && t.Calendar == nil {
		t.Calendar = calendar.TwentyFourSeven(time.UTC)
	}
	return t, ok
}

// Change keeps the ticket's clocks: pauses, the first response, the dues,
// and the timer for the next warning or breach.
func (c *Clocks) Change(ctx context.Context, ch *ticketing.Change) error {
	t, b, now := ch.After, ch.Before, ch.Now
	if t.Priority == "" {
		// Opened without a priority: the desk gives the default after
		// the hooks, so count on it already.
		t.Priority = ticketing.DefaultPriority
	}
	target, ok := c.target(t.Priority)
	if !ok {
		return nil
	}
	cal := target.Calendar
	wasPending := b != nil && b.Status == ticketing.StatusPending
	switch {
	case t.Status == ticketing.StatusPending && !wasPending:
		t.PausedSince = &now
	case wasPending && t.Status != ticketing.StatusPending && t.PausedSince != nil:
		t.Paused += cal.Between(*t.PausedSince, now)
		t.PausedSince = nil
	}
	switch t.Status {
	case ticketing.StatusInProgress, ticketing.StatusPending, ticketing.StatusResolved:
		if t.RespondedAt == nil {
			t.RespondedAt = &now
		}
	}
	if b != nil {
		if !b.Status.Open() && t.Status == ticketing.StatusInProgress {
			t.Reopens++
		}
		if b.Assignee != "" && t.Assignee != b.Assignee {
			t.Reassigns++
		}
	}
	d := c.dues(t, target, now)
	t.ResponseDue, t.ResolveDue = &d.responseDue, &d.resolveDue
	if next, ok := d.next(t); ok && t.Status.Open() && t.Status != ticketing.StatusPending {
		ch.Jobs = append(ch.Jobs, timerJob(t.ID, next))
	}
	return nil
}

// timerJob is the ticket's one timer. A new ticket has no id yet, so its
// first timer has no unique key; later changes reschedule the keyed one,
// and the first timer, when it fires, hands over to it.
func timerJob(ticketID int64, at time.Time) ticketing.JobSpec {
	j := ticketing.JobSpec{Kind: JobTimer, TicketID: ticketID, RunAt: at, MaxAttempts: 1 << 20}
	if ticketID != 0 {
		j.UniqueKey, j.Reschedule = timerKey(ticketID), true
	}
	return j
}

func timerKey(ticketID int64) string { return "sla:" + strconv.FormatInt(ticketID, 10) }

// dues are a ticket's SLA moments.
type dues struct {
	responseWarn, responseDue time.Time
	resolveWarn, resolveDue   time.Time
}

// dues counts the targets from received_at, the resolution's plus the
// business time the clocks stood. While the ticket is pending, the current
// pause counts up to now: the due moves on as long as the customer is
// awaited. The response target needs no pauses: a ticket waits for its
// customer only after an agent responded.
func (c *Clocks) dues(t *ticketing.Ticket, target Target, now time.Time) dues {
	cal := target.Calendar
	paused := t.Paused
	if t.PausedSince != nil {
		paused += cal.Between(*t.PausedSince, now)
	}
	at := func(d time.Duration) time.Time { return cal.Add(t.ReceivedAt, d).UTC() }
	warn := func(d time.Duration) time.Duration { return time.Duration(float64(d) * c.cfg.WarnAt) }
	return dues{
		responseWarn: at(warn(target.Response)), responseDue: at(target.Response),
		resolveWarn: at(warn(target.Resolve) + paused), resolveDue: at(target.Resolve + paused),
	}
}

type step struct {
	clock  string
	breach bool
	at     time.Time
	flag   ticketing.SLAFlags
}

// steps are the warnings and breaches still to come for t.
func (d dues) steps(t *ticketing.Ticket) []step {
	var out []step
	if t.RespondedAt == nil {
		out = append(out, step{Response, false, d.responseWarn, ticketing.ResponseWarned},
			step{Response, true, d.responseDue, ticketing.ResponseBreached})
	}
	if t.Status.Open() {
		out = append(out, step{Resolve, false, d.resolveWarn, ticketing.ResolveWarned},
			step{Resolve, true, d.resolveDue, ticketing.ResolveBreached})
	}
	var left []step
	for _, s := range out {
		if !t.Flags.Has(s.flag) {
			left = append(left, s)
		}
	}
	return left
}

func (d dues) next(t *ticketing.Ticket) (time.Time, bool) {
	var next time.Time
	for _, s := range d.steps(t) {
		if next.IsZero() || s.at.Before(next) {
			next = s.at
		}
	}
	return next, !next.IsZero()
}

// Work runs a ticket's timer: the warnings and breaches that are due are
// written, with the escalation, in the commit that finishes the job.
func (c *Clocks) Work(ctx context.Context, j *ticketing.Job) error {
	if c.desk == nil {
		return errors.New("sla clocks are not attached to a desk")
	}
	c.monitor().TimerLag(c.desk.Now().Sub(j.RunAt))
	var next time.Time
	fired, err := c.desk.Fire(ctx, ticketing.FireParams{
		TicketID: j.TicketID, Actor: "system:sla",
		Finish: ticketing.JobFinishParams{ID: j.ID, Worker: c.worker},
		Apply: func(t *ticketing.Ticket, now time.Time) ([]ticketing.Event, error) {
			evs, n := c.due(t, now)
			next = n
			return evs, nil
		},
	})
	if errors.Is(err, ticketing.ErrNotFound) {
		return jobs.Permanent(err)
	}
	if err != nil || fired {
		if err == nil {
			return jobs.ErrFinished
		}
		return err
	}
	// Nothing due (the dues moved on, the ticket is waiting or done): wait
	// for the next step, or end.
	if next.IsZero() || c.desk.Store() == nil {
		return nil
	}
	if j.UniqueKey == "" {
		// The first timer of a ticket: hand over to the keyed one.
		if err := c.desk.Store().JobInsert(ctx, []ticketing.JobSpec{timerJob(j.TicketID, next)}); err != nil {
			return err
		}
		return nil
	}
	if err := c.desk.Store().JobFinish(ctx, ticketing.JobFinishParams{ID: j.ID, Worker: c.worker, At: c.desk.Now(),
		Error: "waiting for the next SLA step", RetryAt: next}); err != nil {
		return err
	}
	return jobs.ErrFinished
}

// due applies the steps due at now to t and returns their events, and the
// time of the step after them.
func (c *Clocks) due(t *ticketing.Ticket, now time.Time) ([]ticketing.Event, time.Time) {
	target, ok := c.target(t.Priority)
	if !ok || !t.Status.Open() || t.Status == ticketing.StatusPending {
		return nil, time.Time{}
	}
	d := c.dues(t, target, now)
	var evs []ticketing.Event
	for _, s := range d.steps(t) {
		if s.at.After(now) {
			continue
		}
		t.Flags |= s.flag
		data := map[string]any{"clock": s.clock, "due": s.at, "priority": t.Priority}
		if !s.breach {
			data["percent"] = int(c.cfg.WarnAt * 100)
			data["assignee"] = t.Assignee
			evs = append(evs, ticketing.NewEvent(now, EventWarning, "system:sla", data))
			c.monitor().SLAWarned(string(t.Priority), s.clock)
			continue
		}
		// A breach implies its warning: it is not sent after the fact.
		if s.clock == Response {
			t.Flags |= ticketing.ResponseWarned
		} else {
			t.Flags |= ticketing.ResolveWarned
		}
		evs = append(evs, ticketing.NewEvent(now, EventBreached, "system:sla", data))
		c.monitor().SLABreached(string(t.Priority), s.clock)
		evs = append(evs, c.escalate(t, now, s.clock)...)
	}
	next, _ := d.next(t)
	return evs, next
}

// escalate raises the tier and moves the ticket to the next tier's group
// (逐级向上). At tier 3 there is no higher tier: the breach is recorded and
// the escalation list is still told (see the notifications).
func (c *Clocks) escalate(t *ticketing.Ticket, now time.Time, clock string) []ticketing.Event {
	from := t.Tier
	to := min(from+1, 3)
	data := map[string]any{"clock": clock, "from_tier": from, "to_tier": to}
	var evs []ticketing.Event
	if to > from {
		t.Tier = to
		t.Escalations++
		c.monitor().Escalated(to)
		if c.cfg.Escalator != nil {
			if group, assignee, ok := c.cfg.Escalator.Escalate(to, now); ok {
				data["group"] = group
				if group != t.Group {
					t.Group = group
				}
				if assignee != "" && assignee != t.Assignee {
					evs = append(evs, ticketing.NewEvent(now, ticketing.EventAssigned, "system:sla",
						map[string]string{"from": t.Assignee, "to": assignee}))
					t.Assignee = assignee
				}
				data["assignee"] = t.Assignee
			}
		}
	}
	return append([]ticketing.Event{ticketing.NewEvent(now, EventEscalated, "system:sla", data)}, evs...)
}

func (c *Clocks) monitor() Monitor {
	if c.cfg.Monitor == nil {
		return nopMonitor{}
	}
	return c.cfg.Monitor
}

type nopMonitor struct{}

func (nopMonitor) SLAWarned(string, string)   {}
func (nopMonitor) SLABreached(string, string) {}
func (nopMonitor) Escalated(int)              {}
func (nopMonitor) TimerLag(time.Duration)     {}

// StepData is the data of a warning, breach or escalation event, for the
// notifications that tell people about it.
type StepData struct {
	Clock    string    `json:"clock"`
	Due      time.Time `json:"due"`
	Percent  int       `json:"percent"`
	FromTier int       `json:"from_tier"`
	ToTier   int       `json:"to_tier"`
	Group    string    `json:"group"`
	Assignee string    `json:"assignee"`
}

// ReadStep decodes a step event's data.
func ReadStep(e ticketing.Event) (StepData, error) {
	var d StepData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return d, fmt.Errorf("read %s event: %w", e.Type, err)
	}
	return d, nil
}
