package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

const ticketColumns = `id, number, channel, kind, priority, status, tier, subject, description,
	caller_name, caller_phone, caller_email, caller_organization, caller_withheld, customer_id,
	assignee, grp, resolution, received_at, created_at, updated_at, resolved_at, closed_at,
	response_due, resolve_due, version,
	responded_at, confirmed_at, sla_paused_since, sla_paused_us, sla_flags, escalations, reopens, reassigns`

// errRecorded ends a write whose contact is recorded already: its
// savepoint is rolled back, and the caller answers with the recorded one.
// Inserting the contact first and looking it up only on a conflict spares
// the single writer a query on every contact.
var errRecorded = errors.New("contact recorded already")

func (s *Store) TicketCreate(ctx context.Context, p *ticketing.TicketCreateParams) (ticketing.IntakeResult, error) {
	var res ticketing.IntakeResult
	blobs := s.packBlobs(p.Attachments)
	err := s.write(ctx, func(tx *sql.Tx) error {
		var seq int64
		day := p.Day.Format("20060102")
		if err := tx.QueryRowContext(ctx, `INSERT INTO ticket_counters (prefix, day, last) VALUES (?, ?, 1)
			ON CONFLICT (prefix, day) DO UPDATE SET last = last + 1 RETURNING last`, p.Prefix, day).Scan(&seq); err != nil {
			return fmt.Errorf("allocate number: %w", err)
		}
		t := &p.Ticket
		number := ticketing.FormatNumber(p.Prefix, p.Day, seq)
		var customer any
		if t.CustomerID != 0 {
			customer = t.CustomerID
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO tickets (number, channel, kind, priority, status, tier,
			subject, description, caller_name, caller_phone, caller_email, caller_organization, caller_withheld,
			customer_id, assignee, grp, resolution, received_at, created_at, updated_at, resolved_at, closed_at,
			response_due, resolve_due, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`,
			number, t.Channel, t.Kind, t.Priority, t.Status, t.Tier, t.Subject, t.Description,
			t.Caller.Name, t.Caller.Phone, t.Caller.Email, t.Caller.Organization, t.Caller.Withheld,
			customer, t.Assignee, t.Group, t.Resolution, micros(t.ReceivedAt), micros(t.CreatedAt),
			micros(t.UpdatedAt), nullMicros(t.ResolvedAt), nullMicros(t.ClosedAt),
			nullMicros(t.ResponseDue), nullMicros(t.ResolveDue)).Scan(&id); err != nil {
			return fmt.Errorf("insert ticket: %w", err)
		}
		if err := addToTicket(ctx, tx, id, p.Contact, p.Events, p.Attachments, blobs, p.ThreadKeys, p.Participants, p.Jobs, t.CreatedAt); err != nil {
			return err
		}
		res = ticketing.IntakeResult{TicketID: id, Number: number}
		return nil
	})
	return s.orRecorded(ctx, p.Contact, res, err)
}

func (s *Store) TicketAppend(ctx context.Context, p *ticketing.TicketAppendParams) (ticketing.IntakeResult, error) {
	var res ticketing.IntakeResult
	blobs := s.packBlobs(p.Attachments)
	err := s.write(ctx, func(tx *sql.Tx) error {
		var number string
		if err := tx.QueryRowContext(ctx, `UPDATE tickets SET updated_at = max(updated_at, ?) WHERE id = ? RETURNING number`,
			micros(p.At), p.TicketID).Scan(&number); err != nil {
			return notFound(err)
		}
		if err := addToTicket(ctx, tx, p.TicketID, p.Contact, p.Events, p.Attachments, blobs, p.ThreadKeys, p.Participants, p.Jobs, p.At); err != nil {
			return err
		}
		res = ticketing.IntakeResult{TicketID: p.TicketID, Number: number}
		return nil
	})
	return s.orRecorded(ctx, p.Contact, res, err)
}

// orRecorded answers a write that found its contact recorded with where it
// was recorded. The write returns after its batch committed, so the
// recorded contact is there to read, even one of the same batch.
func (s *Store) orRecorded(ctx context.Context, key *ticketing.ContactKey, res ticketing.IntakeResult, err error) (ticketing.IntakeResult, error) {
	if errors.Is(err, errRecorded) {
		return contactGet(ctx, s.r, *key)
	}
	return res, err
}

// packBlobs is the stored form of each file, made before the write is
// queued.
func (s *Store) packBlobs(files []ticketing.AttachmentInput) []storedBlob {
	out := make([]storedBlob, len(files))
	for i, f := range files {
		out[i] = s.blobs.pack(f.Data)
	}
	return out
}

// addToTicket writes what TicketCreate and TicketAppend share. blobs[i]
// is files[i] as stored.
func addToTicket(ctx context.Context, tx *sql.Tx, id int64, contact *ticketing.ContactKey, events []ticketing.Event,
	files []ticketing.AttachmentInput, blobs []storedBlob, keys, participants []string, jobs []ticketing.JobSpec, at time.Time) error {
	now := at.UnixMicro()
	if contact != nil {
		r, err := tx.ExecContext(ctx, `INSERT INTO contacts (channel, external_id, ticket_id, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, contact.Channel, contact.ExternalID, id, now)
		if err != nil {
			return fmt.Errorf("record contact: %w", err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return fmt.Errorf("record contact: %w", err)
		}
		if n == 0 {
			return errRecorded
		}
	}
	if err := insertEvents(ctx, tx, id, events); err != nil {
		return err
	}
	for i, f := range files {
		if _, err := tx.ExecContext(ctx, `INSERT INTO blobs (sha256, size, data, encoding) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			f.SHA256, len(f.Data), blobs[i].data, blobs[i].encoding); err != nil {
			return fmt.Errorf("store blob: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO attachments (ticket_id, name, content_type, size, sha256, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, id, f.Name, f.ContentType, len(f.Data), f.SHA256, now); err != nil {
			return fmt.Errorf("insert attachment: %w", err)
		}
	}
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO thread_keys (key, ticket_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, k, id); err != nil {
			return fmt.Errorf("insert thread key: %w", err)
		}
	}
	for _, a := range participants {
		if _, err := tx.ExecContext(ctx, `INSERT INTO participants (ticket_id, address) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, a); err != nil {
			return fmt.Errorf("insert participant: %w", err)
		}
	}
	for i := range jobs {
		jobs[i].TicketID = id
	}
	return insertJobs(ctx, tx, jobs, now)
}

func insertEvents(ctx context.Context, tx *sql.Tx, id int64, events []ticketing.Event) error {
	// A few rows a statement: statements, not rows, are what the single
	// writer spends its time on. Chunks keep the statement texts (each
	// prepared and cached) to a few.
	const chunk = 8
	for len(events) > 0 {
		n := min(len(events), chunk)
		q := strings.Builder{}
		q.WriteString(`INSERT INTO events (ticket_id, at, type, actor, data) VALUES (?, ?, ?, ?, ?)`)
		q.WriteString(strings.Repeat(", (?, ?, ?, ?, ?)", n-1))
		args := make([]any, 0, 5*n)
		for _, e := range events[:n] {
			var data any
			if len(e.Data) > 0 {
				data = string(e.Data)
			}
			args = append(args, id, micros(e.At), e.Type, e.Actor, data)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		events = events[n:]
	}
	return nil
}

func contactGet(ctx context.Context, q querier, key ticketing.ContactKey) (ticketing.IntakeResult, error) {
	r := ticketing.IntakeResult{Duplicate: true}
	err := q.QueryRowContext(ctx, `SELECT c.ticket_id, t.number FROM contacts c JOIN tickets t ON t.id = c.ticket_id
		WHERE c.channel = ? AND c.external_id = ?`, key.Channel, key.ExternalID).Scan(&r.TicketID, &r.Number)
	return r, notFound(err)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) ContactGet(ctx context.Context, key ticketing.ContactKey) (ticketing.IntakeResult, error) {
	return contactGet(ctx, s.r, key)
}

func (s *Store) TicketUpdate(ctx context.Context, p *ticketing.TicketUpdateParams) error {
	t := p.Ticket
	return s.write(ctx, func(tx *sql.Tx) error {
		var customer any
		if t.CustomerID != 0 {
			customer = t.CustomerID
		}
		res, err := tx.ExecContext(ctx, `UPDATE tickets SET kind = ?, priority = ?, status = ?, tier = ?, subject = ?,
			description = ?, caller_name = ?, caller_phone = ?, caller_email = ?, caller_organization = ?,
			caller_withheld = ?, customer_id = ?, assignee = ?, grp = ?, resolution = ?, updated_at = ?,
			resolved_at = ?, closed_at = ?, response_due = ?, resolve_due = ?, version = version + 1,
			responded_at = ?, confirmed_at = ?, sla_paused_since = ?, sla_paused_us = ?, sla_flags = ?,
			escalations = ?, reopens = ?, reassigns = ?
			WHERE id = ? AND version = ?`,
			t.Kind, t.Priority, t.Status, t.Tier, t.Subject, t.Description, t.Caller.Name, t.Caller.Phone,
			t.Caller.Email, t.Caller.Organization, t.Caller.Withheld, customer, t.Assignee, t.Group, t.Resolution,
			micros(t.UpdatedAt), nullMicros(t.ResolvedAt), nullMicros(t.ClosedAt), nullMicros(t.ResponseDue),
			nullMicros(t.ResolveDue), nullMicros(t.RespondedAt), nullMicros(t.ConfirmedAt), nullMicros(t.PausedSince),
			t.Paused.Microseconds(), int(t.Flags), t.Escalations, t.Reopens, t.Reassigns, t.ID, p.Version)
		if err != nil {
			return fmt.Errorf("update ticket: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM tickets WHERE id = ?`, t.ID).Scan(&one); err != nil {
				return notFound(err)
			}
			return ticketing.ErrConflict
		}
		if err := insertEvents(ctx, tx, t.ID, p.Events); err != nil {
			return err
		}
		// The finished job goes first: it may be the timer the change
		// schedules again under the same unique key.
		if p.FinishJob != nil {
			if err := finishJob(ctx, tx, *p.FinishJob); err != nil {
				return err
			}
		}
		for i := range p.Jobs {
			if p.Jobs[i].TicketID == 0 {
				p.Jobs[i].TicketID = t.ID
			}
		}
		return insertJobs(ctx, tx, p.Jobs, micros(t.UpdatedAt))
	})
}

func (s *Store) TicketGet(ctx context.Context, p ticketing.TicketGetParams) (*ticketing.Ticket, error) {
	var row *sql.Row
	if p.Number != "" {
		row = s.r.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE number = ?`, p.Number)
	} else {
		row = s.r.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, p.ID)
	}
	t, err := scanTicket(row)
	if err != nil {
		return nil, notFound(err)
	}
	if !p.Timeline {
		return t, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT at, type, actor, data FROM events WHERE ticket_id = ? ORDER BY id`, t.ID)
	if err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e ticketing.Event
		var at int64
		var data sql.NullString
		if err := rows.Scan(&at, &e.Type, &e.Actor, &data); err != nil {
			return nil, fmt.Errorf("load events: %w", err)
		}
		e.At = fromMicros(at)
		if data.Valid {
			e.Data = []byte(data.String)
		}
		t.Events = append(t.Events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	arows, err := s.r.QueryContext(ctx, `SELECT id, name, content_type, size, sha256 FROM attachments WHERE ticket_id = ? ORDER BY id`, t.ID)
	if err != nil {
		return nil, fmt.Errorf("load attachments: %w", err)
	}
	defer arows.Close()
	for arows.Next() {
		var a ticketing.Attachment
		if err := arows.Scan(&a.ID, &a.Name, &a.ContentType, &a.Size, &a.SHA256); err != nil {
			return nil, fmt.Errorf("load attachments: %w", err)
		}
		t.Attachments = append(t.Attachments, a)
	}
	return t, arows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanTicket(row scanner) (*ticketing.Ticket, error) {
	var t ticketing.Ticket
	var customer, resolved, closed, respDue, resDue, responded, confirmed, pausedSince sql.NullInt64
	var received, created, updated, paused int64
	err := row.Scan(&t.ID, &t.Number, &t.Channel, &t.Kind, &t.Priority, &t.Status, &t.Tier, &t.Subject, &t.Description,
		&t.Caller.Name, &t.Caller.Phone, &t.Caller.Email, &t.Caller.Organization, &t.Caller.Withheld, &customer,
		&t.Assignee, &t.Group, &t.Resolution, &received, &created, &updated, &resolved, &closed,
		&respDue, &resDue, &t.Version, &responded, &confirmed, &pausedSince, &paused, &t.Flags,
		&t.Escalations, &t.Reopens, &t.Reassigns)
	if err != nil {
		return nil, err
	}
	t.RespondedAt, t.ConfirmedAt, t.PausedSince = fromNullMicros(responded), fromNullMicros(confirmed), fromNullMicros(pausedSince)
	t.Paused = time.Duration(paused) * time.Microsecond
	t.CustomerID = customer.Int64
	t.ReceivedAt, t.CreatedAt, t.UpdatedAt = fromMicros(received), fromMicros(created), fromMicros(updated)
	t.ResolvedAt, t.ClosedAt = fromNullMicros(resolved), fromNullMicros(closed)
	t.ResponseDue, t.ResolveDue = fromNullMicros(respDue), fromNullMicros(resDue)
	return &t, nil
}

func (s *Store) TicketList(ctx context.Context, p ticketing.TicketListParams) (ticketing.TicketPage, error) {
	var where []string
	var args []any
	if p.Channel != "" {
		where, args = append(where, "channel = ?"), append(args, p.Channel)
	}
	if p.Status != "" {
		where, args = append(where, "status = ?"), append(args, p.Status)
	}
	if p.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, p.Kind)
	}
	if p.Query != "" {
		like := "%" + escapeLike(p.Query) + "%"
		where = append(where, `(number LIKE ? ESCAPE '\' OR subject LIKE ? ESCAPE '\' OR description LIKE ? ESCAPE '\'
			OR caller_name LIKE ? ESCAPE '\' OR caller_phone LIKE ? ESCAPE '\' OR caller_email LIKE ? ESCAPE '\')`)
		args = append(args, like, like, like, like, like, like)
	}
	if !p.ReceivedFrom.IsZero() {
		where, args = append(where, "received_at >= ?"), append(args, micros(p.ReceivedFrom))
	}
	if !p.ReceivedTo.IsZero() {
		where, args = append(where, "received_at < ?"), append(args, micros(p.ReceivedTo))
	}
	if p.After > 0 {
		where, args = append(where, "id < ?"), append(args, p.After)
	}
	q := `SELECT ` + ticketColumns + ` FROM tickets`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, p.Limit+1)
	rows, err := s.r.QueryContext(ctx, q, args...)
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

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (s *Store) ThreadFind(ctx context.Context, keys []string) (ticketing.IntakeResult, error) {
	if len(keys) == 0 {
		return ticketing.IntakeResult{}, ticketing.ErrNotFound
	}
	// The newest ticket is the highest id among the keys' rows, found in
	// thread_keys' index without walking the tickets.
	q := `SELECT t.id, t.number FROM tickets t
		WHERE t.id = (SELECT max(k.ticket_id) FROM thread_keys k WHERE k.key IN (` + placeholders(len(keys)) + `))`
	var r ticketing.IntakeResult
	err := s.r.QueryRowContext(ctx, q, anys(keys)...).Scan(&r.TicketID, &r.Number)
	return r, notFound(err)
}

func (s *Store) ParticipantAny(ctx context.Context, ticketID int64, addresses []string) (bool, error) {
	if len(addresses) == 0 {
		return false, nil
	}
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM participants WHERE ticket_id = ? AND address IN (`+
		placeholders(len(addresses))+`)`, append([]any{ticketID}, anys(addresses)...)...).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("find participant: %w", err)
	}
	return n > 0, nil
}

func (s *Store) AttachmentGet(ctx context.Context, id int64) (*ticketing.Attachment, []byte, error) {
	var a ticketing.Attachment
	var data []byte
	var encoding string
	var size int
	err := s.r.QueryRowContext(ctx, `SELECT a.id, a.name, a.content_type, a.size, a.sha256, b.data, b.encoding, b.size
		FROM attachments a JOIN blobs b ON b.sha256 = a.sha256 WHERE a.id = ?`, id).
		Scan(&a.ID, &a.Name, &a.ContentType, &a.Size, &a.SHA256, &data, &encoding, &size)
	if err != nil {
		return nil, nil, notFound(err)
	}
	if data, err = s.blobs.unpack(data, encoding, size); err != nil {
		return nil, nil, fmt.Errorf("attachment %d: %w", id, err)
	}
	return &a, data, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
