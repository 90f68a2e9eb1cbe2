package ticketing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hotline-desk/hotline/ticketing/e164"
)

// ErrInvalid marks bad input: the HTTP API answers it with 400, and the
// journal does not retry it.
var ErrInvalid = errors.New("invalid")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// NoSubject is the subject of a contact that came without one.
const NoSubject = "(no subject)"

// Limits on free text, so that one bad contact cannot bloat the store.
const (
	maxSubject     = 1000
	maxDescription = 1 << 20
)

// Desk is the ticket core's service: it applies the lifecycle, numbering
// and customer rules on top of a Store. Every path that changes a ticket
// (the intake, the HTTP API, timers) goes through it.
type Desk struct {
	store    Store
	prefix   string
	loc      *time.Location
	life     Lifecycle
	now      func() time.Time
	log      *slog.Logger
	hooks    []Hook
	priority func(impact, urgency string) (Priority, error)
}

type DeskConfig struct {
	Prefix       string         // ticket number prefix, e.g. HL
	Location     *time.Location // the desk's timezone: numbering days, reports
	ReopenWindow time.Duration
	Now          func() time.Time // injectable clock; time.Now by default
	Log          *slog.Logger
	// Hooks see every change before it is written, in order (routing, SLA
	// clocks, notifications), and add to it.
	Hooks []Hook
	// Priority maps an impact and urgency to a priority (the ITIL
	// matrix), for updates that give those instead of a priority.
	Priority func(impact, urgency string) (Priority, error)
}

// Hook is a part of the service-desk process that acts on every change of
// a ticket, in the same commit: the SLA clock sets the dues and timers,
// notifications queue their mails and webhooks.
type Hook interface {
	Change(ctx context.Context, c *Change) error
}

// HookFunc adapts a function to Hook.
type HookFunc func(ctx context.Context, c *Change) error

func (f HookFunc) Change(ctx context.Context, c *Change) error { return f(ctx, c) }

// Change is one change of a ticket on its way to the store. Hooks may set
// fields of After and add events and jobs.
type Change struct {
	// Before is the ticket as stored; nil when the ticket is being opened
	// (After.ID is 0 then: jobs get their ticket id from the store).
	Before *Ticket
	After  *Ticket
	Actor  string
	Now    time.Time
	Events []Event
	Jobs   []JobSpec
}

// Opened reports whether the change creates the ticket.
func (c *Change) Opened() bool { return c.Before == nil }

