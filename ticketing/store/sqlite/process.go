package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hotline-desk/hotline/ticketing"
)

const kbColumns = `a.id, a.title, a.problem, a.cause, a.resolution, a.category, coalesce(a.source_ticket_id, 0),
	coalesce(t.number, ''), a.created_at, a.updated_at, a.version`

const kbFrom = ` FROM kb_articles a LEFT JOIN tickets t ON t.id = a.source_ticket_id`

func scanKB(row scanner) (*ticketing.KBArticle, error) {
	var a ticketing.KBArticle
	var created, updated int64
	if err := row.Scan(&a.ID, &a.Title, &a.Problem, &a.Cause, &a.Resolution, &a.Category, &a.SourceTicketID,
		&a.SourceTicket, &created, &updated, &a.Version); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &a, nil
}

func (s *Store) KBCreate(ctx context.Context, a *ticketing.KBArticle) error {
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var source any
		if a.SourceTicketID != 0 {
			source = a.SourceTicketID
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO kb_articles (title, problem, cause, resolution, category,
			source_ticket_id, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
			ON CONFLICT (source_ticket_id) DO NOTHING RETURNING id`,
			a.Title, a.Problem, a.Cause, a.Resolution, a.Category, source, micros(a.CreatedAt), micros(a.CreatedAt)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			// Made from this ticket before: keep the first.
			return tx.QueryRowContext(ctx, `SELECT id FROM kb_articles WHERE source_ticket_id = ?`, a.SourceTicketID).Scan(&id)
		}
		if err != nil {
			return fmt.Errorf("insert kb article: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	got, err := s.KBGet(ctx, id)
	if err != nil {
		return err
	}
	*a = *got
	return nil
}

func (s *Store) KBUpdate(ctx context.Context, a *ticketing.KBArticle, version int64) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE kb_articles SET title = ?, problem = ?, cause = ?, resolution = ?,
			category = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?`,
			a.Title, a.Problem, a.Cause, a.Resolution, a.Category, micros(a.UpdatedAt), a.ID, version)
		if err != nil {
			return fmt.Errorf("update kb article: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM kb_articles WHERE id = ?`, a.ID).Scan(&one); err != nil {
				return notFound(err)
			}
			return ticketing.ErrConflict
		}
		return nil
	})
}

func (s *Store) KBGet(ctx context.Context, id int64) (*ticketing.KBArticle, error) {
	a, err := scanKB(s.r.QueryRowContext(ctx, `SELECT `+kbColumns+kbFrom+` WHERE a.id = ?`, id))
	return a, notFound(err)
}

func (s *Store) KBList(ctx context.Context, p ticketing.KBListParams) ([]*ticketing.KBArticle, error) {
	q, args := `SELECT `+kbColumns+kbFrom, []any{}
	if p.After > 0 {
		q, args = q+` WHERE a.id < ?`, append(args, p.After)
	}
	return s.kbQuery(ctx, q+` ORDER BY a.id DESC LIMIT ?`, append(args, p.Limit)...)
}

func (s *Store) kbQuery(ctx context.Context, q string, args ...any) ([]*ticketing.KBArticle, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
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

// KBSearch uses the FTS5 trigram index for terms of three characters or
// more, and a LIKE scan for shorter ones (a trigram index cannot hold
// them; Chinese words are often two characters).
func (s *Store) KBSearch(ctx context.Context, p ticketing.KBSearchParams) ([]*ticketing.KBArticle, error) {
	var long, short []string
	for _, t := range p.Terms {
		if utf8.RuneCountInString(t) >= 3 {
			long = append(long, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
		} else if t != "" {
			short = append(short, t)
		}
	}
	var parts []string
	var args []any
	if len(long) > 0 {
		parts, args = append(parts, `SELECT rowid FROM kb_fts WHERE kb_fts MATCH ?`), append(args, strings.Join(long, " OR "))
	}
	for _, t := range short {
		like := "%" + escapeLike(t) + "%"
		parts = append(parts, `SELECT id FROM kb_articles WHERE lower(title || ' ' || problem || ' ' || cause || ' ' ||
			resolution || ' ' || category) LIKE ? ESCAPE '\'`)
		args = append(args, like)
	}
	if len(parts) == 0 {
		return nil, nil
	}
	q := `SELECT ` + kbColumns + kbFrom + ` WHERE a.id IN (` + strings.Join(parts, " UNION ") + `) ORDER BY a.id DESC LIMIT ?`
	return s.kbQuery(ctx, q, append(args, p.Limit)...)
}

func (s *Store) ReportTickets(ctx context.Context, p ticketing.ReportParams) ([]*ticketing.ReportRow, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, number, channel, kind, priority, status, tier, subject,
		description <> '', caller_phone, caller_email, assignee, resolution <> '', received_at, resolved_at, closed_at,
		response_due, resolve_due, responded_at, confirmed_at, sla_paused_us, sla_flags, escalations, reopens, reassigns
		FROM tickets WHERE received_at >= ? AND received_at < ?`, micros(p.From), micros(p.To))
	if err != nil {
		return nil, fmt.Errorf("report tickets: %w", err)
	}
	defer rows.Close()
	var out []*ticketing.ReportRow
	byID := map[int64]*ticketing.ReportRow{}
	for rows.Next() {
		var r ticketing.ReportRow
		var received, paused int64
		var resolved, closed, respDue, resDue, responded, confirmed sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Number, &r.Channel, &r.Kind, &r.Priority, &r.Status, &r.Tier, &r.Subject,
			&r.HasDesc, &r.CallerPhone, &r.CallerEmail, &r.Assignee, &r.HasResolution, &received, &resolved, &closed,
			&respDue, &resDue, &responded, &confirmed, &paused, &r.Flags, &r.Escalations, &r.Reopens, &r.Reassigns); err != nil {
			return nil, fmt.Errorf("report tickets: %w", err)
		}
		r.ReceivedAt, r.ResolvedAt, r.ClosedAt = fromMicros(received), fromNullMicros(resolved), fromNullMicros(closed)
		r.ResponseDue, r.ResolveDue = fromNullMicros(respDue), fromNullMicros(resDue)
		r.RespondedAt, r.ConfirmedAt = fromNullMicros(responded), fromNullMicros(confirmed)
		r.Paused = time.Duration(paused) * time.Microsecond
		out = append(out, &r)
		byID[r.ID] = &r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report tickets: %w", err)
	}
	rows.Close()
	crows, err := s.r.QueryContext(ctx, `SELECT e.ticket_id, e.type, coalesce(json_extract(e.data, '$.wait_seconds'), 0)
		FROM events e JOIN tickets t ON t.id = e.ticket_id
		WHERE t.received_at >= ? AND t.received_at < ? AND t.channel = 'phone' AND e.type IN (?, ?)`,
		micros(p.From), micros(p.To), ticketing.EventCallAnswered, ticketing.EventCallAbandoned)
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
	rows, err := s.r.QueryContext(ctx, `SELECT coalesce(json_extract(data, '$.channel'), ''), count(*) FROM events
		WHERE type IN (?, ?) AND at >= ? AND at < ? GROUP BY 1`,
		ticketing.EventCreated, ticketing.EventContact, micros(p.From), micros(p.To))
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			name, fresh, micros(time.Now())); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return v, nil
}
