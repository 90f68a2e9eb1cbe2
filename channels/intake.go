package channels

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/metrics"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/e164"
)

// Intake turns contacts into tickets: it threads a contact onto the ticket
// it continues, or opens a new ticket with the caller matched to a
// customer. Every channel and the HTTP API submit through it.
type Intake struct {
	desk *ticketing.Desk
	mon  *metrics.Monitor
	log  *slog.Logger
}

func NewIntake(desk *ticketing.Desk, mon *metrics.Monitor, log *slog.Logger) *Intake {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Intake{desk: desk, mon: mon, log: log}
}

// Submit records c and returns where it landed. It is idempotent by
// (c.Channel, c.ExternalID): the same contact twice gives the first receipt,
// marked Duplicate. It returns only after the ticket is committed.
func (in *Intake) Submit(ctx context.Context, c Contact) (Receipt, error) {
	start := time.Now()
	r, err := in.submit(ctx, c)
	result := "failed"
	switch {
	case errors.Is(err, ticketing.ErrInvalid):
		result = "rejected"
	case err != nil:
	case r.Duplicate:
		result = "duplicate"
	case r.Created:
		result = "created"
	default:
		result = "appended"
	}
	in.mon.ContactSubmitted(string(c.Channel), result, time.Since(start))
	if err != nil {
		in.log.LogAttrs(ctx, slog.LevelWarn, "intake failed", slog.String("channel", string(c.Channel)),
			slog.String("external_id", c.ExternalID), slog.String("error", err.Error()))
	}
	return r, err
}

func (in *Intake) submit(ctx context.Context, c Contact) (Receipt, error) {
	if !c.Channel.Valid() {
		return Receipt{}, fmt.Errorf("%w: unknown channel %q", ErrInvalid, c.Channel)
	}
	if strings.TrimSpace(c.ExternalID) == "" {
		return Receipt{}, fmt.Errorf("%w: a %s contact needs an external id", ErrInvalid, c.Channel)
	}
	key := c.Key()
	if len(c.ThreadKeys) > 0 {
		t0 := time.Now()
		res, err := in.desk.Store().ThreadFind(ctx, c.ThreadKeys)
		in.mon.StoreObserved("thread_find", time.Since(t0))
		switch {
		case err == nil:
			return in.append(ctx, c, key, res.TicketID)
		case !errors.Is(err, ticketing.ErrNotFound):
			return Receipt{}, fmt.Errorf("find thread: %w", err)
		}
	}
	linked := ""
	if ref := strings.TrimSpace(c.Reference); ref != "" {
		t, err := in.desk.Store().TicketGet(ctx, ticketing.TicketGetParams{Number: ref})
		switch {
		case err == nil:
			ok, err := in.desk.Store().ParticipantAny(ctx, t.ID, callerAddresses(c.Caller))
			if err != nil {
				return Receipt{}, err
			}
			if ok {
				return in.append(ctx, c, key, t.ID)
			}
			// A tagged contact from a stranger (a forwarded thread) must
			// not land on someone else's ticket.
			linked = t.Number
		case !errors.Is(err, ticketing.ErrNotFound):
			return Receipt{}, fmt.Errorf("find referenced ticket: %w", err)
		}
	}
	files := attachments(c.Attachments)
	t0 := time.Now()
	defer func() { in.mon.StoreObserved("ticket_open", time.Since(t0)) }()
	res, err := in.desk.Open(ctx, ticketing.OpenParams{
		Contact: &key, Channel: c.Channel, Kind: c.Kind, Priority: c.Priority,
		Subject: c.Subject, Description: c.Body, Caller: c.Caller, ReceivedAt: c.ReceivedAt, Actor: c.Actor,
		Detail: detail(c), LinkedTo: linked, Events: c.Events, Attachments: files,
		ThreadKeys: c.ThreadKeys, Participants: c.Participants, Jobs: slices.Concat(c.Jobs, c.OpenJobs),
	})
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{Ticket: res.Number, TicketID: res.TicketID, Created: !res.Duplicate, Duplicate: res.Duplicate}, nil
}

