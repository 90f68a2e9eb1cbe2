package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hotline-desk/hotline/ticketing"
)

const kbColumns = `a.id, a.title, a.problem, a.cause, a.resolution, a.category, coalesce(a.source_ticket_id, 0),
	coalesce(t.number, ''), a.created_at, a.updated_at, a.version`

const kbFrom = ` FROM kb_articles a LEFT JOIN tickets t ON t.id = a.source_ticket_id`

func scanKB(row pgx.Row) (*ticketing.KBArticle, error) {
	var a ticketing.KBArticle
	if err := row.Scan(&a.ID, &a.Title, &a.Problem, &a.Cause, &a.Resolution, &a.Category, &a.SourceTicketID,
		&a.SourceTicket, &a.CreatedAt, &a.UpdatedAt, &a.Version); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}

func (s *Store) KBCreate(ctx context.Context, a *ticketing.KBArticle) error {
	source := pgtype.Int8{Int64: a.SourceTicketID, Valid: a.SourceTicketID != 0}
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO kb_articles (title, problem, cause, resolution, category,
		source_ticket_id, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1)
		ON CONFLICT (source_ticket_id) DO NOTHING RETURNING id`,
		a.Title, a.Problem, a.Cause, a.Resolution, a.Category, source, a.CreatedAt).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		// Made from this ticket before: keep the first.
		err = s.pool.QueryRow(ctx, `SELECT id FROM kb_articles WHERE source_ticket_id = $1`, a.SourceTicketID).Scan(&id)
	}
	if err != nil {
		return fmt.Errorf("insert kb article: %w", err)
	}
	got, err := s.KBGet(ctx, id)
	if err != nil {
		return err
	}
	*a = *got
	return nil
}

func (s *Store) KBUpdate(ctx context.Context, a *ticketing.KBArticle, version int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE kb_articles SET title = $1, problem = $2, cause = $3, resolution = $4,
		category = $5, updated_at = $6, version = version + 1 WHERE id = $7 AND version = $8`,
		a.Title, a.Problem, a.Cause, a.Resolution, a.Category, a.UpdatedAt, a.ID, version)
	if err != nil {
		return fmt.Errorf("update kb article: %w", err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := s.KBGet(ctx, a.ID); err != nil {
			return err
		}
		return ticketing.ErrConflict
	}
	return nil
}

func (s *Store) KBGet(ctx context.Context, id int64) (*ticketing.KBArticle, error) {
	a, err := scanKB(s.pool.QueryRow(ctx, `SELECT `+kbColumns+kbFrom+` WHERE a.id = $1`, id))
	return a, notFound(err)
}

func (s *Store) KBList(ctx context.Context, p ticketing.KBListParams) ([]*ticketing.KBArticle, error) {
	if p.After > 0 {
		return s.kbQuery(ctx, `SELECT `+kbColumns+kbFrom+` WHERE a.id < $1 ORDER BY a.id DESC LIMIT $2`, p.After, p.Limit)
	}
	return s.kbQuery(ctx, `SELECT `+kbColumns+kbFrom+` ORDER BY a.id DESC LIMIT $1`, p.Limit)
}

