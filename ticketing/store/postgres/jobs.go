package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hotline-desk/hotline/ticketing"
)

func (s *Store) JobInsert(ctx context.Context, jobs []ticketing.JobSpec) error {
	if len(jobs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	now := time.Now()
	for _, j := range jobs {
		queueJob(b, j, now)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("insert jobs: %w", err)
	}
	return nil
}

func queueJob(b *pgx.Batch, j ticketing.JobSpec, now time.Time) {
	var ticket, key any
	if j.TicketID != 0 {
		ticket = j.TicketID
	}
	if j.UniqueKey != "" {
		key = j.UniqueKey
	}
	args := string(j.Args)
	if args == "" {
		args = "{}"
	}
	runAt := j.RunAt
	if runAt.IsZero() {
		runAt = now
	}
	conflict := "DO NOTHING"
	if j.Reschedule {
		conflict = "DO UPDATE SET run_at = excluded.run_at, args = excluded.args WHERE jobs.state = 'available'"
	}
	b.Queue(`INSERT INTO jobs (kind, ticket_id, args, unique_key, state, run_at, max_attempts, created_at)
		VALUES ($1, $2, $3::text::json, $4, 'available', $5, $6, $7)
		ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('available', 'running') `+conflict,
		j.Kind, ticket, args, key, runAt, maxAttempts(j.MaxAttempts), now)
}

// failExpiredSQL fails for good the jobs whose worker died mid-run (their
// lease expired) once they have used their attempts that way.
const failExpiredSQL = `UPDATE jobs SET state = 'failed', finished_at = $2, last_error = coalesce(last_error, 'lease expired'),
	locked_by = NULL, locked_until = NULL
	WHERE kind = ANY($1) AND state = 'running' AND locked_until < $2 AND attempt >= max_attempts`

// claimSQL leases the next due jobs: available ones whose time has come,
// and running ones whose lease expired. The two are looked up apart, each
// on jobs_due: as one condition with OR, the generic plan scanned the
// whole table on every poll (3 ms at 10,000 pending SLA timers, and more
// with every ticket).
const claimSQL = `WITH due AS (
	SELECT id, run_at FROM jobs WHERE kind = ANY($1) AND state = 'available' AND run_at <= $2
	ORDER BY run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED
), expired AS (
	SELECT id, run_at FROM jobs WHERE kind = ANY($1) AND state = 'running' AND locked_until < $2 AND attempt < max_attempts
	ORDER BY run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED
)
UPDATE jobs SET state = 'running', attempt = attempt + 1, locked_by = $3, locked_until = $4
WHERE id IN (SELECT id FROM (SELECT * FROM due UNION ALL SELECT * FROM expired) x ORDER BY run_at, id LIMIT $5)
RETURNING id, kind, coalesce(ticket_id, 0), args::text, run_at, attempt, max_attempts, coalesce(unique_key, ''), created_at`

func (s *Store) JobClaim(ctx context.Context, p ticketing.JobClaimParams) ([]*ticketing.Job, error) {
	if len(p.Kinds) == 0 || p.Limit <= 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	b.Queue(failExpiredSQL, p.Kinds, p.Now)
	b.Queue(claimSQL, p.Kinds, p.Now, p.Worker, p.Now.Add(p.Lease), p.Limit)
	br := s.lazy.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("fail expired jobs: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	var out []*ticketing.Job
	for rows.Next() {
		var j ticketing.Job
		var args string
		if err := rows.Scan(&j.ID, &j.Kind, &j.TicketID, &args, &j.RunAt, &j.Attempt, &j.MaxAttempts, &j.UniqueKey, &j.CreatedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim jobs: %w", err)
		}
		j.Args, j.RunAt, j.CreatedAt = []byte(args), j.RunAt.UTC(), j.CreatedAt.UTC()
		out = append(out, &j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	return out, br.Close()
}

func (s *Store) JobFinish(ctx context.Context, p ticketing.JobFinishParams) error {
	return finishJob(ctx, s.pool, p)
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func finishJob(ctx context.Context, db execer, p ticketing.JobFinishParams) error {
	var tag pgconn.CommandTag
	var err error
	switch {
	case p.Error == "":
		tag, err = db.Exec(ctx, `UPDATE jobs SET state = 'done', finished_at = $1, locked_by = NULL, locked_until = NULL
			WHERE id = $2 AND state = 'running' AND locked_by = $3`, p.At, p.ID, p.Worker)
	case !p.RetryAt.IsZero():
		tag, err = db.Exec(ctx, `UPDATE jobs SET state = 'available', run_at = $1, last_error = $2, locked_by = NULL, locked_until = NULL
			WHERE id = $3 AND state = 'running' AND locked_by = $4`, p.RetryAt, p.Error, p.ID, p.Worker)
	default:
		tag, err = db.Exec(ctx, `UPDATE jobs SET state = 'failed', finished_at = $1, last_error = $2, locked_by = NULL, locked_until = NULL
			WHERE id = $3 AND state = 'running' AND locked_by = $4`, p.At, p.Error, p.ID, p.Worker)
	}
	if err != nil {
		return fmt.Errorf("finish job %d: %w", p.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("finish job %d: %w", p.ID, ticketing.ErrLeaseLost)
	}
	return nil
}

func (s *Store) JobCancel(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM jobs WHERE state = 'available' AND unique_key = ANY($1)`, keys); err != nil {
		return fmt.Errorf("cancel jobs: %w", err)
	}
	return nil
}