// Has reports whether the change carries an event of type typ.
func (c *Change) Has(typ string) bool {
	for _, e := range c.Events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// Use adds hooks after those of the config. Call it while wiring, before
// the desk takes any change.
func (d *Desk) Use(hooks ...Hook) { d.hooks = append(d.hooks, hooks...) }

// UsePriority sets the impact × urgency matrix of updates. Call it while
// wiring.
func (d *Desk) UsePriority(f func(impact, urgency string) (Priority, error)) { d.priority = f }

func (d *Desk) runHooks(ctx context.Context, c *Change) error {
	for _, h := range d.hooks {
		if err := h.Change(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func NewDesk(store Store, cfg DeskConfig) *Desk {
	d := &Desk{store: store, prefix: cfg.Prefix, loc: cfg.Location, life: Lifecycle{ReopenWindow: cfg.ReopenWindow},
		now: cfg.Now, log: cfg.Log, hooks: cfg.Hooks, priority: cfg.Priority}
	if d.prefix == "" {
		d.prefix = "HL"
	}
	if d.loc == nil {
		d.loc = time.UTC
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	return d
}

// Now is the desk's clock, cut to the microsecond both stores keep.
func (d *Desk) Now() time.Time { return d.now().UTC().Truncate(time.Microsecond) }

// Location is the desk's timezone.
func (d *Desk) Location() *time.Location { return d.loc }

// Store gives the store to the parts of the core built on the desk.
func (d *Desk) Store() Store { return d.store }

// OpenParams describe a new ticket.
type OpenParams struct {
	Contact     *ContactKey
	Channel     Channel
	Kind        Kind
	Priority    Priority
	Subject     string
	Description string
	Caller      Party
	ReceivedAt  time.Time
	Actor       string
	// Detail goes into the created event's data (channel metadata).
	Detail       map[string]string
	LinkedTo     string // the ticket this one was opened beside
	Events       []Event
	Attachments  []AttachmentInput
	ThreadKeys   []string
	Participants []string
	Jobs         []JobSpec
}

// Open creates a ticket, numbered on today's local date, with the caller
// matched to a known customer. It is idempotent by p.Contact.
func (d *Desk) Open(ctx context.Context, p OpenParams) (IntakeResult, error) {
	if !p.Channel.Valid() {
		return IntakeResult{}, invalidf("unknown channel %q", p.Channel)
	}
	if p.Kind == "" {
		p.Kind = KindInquiry
	}
	if !p.Kind.Valid() {
		return IntakeResult{}, invalidf("unknown kind %q", p.Kind)
	}
	if p.Priority != "" && !p.Priority.Valid() {
		return IntakeResult{}, invalidf("unknown priority %q", p.Priority)
	}
	now := d.Now()
	if p.ReceivedAt.IsZero() {
		p.ReceivedAt = now
	}
	caller, detail, err := d.caller(ctx, p.Caller)
	if err != nil {
		return IntakeResult{}, err
	}
	for k, v := range p.Detail {
		detail[k] = v
	}
	detail["channel"] = string(p.Channel)
	if p.LinkedTo != "" {
		detail["linked_to"] = p.LinkedTo
	}
	t := Ticket{
		Channel: p.Channel, Kind: p.Kind, Priority: p.Priority, Status: StatusNew, Tier: 1,
		Subject: cleanSubject(p.Subject), Description: clip(p.Description, maxDescription),
		Caller: caller.Party, CustomerID: caller.customerID,
		ReceivedAt: p.ReceivedAt.UTC().Truncate(time.Microsecond), CreatedAt: now, UpdatedAt: now,
	}
	actor := actorOr(p.Actor, "channel:"+string(p.Channel))
	events := append([]Event{NewEvent(now, EventCreated, actor, detail)}, p.Events...)
	// Routing may set the priority; what nothing sets gets the default.
	c := &Change{After: &t, Actor: actor, Now: now, Events: events, Jobs: p.Jobs}
	if err := d.runHooks(ctx, c); err != nil {
		return IntakeResult{}, fmt.Errorf("open ticket: %w", err)
	}
	if t.Priority == "" {
		t.Priority = DefaultPriority
	}
	return d.store.TicketCreate(ctx, &TicketCreateParams{
		Prefix: d.prefix, Day: now.In(d.loc), Ticket: t, Contact: p.Contact, Events: stamp(c.Events, now),
		Attachments: p.Attachments, ThreadKeys: p.ThreadKeys,
		Participants: participants(caller.Party, p.Participants), Jobs: c.Jobs,
	})
}

type matchedCaller struct {
	Party
	customerID int64
}

// caller normalizes the caller's phone and e-mail and fills in what a known
// customer's record says. It returns what the contact itself said, for the
// created event.
func (d *Desk) caller(ctx context.Context, in Party) (matchedCaller, map[string]string, error) {
	detail := map[string]string{}
	out := matchedCaller{Party: in}
	out.Name = strings.TrimSpace(in.Name)
	if raw := strings.TrimSpace(in.Phone); raw != "" {
		if n, err := e164.Normalize(raw); err == nil {
			out.Phone = n
		} else {
			// A carrier that sends "anonymous" or "sipp" still makes a
			// contact; the odd value is kept on the timeline.
			out.Phone = ""
			detail["caller_number"] = raw
		}
	}
	out.Email = strings.ToLower(strings.TrimSpace(in.Email))
	var find CustomerFindParams
	if out.Phone != "" {
		find.Phones = []string{out.Phone}
	}
	if out.Email != "" {
		find.Emails = []string{out.Email}
	}
	if len(find.Phones)+len(find.Emails) == 0 {
		return out, detail, nil
	}
	found, err := d.store.CustomerFind(ctx, find)
	if err != nil {
		return out, nil, fmt.Errorf("match customer: %w", err)
	}
	if len(found) == 0 {
		return out, detail, nil
	}
	c := found[0]
	// The customer record is the desk's own data; a carrier's display name
	// is often a placeholder. What the contact said stays on the timeline.
	if out.Name != "" && out.Name != c.Name {
		detail["caller_name"] = out.Name
	}
	out.Name, out.Organization, out.customerID = c.Name, c.Organization, c.ID
	if out.Email == "" && len(c.Emails) > 0 {
		out.Email = c.Emails[0]
	}
	detail["customer_id"] = fmt.Sprint(c.ID)
	return out, detail, nil
}

func participants(caller Party, more []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(a string) {
		a = strings.ToLower(strings.TrimSpace(a))
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	add(caller.Email)
	add(caller.Phone)
	for _, a := range more {
		add(a)
	}
	return out
}

func cleanSubject(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return NoSubject
	}
	return clip(s, maxSubject)
}

// clip cuts s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func actorOr(actor, def string) string {
	if actor == "" {
		return def
	}
	return actor
}

// stamp dates events that came without a time. It works on a copy: the
// caller's slice may be read at the same time (the call intake journals a
// note whose store write timed out while that write still runs).
func stamp(events []Event, now time.Time) []Event {
	events = slices.Clone(events)
	for i := range events {
		if events[i].At.IsZero() {
			events[i].At = now
		}
		events[i].At = events[i].At.UTC().Truncate(time.Microsecond)
	}
	return events
}

// AppendParams add a contact (or a note) to an existing ticket.
type AppendParams struct {
	TicketID     int64
	Contact      *ContactKey
	Events       []Event
	Attachments  []AttachmentInput
	ThreadKeys   []string
	Participants []string
	Jobs         []JobSpec
	// FromCustomer is set when the customer wrote or called again: a ticket
	// waiting for them goes back to work, and a resolved one is confirmed
	// (closed) or goes back to work, as the reply says.
	FromCustomer bool
	// Text is what the customer said (a reply's body). When empty, the
	// body of the contact event in Events is used.
	Text string
}

// Append adds to a ticket, idempotently by p.Contact.
func (d *Desk) Append(ctx context.Context, p AppendParams) (IntakeResult, error) {
	now := d.Now()
	res, err := d.store.TicketAppend(ctx, &TicketAppendParams{
		TicketID: p.TicketID, Contact: p.Contact, Events: stamp(p.Events, now), Attachments: p.Attachments,
		ThreadKeys: p.ThreadKeys, Participants: participants(Party{}, p.Participants), Jobs: p.Jobs, At: now,
	})
	if err != nil || res.Duplicate || !p.FromCustomer {
		return res, err
	}
	text := p.Text
	if text == "" {
		text = contactText(p.Events)
	}
	err = d.change(ctx, TicketGetParams{ID: p.TicketID}, "customer", func(t *Ticket) ([]Event, error) {
		switch t.Status {
		case StatusPending:
			return d.setStatus(t, StatusInProgress, "customer", now, "the customer replied")
		case StatusResolved:
			answer := ReadConfirmation(text)
			if answer == Confirmed {
				return d.confirm(t, now, "reply")
			}
			return d.setStatus(t, StatusInProgress, "customer", now, answer.reason())
		}
		return nil, nil
	})
	return res, err
}

// contactText is the text of the contact event among events.
func contactText(events []Event) string {
	for _, e := range events {
		if e.Type != EventContact || len(e.Data) == 0 {
			continue
		}
		var data struct {
			Subject string `json:"subject"`
			Body    string `json:"body"`
		}
		if json.Unmarshal(e.Data, &data) == nil {
			return data.Body
		}
	}
	return ""
}

// EventConfirmed records the customer's confirmation of a resolution.
const EventConfirmed = "confirmed"

// confirm closes a resolved ticket on the customer's word.
func (d *Desk) confirm(t *Ticket, now time.Time, via string) ([]Event, error) {
	evs, err := d.setStatus(t, StatusClosed, "customer", now, "the customer confirmed the resolution")
	if err != nil {
		return nil, err
	}
	t.ConfirmedAt = &now
	return append([]Event{NewEvent(now, EventConfirmed, "customer", map[string]string{"via": via})}, evs...), nil
}

// ErrLinkUsed is a confirmation link whose ticket is no longer waiting
// for that confirmation: used already, or the ticket changed since.
var ErrLinkUsed = errors.New("this confirmation link was used already or no longer applies")

// Confirm closes the ticket on the customer's confirmation by link. The
// link names the resolution it confirms (resolvedAt): once the ticket is
// closed or resolved again, the link does no more.
func (d *Desk) Confirm(ctx context.Context, ticketID int64, resolvedAt time.Time) (*Ticket, error) {
	now := d.Now()
	var out *Ticket
	err := d.change(ctx, TicketGetParams{ID: ticketID}, "customer", func(t *Ticket) ([]Event, error) {
		out = t
		if t.Status != StatusResolved || t.ResolvedAt == nil || !t.ResolvedAt.Equal(resolvedAt) {
			return nil, ErrLinkUsed
		}
		return d.confirm(t, now, "link")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FireParams describe a timer's effect on a ticket.
type FireParams struct {
	TicketID int64
	// Finish marks the timer's job done in the commit of its effect.
	Finish JobFinishParams
	Actor  string
	// Apply changes the ticket and returns the events of the change; none
	// means the timer has nothing to do (nothing is written, the job is
	// not finished: the caller decides what becomes of it).
	Apply func(t *Ticket, now time.Time) ([]Event, error)
}

// Fire applies a timer's effect, with the hooks, and finishes the timer's
// job in the same commit, so that the effect happens exactly once however
// many instances run the timer. It reports whether anything was written.
func (d *Desk) Fire(ctx context.Context, p FireParams) (bool, error) {
	fired := false
	err := d.changeWith(ctx, TicketGetParams{ID: p.TicketID}, p.Actor, func(t *Ticket) ([]Event, error) {
		evs, err := p.Apply(t, d.Now())
		fired = len(evs) > 0
		return evs, err
	}, &p.Finish)
	return fired, err
}

// AutoClose closes a resolved ticket the customer never answered, if it is
// still the resolution resolvedAt names.
func (d *Desk) AutoClose(t *Ticket, now time.Time, resolvedAt time.Time, after time.Duration) ([]Event, error) {
	if t.Status != StatusResolved || t.ResolvedAt == nil || !t.ResolvedAt.Equal(resolvedAt) {
		return nil, nil
	}
	evs, err := d.setStatus(t, StatusClosed, "system", now, "no answer from the customer")
	if err != nil {
		return nil, err
	}
	note := NewEvent(now, EventComment, "system", map[string]string{
		"body": fmt.Sprintf("自动关闭：客户在 %s 内未确认也未回复。 Closed automatically: no answer from the customer within %s.", after, after)})
	return append(evs, note), nil
}

// Update is a change asked for by an agent or the API. Nil fields stay.
type Update struct {
	Status     *Status   `json:"status"`
	Kind       *Kind     `json:"kind"`
	Priority   *Priority `json:"priority"`
	Assignee   *string   `json:"assignee"`
	Group      *string   `json:"group"`
	Tier       *int      `json:"tier"`
	Resolution *string   `json:"resolution"`
	Subject    *string   `json:"subject"`
	// Impact and Urgency (high, medium, low) set the priority by the
	// matrix; give both, and no priority.
	Impact  *string `json:"impact"`
	Urgency *string `json:"urgency"`
}

// Update applies u to the ticket as actor. An illegal status change is a
// *TransitionError and changes nothing.
func (d *Desk) Update(ctx context.Context, number string, u Update, actor string) (*Ticket, error) {
	var out *Ticket
	err := d.change(ctx, TicketGetParams{Number: number}, actor, func(t *Ticket) ([]Event, error) {
		evs, err := d.apply(t, u, actor)
		out = t
		return evs, err
	})
	if err != nil {
		return nil, err
	}
	return d.Get(ctx, out.Number)
}

// change runs fn on the current ticket and writes the result, retrying when
// someone else changed the ticket in between. fn returns the events of its
// change; none means nothing to write.
func (d *Desk) change(ctx context.Context, at TicketGetParams, actor string, fn func(t *Ticket) ([]Event, error)) error {
	return d.changeWith(ctx, at, actor, fn, nil)
}

// changeWith is change, finishing a timer's job in the same commit when
// finish is set.
func (d *Desk) changeWith(ctx context.Context, at TicketGetParams, actor string, fn func(t *Ticket) ([]Event, error), finish *JobFinishParams) error {
	for attempt := 0; ; attempt++ {
		t, err := d.store.TicketGet(ctx, at)
		if err != nil {
			return err
		}
		version := t.Version
		before := *t
		events, err := fn(t)
		if err != nil || len(events) == 0 {
			return err
		}
		now := d.Now()
		t.UpdatedAt = now
		c := &Change{Before: &before, After: t, Actor: actor, Now: now, Events: events}
		if err := d.runHooks(ctx, c); err != nil {
			return fmt.Errorf("change ticket %s: %w", t.Number, err)
		}
		p := &TicketUpdateParams{Ticket: t, Version: version, Events: stamp(c.Events, now), Jobs: c.Jobs}
		if finish != nil {
			f := *finish
			f.At = now
			p.FinishJob = &f
		}
		err = d.store.TicketUpdate(ctx, p)
		if errors.Is(err, ErrConflict) && attempt < 10 {
			continue
		}
		return err
	}
}

func (d *Desk) apply(t *Ticket, u Update, actor string) ([]Event, error) {
	now := d.Now()
	var events []Event
	changed := map[string]any{}
	if u.Kind != nil && *u.Kind != t.Kind {
		if !u.Kind.Valid() {
			return nil, invalidf("unknown kind %q", *u.Kind)
		}
		changed["kind"] = [2]Kind{t.Kind, *u.Kind}
		t.Kind = *u.Kind
	}
	if u.Impact != nil || u.Urgency != nil {
		if u.Impact == nil || u.Urgency == nil || u.Priority != nil {
			return nil, invalidf("give impact and urgency together, instead of a priority")
		}
		if d.priority == nil {
			return nil, invalidf("no priority matrix is configured")
		}
		p, err := d.priority(*u.Impact, *u.Urgency)
		if err != nil {
			return nil, invalidf("%v", err)
		}
		u.Priority = &p
		changed["impact"], changed["urgency"] = *u.Impact, *u.Urgency
	}
	if u.Priority != nil && *u.Priority != t.Priority {
		if !u.Priority.Valid() {
			return nil, invalidf("unknown priority %q", *u.Priority)
		}
		changed["priority"] = [2]Priority{t.Priority, *u.Priority}
		t.Priority = *u.Priority
	}
	if u.Tier != nil && *u.Tier != t.Tier {
		if *u.Tier < 1 || *u.Tier > 3 {
			return nil, invalidf("tier must be 1, 2 or 3")
		}
		changed["tier"] = [2]int{t.Tier, *u.Tier}
		t.Tier = *u.Tier
	}
	if u.Group != nil && *u.Group != t.Group {
		changed["group"] = [2]string{t.Group, *u.Group}
		t.Group = *u.Group
	}
	if u.Subject != nil && cleanSubject(*u.Subject) != t.Subject {
		changed["subject"] = [2]string{t.Subject, cleanSubject(*u.Subject)}
		t.Subject = cleanSubject(*u.Subject)
	}
	if u.Resolution != nil && *u.Resolution != t.Resolution {
		changed["resolution"] = *u.Resolution
		t.Resolution = clip(*u.Resolution, maxDescription)
	}
	if len(changed) > 0 {
		events = append(events, NewEvent(now, EventUpdated, actor, changed))
	}
	if u.Assignee != nil && strings.TrimSpace(*u.Assignee) != t.Assignee {
		a := strings.TrimSpace(*u.Assignee)
		events = append(events, NewEvent(now, EventAssigned, actor, map[string]string{"from": t.Assignee, "to": a}))
		t.Assignee = a
		// Assigning a new ticket is what makes it assigned.
		if u.Status == nil && t.Status == StatusNew && a != "" {
			ev, err := d.setStatus(t, StatusAssigned, actor, now, "")
			if err != nil {
				return nil, err
			}
			events = append(events, ev...)
		}
	}
	if u.Status != nil && *u.Status != t.Status {
		ev, err := d.setStatus(t, *u.Status, actor, now, "")
		if err != nil {
			return nil, err
		}
		events = append(events, ev...)
	} else if u.Status != nil && len(events) == 0 {
		return nil, &TransitionError{From: t.Status, To: *u.Status, Reason: "the ticket already has this status"}
	}
	return events, nil
}

// setStatus moves t to status `to` if the lifecycle allows it.
func (d *Desk) setStatus(t *Ticket, to Status, actor string, now time.Time, reason string) ([]Event, error) {
	if err := d.life.Check(t, to, now); err != nil {
		return nil, err
	}
	data := map[string]string{"from": string(t.Status), "to": string(to)}
	if reason != "" {
		data["reason"] = reason
	}
	switch to {
	case StatusResolved:
		// A resolution is not demanded here: its absence is what the record
		// completeness KPI reports, so that it gets fixed.
		t.ResolvedAt = &now
	case StatusClosed:
		t.ClosedAt = &now
	case StatusInProgress:
		if t.Status == StatusResolved || t.Status == StatusClosed {
			t.ResolvedAt, t.ClosedAt = nil, nil
		}
	}
	t.Status = to
	return []Event{NewEvent(now, EventStatusChanged, actor, data)}, nil
}

// Comment adds an agent's note to the timeline.
func (d *Desk) Comment(ctx context.Context, number, body, actor string) (*Ticket, error) {
	body = strings.TrimSpace(body)
	if body == "" {
		return nil, invalidf("the comment is empty")
	}
	t, err := d.store.TicketGet(ctx, TicketGetParams{Number: number})
	if err != nil {
		return nil, err
	}
	now := d.Now()
	if _, err := d.store.TicketAppend(ctx, &TicketAppendParams{TicketID: t.ID, At: now,
		Events: []Event{NewEvent(now, EventComment, actor, map[string]string{"body": clip(body, maxDescription)})}}); err != nil {
		return nil, err
	}
	return d.Get(ctx, number)
}

// Get returns the ticket with its timeline and attachments.
func (d *Desk) Get(ctx context.Context, number string) (*Ticket, error) {
	return d.store.TicketGet(ctx, TicketGetParams{Number: number, Timeline: true})
}

// ListParams filter the ticket list.
type ListParams = TicketListParams

const maxListLimit = 500

func (d *Desk) List(ctx context.Context, p ListParams) (TicketPage, error) {
	if p.Channel != "" && !p.Channel.Valid() {
		return TicketPage{}, invalidf("unknown channel %q", p.Channel)
	}
	if p.Status != "" && !p.Status.Valid() {
		return TicketPage{}, invalidf("unknown status %q", p.Status)
	}
	if p.Kind != "" && !p.Kind.Valid() {
		return TicketPage{}, invalidf("unknown kind %q", p.Kind)
	}
	if p.Limit <= 0 {
		p.Limit = 50
	}
	if p.Limit > maxListLimit {
		p.Limit = maxListLimit
	}
	return d.store.TicketList(ctx, p)
}

// CustomerCreate stores a customer with normalized phones and e-mails.
func (d *Desk) CustomerCreate(ctx context.Context, c *Customer) error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" {
		return invalidf("a customer needs a name")
	}
	c.Organization = strings.TrimSpace(c.Organization)
	var phones, emails []string
	for _, p := range c.Phones {
		n, err := e164.Normalize(p)
		if err != nil {
			return invalidf("phone %q: %v", p, err)
		}
		phones = appendNew(phones, n)
	}
	for _, e := range c.Emails {
		a, err := mail.ParseAddress(e)
		if err != nil {
			return invalidf("e-mail %q: %v", e, err)
		}
		emails = appendNew(emails, strings.ToLower(a.Address))
	}
	c.Phones, c.Emails = nonNil(phones), nonNil(emails)
	c.CreatedAt = d.Now()
	return d.store.CustomerCreate(ctx, c)
}

func appendNew(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// CustomerFind finds customers by any form of a phone number, or by e-mail.
func (d *Desk) CustomerFind(ctx context.Context, phone, email string) ([]*Customer, error) {
	var p CustomerFindParams
	if phone != "" {
		n, err := e164.Normalize(phone)
		if err != nil {
			return nil, invalidf("phone %q: %v", phone, err)
		}
		p.Phones = []string{n}
	}
	if email != "" {
		p.Emails = []string{strings.ToLower(strings.TrimSpace(email))}
	}
	if len(p.Phones)+len(p.Emails) == 0 {
		return nil, invalidf("give a phone or an e-mail to look for")
	}
	return d.store.CustomerFind(ctx, p)
}

func (d *Desk) CustomerGet(ctx context.Context, id int64) (*Customer, error) {
	return d.store.CustomerGet(ctx, id)
}

// File prepares an attachment's bytes for storage.
func File(name, contentType string, data []byte) AttachmentInput {
	sum := sha256.Sum256(data)
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	return AttachmentInput{Name: name, ContentType: contentType, Data: data, SHA256: hex.EncodeToString(sum[:])}
}