func (s *Store) kbQuery(ctx context.Context, q string, args ...any) ([]*ticketing.KBArticle, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("kb query: %w", err)
	}
	defer rows.Close()
	var out []*ticketing.KBArticle
	for rows.Next() {
		a, err := scanKB(rows)
		if err != nil {
			return nil, fmt.Errorf("kb query: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// KBSearch matches the lower-cased text against each term with LIKE, which
// the pg_trgm GIN index serves for terms of three characters or more.
func (s *Store) KBSearch(ctx context.Context, p ticketing.KBSearchParams) ([]*ticketing.KBArticle, error) {
	var patterns []string
	for _, t := range p.Terms {
		if t = strings.TrimSpace(t); t != "" {
			patterns = append(patterns, "%"+escapeLike(strings.ToLower(t))+"%")
		}
	}
	if len(patterns) == 0 {
		return nil, nil
	}
	return s.kbQuery(ctx, `SELECT `+kbColumns+kbFrom+` WHERE a.search_text LIKE ANY($1) ORDER BY a.id DESC LIMIT $2`,
		patterns, p.Limit)
}

func (s *Store) ReportTickets(ctx context.Context, p ticketing.ReportParams) ([]*ticketing.ReportRow, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT id, number, channel, kind, priority, status, tier, subject,
		description <> '', caller_phone, caller_email, assignee, resolution <> '', received_at, resolved_at, closed_at,
		response_due, resolve_due, responded_at, confirmed_at, sla_paused_us, sla_flags, escalations, reopens, reassigns
		FROM tickets WHERE received_at >= $1 AND received_at < $2`, p.From, p.To)
	b.Queue(`SELECT e.ticket_id, e.type, coalesce((e.data->>'wait_seconds')::float8, 0)
		FROM events e JOIN tickets t ON t.id = e.ticket_id
		WHERE t.received_at >= $1 AND t.received_at < $2 AND t.channel = 'phone' AND e.type IN ($3, $4)`,
		p.From, p.To, ticketing.EventCallAnswered, ticketing.EventCallAbandoned)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("report tickets: %w", err)
	}
	var out []*ticketing.ReportRow
	byID := map[int64]*ticketing.ReportRow{}
	for rows.Next() {
		var r ticketing.ReportRow
		var paused int64
		var flags int
		var resolved, closed, respDue, resDue, responded, confirmed pgtype.Timestamptz
		if err := rows.Scan(&r.ID, &r.Number, &r.Channel, &r.Kind, &r.Priority, &r.Status, &r.Tier, &r.Subject,
			&r.HasDesc, &r.CallerPhone, &r.CallerEmail, &r.Assignee, &r.HasResolution, &r.ReceivedAt, &resolved, &closed,
			&respDue, &resDue, &responded, &confirmed, &paused, &flags, &r.Escalations, &r.Reopens, &r.Reassigns); err != nil {
			rows.Close()
			return nil, fmt.Errorf("report tickets: %w", err)
		}
		r.ReceivedAt, r.ResolvedAt, r.ClosedAt = r.ReceivedAt.UTC(), fromTS(resolved), fromTS(closed)
		r.ResponseDue, r.ResolveDue, r.RespondedAt, r.ConfirmedAt = fromTS(respDue), fromTS(resDue), fromTS(responded), fromTS(confirmed)
		r.Paused, r.Flags = time.Duration(paused)*time.Microsecond, ticketing.SLAFlags(flags)
		out = append(out, &r)
		byID[r.ID] = &r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report tickets: %w", err)
	}
	crows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("report calls: %w", err)
	}
	defer crows.Close()
	for crows.Next() {
		var id int64
		var typ string
		var wait float64
		if err := crows.Scan(&id, &typ, &wait); err != nil {
			return nil, fmt.Errorf("report calls: %w", err)
		}
		if r := byID[id]; r != nil {
			r.NoteCall(typ, wait)
		}
	}
	return out, crows.Err()
}

func (s *Store) ReportContacts(ctx context.Context, p ticketing.ReportParams) (map[ticketing.Channel]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT coalesce(data->>'channel', ''), count(*) FROM events
		WHERE type IN ($1, $2) AND at >= $3 AND at < $4 GROUP BY 1`,
		ticketing.EventCreated, ticketing.EventContact, p.From, p.To)
	if err != nil {
		return nil, fmt.Errorf("report contacts: %w", err)
	}
	defer rows.Close()
	out := map[ticketing.Channel]int{}
	for rows.Next() {
		var ch string
		var n int
		if err := rows.Scan(&ch, &n); err != nil {
			return nil, fmt.Errorf("report contacts: %w", err)
		}
		out[ticketing.Channel(ch)] += n
	}
	return out, rows.Err()
}

func (s *Store) SecretGet(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `WITH ins AS (INSERT INTO secrets (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO NOTHING RETURNING value)
		SELECT value FROM ins UNION ALL SELECT value FROM secrets WHERE name = $1 LIMIT 1`, name, fresh).Scan(&v)
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return v, nil
}
