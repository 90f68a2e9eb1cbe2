package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hotline-desk/hotline/ticketing"
)

const ticketColumns = `id, number, channel, kind, priority, status, tier, subject, description,
	caller_name, caller_phone, caller_email, caller_organization, caller_withheld, coalesce(customer_id, 0),
	assignee, grp, resolution, received_at, created_at, updated_at, resolved_at, closed_at,
	response_due, resolve_due, version,
	responded_at, confirmed_at, sla_paused_since, sla_paused_us, sla_flags, escalations, reopens, reassigns`

func (s *Store) ContactGet(ctx context.Context, key ticketing.ContactKey) (ticketing.IntakeResult, error) {
	r := ticketing.IntakeResult{Duplicate: true}
	err := s.pool.QueryRow(ctx, `SELECT c.ticket_id, t.number FROM contacts c JOIN tickets t ON t.id = c.ticket_id
		WHERE c.channel = $1 AND c.external_id = $2`, key.Channel, key.ExternalID).Scan(&r.TicketID, &r.Number)
	return r, notFound(err)
}

// TicketAppend writes in one round trip, in one implicit transaction: a
// contact recorded already fails it on contacts_pkey, which undoes the rest,
// and only then is the recorded contact looked up.
func (s *Store) TicketAppend(ctx context.Context, p *ticketing.TicketAppendParams) (ticketing.IntakeResult, error) {
	b := &pgx.Batch{}
	b.Queue(`UPDATE tickets SET updated_at = greatest(updated_at, $1) WHERE id = $2 RETURNING number`, p.At, p.TicketID)
	if p.Contact != nil {
		b.Queue(`INSERT INTO contacts (channel, external_id, ticket_id, created_at) VALUES ($1, $2, $3, $4)`,
			p.Contact.Channel, p.Contact.ExternalID, p.TicketID, p.At)
	}
	queueEvents(b, p.TicketID, p.Events)
	queueAdditions(b, p.TicketID, p.Attachments, p.ThreadKeys, p.Participants, p.Jobs, p.At)
	br := s.pool.SendBatch(ctx, b)
	var number string
	err := br.QueryRow().Scan(&number)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if isUniqueViolation(err, "contacts_pkey") {
			return s.ContactGet(ctx, *p.Contact)
		}
		return ticketing.IntakeResult{}, fmt.Errorf("append to ticket %d: %w", p.TicketID, notFound(err))
	}
	return ticketing.IntakeResult{TicketID: p.TicketID, Number: number}, nil
}

func queueEvents(b *pgx.Batch, id int64, events []ticketing.Event) {
	for _, e := range events {
		b.Queue(`INSERT INTO events (ticket_id, at, type, actor, data) VALUES ($1, $2, $3, $4, $5::text::json)`,
			id, e.At, e.Type, e.Actor, pgtype.Text{String: string(e.Data), Valid: len(e.Data) > 0})
	}
}