func (in *Intake) append(ctx context.Context, c Contact, key ticketing.ContactKey, ticketID int64) (Receipt, error) {
	data := map[string]string{"channel": string(c.Channel), "subject": c.Subject, "body": c.Body}
	for k, v := range detail(c) {
		data[k] = v
	}
	if c.Caller.Name != "" {
		data["caller_name"] = c.Caller.Name
	}
	if c.Caller.Phone != "" {
		data["caller_phone"] = c.Caller.Phone
	}
	if c.Caller.Email != "" {
		data["caller_email"] = c.Caller.Email
	}
	actor := c.Actor
	if actor == "" {
		actor = "channel:" + string(c.Channel)
	}
	ev := ticketing.NewEvent(c.ReceivedAt, ticketing.EventContact, actor, data)
	t0 := time.Now()
	defer func() { in.mon.StoreObserved("ticket_append", time.Since(t0)) }()
	res, err := in.desk.Append(ctx, ticketing.AppendParams{
		TicketID: ticketID, Contact: &key, Events: append([]ticketing.Event{ev}, c.Events...),
		Attachments: attachments(c.Attachments), ThreadKeys: c.ThreadKeys,
		Participants: append(callerAddresses(c.Caller), c.Participants...), Jobs: c.Jobs, FromCustomer: true,
	})
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{Ticket: res.Number, TicketID: res.TicketID, Duplicate: res.Duplicate}, nil
}

// Record adds a note to the ticket of an earlier contact. It is idempotent
// by (n.Ref, n.ID). ErrNotFound (wrapped) means the contact has no ticket
// yet.
func (in *Intake) Record(ctx context.Context, n Note) error {
	if strings.TrimSpace(n.ID) == "" {
		return fmt.Errorf("%w: a note needs an id", ErrInvalid)
	}
	res, err := in.desk.Store().ContactGet(ctx, n.Ref)
	if err != nil {
		return fmt.Errorf("record note %s on %s/%s: %w", n.ID, n.Ref.Channel, n.Ref.ExternalID, err)
	}
	key := ticketing.ContactKey{Channel: n.Ref.Channel, ExternalID: n.Ref.ExternalID + "#" + n.ID}
	_, err = in.desk.Append(ctx, ticketing.AppendParams{TicketID: res.TicketID, Contact: &key, Events: n.Events,
		Attachments: attachments(n.Attachments), Jobs: n.Jobs})
	if err != nil {
		return fmt.Errorf("record note %s on %s: %w", n.ID, res.Number, err)
	}
	return nil
}

func callerAddresses(p ticketing.Party) []string {
	var out []string
	if e := strings.ToLower(strings.TrimSpace(p.Email)); e != "" {
		out = append(out, e)
	}
	if p.Phone != "" {
		if n, err := e164.Normalize(p.Phone); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func attachments(in []Attachment) []ticketing.AttachmentInput {
	out := make([]ticketing.AttachmentInput, 0, len(in))
	for _, a := range in {
		out = append(out, ticketing.File(a.Name, a.ContentType, a.Data))
	}
	return out
}

var metaKey = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// detail is what the timeline keeps of a contact besides its text.
func detail(c Contact) map[string]string {
	d := map[string]string{}
	for k, v := range c.Metadata {
		if metaKey.MatchString(k) {
			d[k] = v
		}
	}
	if c.Callee != "" {
		d["callee"] = c.Callee
	}
	d["external_id"] = c.ExternalID
	return d
}

var _ Sink = (*Intake)(nil)

// Ticket returns a ticket with its timeline, for the senders that render
// mails and reports about it.
func (in *Intake) Ticket(ctx context.Context, id int64) (*ticketing.Ticket, error) {
	return in.desk.Store().TicketGet(ctx, ticketing.TicketGetParams{ID: id, Timeline: true})
}

// Attachment returns a stored file of a ticket.
func (in *Intake) Attachment(ctx context.Context, id int64) (*ticketing.Attachment, []byte, error) {
	return in.desk.Store().AttachmentGet(ctx, id)
}

// Annotate records what the gateway itself did about a ticket (a mail
// sent, a call forwarded) with the thread keys it created, idempotently by
// key: annotating twice with one key records once.
func (in *Intake) Annotate(ctx context.Context, ticketID int64, key ticketing.ContactKey, threadKeys []string, events ...ticketing.Event) error {
	_, err := in.desk.Append(ctx, ticketing.AppendParams{TicketID: ticketID, Contact: &key, ThreadKeys: threadKeys, Events: events})
	return err
}