func (s *Store) TicketUpdate(ctx context.Context, p *ticketing.TicketUpdateParams) error {
	t := p.Ticket
	customer := pgtype.Int8{Int64: t.CustomerID, Valid: t.CustomerID != 0}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE tickets SET kind = $1, priority = $2, status = $3, tier = $4, subject = $5,
			description = $6, caller_name = $7, caller_phone = $8, caller_email = $9, caller_organization = $10,
			caller_withheld = $11, customer_id = $12, assignee = $13, grp = $14, resolution = $15, updated_at = $16,
			resolved_at = $17, closed_at = $18, response_due = $19, resolve_due = $20, version = version + 1,
			responded_at = $23, confirmed_at = $24, sla_paused_since = $25, sla_paused_us = $26, sla_flags = $27,
			escalations = $28, reopens = $29, reassigns = $30
			WHERE id = $21 AND version = $22`,
			t.Kind, t.Priority, t.Status, t.Tier, t.Subject, t.Description, t.Caller.Name, t.Caller.Phone,
			t.Caller.Email, t.Caller.Organization, t.Caller.Withheld, customer, t.Assignee, t.Group, t.Resolution,
			t.UpdatedAt, ts(t.ResolvedAt), ts(t.ClosedAt), ts(t.ResponseDue), ts(t.ResolveDue), t.ID, p.Version,
			ts(t.RespondedAt), ts(t.ConfirmedAt), ts(t.PausedSince), t.Paused.Microseconds(), int(t.Flags),
			t.Escalations, t.Reopens, t.Reassigns)
		if err != nil {
			return fmt.Errorf("update ticket: %w", err)
		}
		if tag.RowsAffected() == 0 {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM tickets WHERE id = $1`, t.ID).Scan(&one); err != nil {
				return notFound(err)
			}
			return ticketing.ErrConflict
		}
		// The finished job goes first: it may be the timer the change
		// schedules again under the same unique key.
		if p.FinishJob != nil {
			if err := finishJob(ctx, tx, *p.FinishJob); err != nil {
				return err
			}
		}
		b := &pgx.Batch{}
		queueEvents(b, t.ID, p.Events)
		for _, j := range p.Jobs {
			if j.TicketID == 0 {
				j.TicketID = t.ID
			}
			queueJob(b, j, t.UpdatedAt)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("update ticket: %w", err)
		}
		return nil
	})
}

func (s *Store) TicketGet(ctx context.Context, p ticketing.TicketGetParams) (*ticketing.Ticket, error) {
	var row pgx.Row
	if p.Number != "" {
		row = s.pool.QueryRow(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE number = $1`, p.Number)
	} else {
		row = s.pool.QueryRow(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE id = $1`, p.ID)
	}
	t, err := scanTicket(row)
	if err != nil {
		return nil, notFound(err)
	}
	if !p.Timeline {
		return t, nil
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT at, type, actor, data::text FROM events WHERE ticket_id = $1 ORDER BY id`, t.ID)
	b.Queue(`SELECT id, name, content_type, size, sha256 FROM attachments WHERE ticket_id = $1 ORDER BY id`, t.ID)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	for rows.Next() {
		var e ticketing.Event
		var data pgtype.Text
		if err := rows.Scan(&e.At, &e.Type, &e.Actor, &data); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load events: %w", err)
		}
		e.At = e.At.UTC()
		if data.Valid {
			e.Data = []byte(data.String)
		}
		t.Events = append(t.Events, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	rows, err = br.Query()
	if err != nil {
		return nil, fmt.Errorf("load attachments: %w", err)
	}
	for rows.Next() {
		var a ticketing.Attachment
		if err := rows.Scan(&a.ID, &a.Name, &a.ContentType, &a.Size, &a.SHA256); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load attachments: %w", err)
		}
		t.Attachments = append(t.Attachments, a)
	}
	rows.Close()
	return t, rows.Err()
}

func scanTicket(row pgx.Row) (*ticketing.Ticket, error) {
	var t ticketing.Ticket
	var resolved, closed, respDue, resDue, responded, confirmed, pausedSince pgtype.Timestamptz
	var paused int64
	var flags int
	err := row.Scan(&t.ID, &t.Number, &t.Channel, &t.Kind, &t.Priority, &t.Status, &t.Tier, &t.Subject, &t.Description,
		&t.Caller.Name, &t.Caller.Phone, &t.Caller.Email, &t.Caller.Organization, &t.Caller.Withheld, &t.CustomerID,
		&t.Assignee, &t.Group, &t.Resolution, &t.ReceivedAt, &t.CreatedAt, &t.UpdatedAt, &resolved, &closed,
		&respDue, &resDue, &t.Version, &responded, &confirmed, &pausedSince, &paused, &flags,
		&t.Escalations, &t.Reopens, &t.Reassigns)
	if err != nil {
		return nil, err
	}
	t.RespondedAt, t.ConfirmedAt, t.PausedSince = fromTS(responded), fromTS(confirmed), fromTS(pausedSince)
	t.Paused, t.Flags = time.Duration(paused)*time.Microsecond, ticketing.SLAFlags(flags)
	t.ReceivedAt, t.CreatedAt, t.UpdatedAt = t.ReceivedAt.UTC(), t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	t.ResolvedAt, t.ClosedAt, t.ResponseDue, t.ResolveDue = fromTS(resolved), fromTS(closed), fromTS(respDue), fromTS(resDue)
	return &t, nil
}

func fromTS(v pgtype.Timestamptz) *time.Time {
	if !v.Valid {
		return nil
	}
	t := v.Time.UTC()
	return &t
}

func (s *Store) TicketList(ctx context.Context, p ticketing.TicketListParams) (ticketing.TicketPage, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if p.Channel != "" {
		add("channel = ?", p.Channel)
	}
	if p.Status != "" {
		add("status = ?", p.Status)
	}
	if p.Kind != "" {
		add("kind = ?", p.Kind)
	}
	if p.Query != "" {
		add(`(number ILIKE ? OR subject ILIKE ? OR description ILIKE ? OR caller_name ILIKE ?
			OR caller_phone ILIKE ? OR caller_email ILIKE ?)`, "%"+escapeLike(p.Query)+"%")
	}
	if !p.ReceivedFrom.IsZero() {
		add("received_at >= ?", p.ReceivedFrom)
	}
	if !p.ReceivedTo.IsZero() {
		add("received_at < ?", p.ReceivedTo)
	}
	if p.After > 0 {
		add("id < ?", p.After)
	}
	q := `SELECT ` + ticketColumns + ` FROM tickets`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, p.Limit+1)
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return ticketing.TicketPage{}, fmt.Errorf("list tickets: %w", err)
	}
	defer rows.Close()
	var page ticketing.TicketPage
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return ticketing.TicketPage{}, fmt.Errorf("list tickets: %w", err)
		}
		page.Tickets = append(page.Tickets, t)
	}
	if err := rows.Err(); err != nil {
		return ticketing.TicketPage{}, fmt.Errorf("list tickets: %w", err)
	}
	if len(page.Tickets) > p.Limit {
		page.Tickets = page.Tickets[:p.Limit]
		page.Next = page.Tickets[p.Limit-1].ID
	}
	return page, nil
}

// escapeLike quotes LIKE's wildcards; backslash is PostgreSQL's default
// LIKE escape.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (s *Store) ThreadFind(ctx context.Context, keys []string) (ticketing.IntakeResult, error) {
	if len(keys) == 0 {
		return ticketing.IntakeResult{}, ticketing.ErrNotFound
	}
	var r ticketing.IntakeResult
	// The newest ticket is the highest id among the keys' rows, found in
	// thread_keys' index. (A join ordered by tickets.id let the planner walk
	// every ticket backwards when no key matched: every new mail's case.)
	err := s.pool.QueryRow(ctx, `SELECT t.id, t.number FROM tickets t
		WHERE t.id = (SELECT max(k.ticket_id) FROM thread_keys k WHERE k.key = ANY($1))`, keys).Scan(&r.TicketID, &r.Number)
	return r, notFound(err)
}

func (s *Store) ParticipantAny(ctx context.Context, ticketID int64, addresses []string) (bool, error) {
	if len(addresses) == 0 {
		return false, nil
	}
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM participants WHERE ticket_id = $1 AND address = ANY($2))`,
		ticketID, addresses).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("find participant: %w", err)
	}
	return ok, nil
}

func (s *Store) AttachmentGet(ctx context.Context, id int64) (*ticketing.Attachment, []byte, error) {
	var a ticketing.Attachment
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT a.id, a.name, a.content_type, a.size, a.sha256, b.data
		FROM attachments a JOIN blobs b ON b.sha256 = a.sha256 WHERE a.id = $1`, id).
		Scan(&a.ID, &a.Name, &a.ContentType, &a.Size, &a.SHA256, &data)
	if err != nil {
		return nil, nil, notFound(err)
	}
	return &a, data, nil
}
