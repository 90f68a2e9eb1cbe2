package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

func (s *Store) JobInsert(ctx context.Context, jobs []ticketing.JobSpec) error {
	if len(jobs) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		return insertJobs(ctx, tx, jobs, micros(time.Now()))
	})
}

func insertJobs(ctx context.Context, tx *sql.Tx, jobs []ticketing.JobSpec, now int64) error {
	for _, j := range jobs {
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
		runAt := now
		if !j.RunAt.IsZero() {
			runAt = micros(j.RunAt)
		}
		conflict := "DO NOTHING"
		if j.Reschedule {
			conflict = "DO UPDATE SET run_at = excluded.run_at, args = excluded.args WHERE jobs.state = 'available'"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (kind, ticket_id, args, unique_key, state, run_at, max_attempts, created_at)
			VALUES (?, ?, ?, ?, 'available', ?, ?, ?)
			ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('available', 'running') `+conflict,
			j.Kind, ticket, args, key, runAt, maxAttempts(j.MaxAttempts), now); err != nil {
			return fmt.Errorf("insert job %s: %w", j.Kind, err)
		}
	}
	return nil
}

func maxAttempts(n int) int {
	if n <= 0 {
		return 25
	}
	return n
}

func (s *Store) JobClaim(ctx context.Context, p ticketing.JobClaimParams) ([]*ticketing.Job, error) {
	if len(p.Kinds) == 0 || p.Limit <= 0 {
		return nil, nil
	}
	var out []*ticketing.Job
	now := micros(p.Now)
	kinds := placeholders(len(p.Kinds))
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		// A worker that died mid-run leaves its lease to expire; once the
		// job has used its attempts that way, it fails for good.
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'failed', finished_at = ?,
			last_error = coalesce(last_error, 'lease expired'), locked_by = NULL, locked_until = NULL
			WHERE kind IN (`+kinds+`) AND state = 'running' AND locked_until < ? AND attempt >= max_attempts`,
			append(append([]any{now}, anys(p.Kinds)...), now)...); err != nil {
			return fmt.Errorf("fail expired jobs: %w", err)
		}
		// Two index searches, not one OR: with an OR, SQLite scans every
		// job of the kinds (100,000 waiting timers) at each poll.
		args := append(append(append(append([]any{p.Worker, micros(p.Now.Add(p.Lease))}, anys(p.Kinds)...), now),
			anys(p.Kinds)...), now, p.Limit)
		rows, err := tx.QueryContext(ctx, `UPDATE jobs SET state = 'running', attempt = attempt + 1, locked_by = ?, locked_until = ?
			WHERE id IN (SELECT id FROM (
				SELECT id, run_at FROM jobs WHERE kind IN (`+kinds+`) AND state = 'available' AND run_at <= ?
				UNION ALL
				SELECT id, run_at FROM jobs WHERE kind IN (`+kinds+`) AND state = 'running' AND locked_until < ?)
				ORDER BY run_at, id LIMIT ?)
			RETURNING id, kind, coalesce(ticket_id, 0), args, run_at, attempt, max_attempts, coalesce(unique_key, ''), created_at`, args...)
		if err != nil {
			return fmt.Errorf("claim jobs: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var j ticketing.Job
			var args string
			var runAt, created int64
			if err := rows.Scan(&j.ID, &j.Kind, &j.TicketID, &args, &runAt, &j.Attempt, &j.MaxAttempts, &j.UniqueKey, &created); err != nil {
				return fmt.Errorf("claim jobs: %w", err)
			}
			j.Args, j.RunAt, j.CreatedAt = []byte(args), fromMicros(runAt), fromMicros(created)
			out = append(out, &j)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) JobFinish(ctx context.Context, p ticketing.JobFinishParams) error {
	return s.write(ctx, func(tx *sql.Tx) error { return finishJob(ctx, tx, p) })
}

func finishJob(ctx context.Context, tx *sql.Tx, p ticketing.JobFinishParams) error {
	var res sql.Result
	var err error
	switch {
	case p.Error == "":
		res, err = tx.ExecContext(ctx, `UPDATE jobs SET state = 'done', finished_at = ?, locked_by = NULL, locked_until = NULL
			WHERE id = ? AND state = 'running' AND locked_by = ?`, micros(p.At), p.ID, p.Worker)
	case !p.RetryAt.IsZero():
		res, err = tx.ExecContext(ctx, `UPDATE jobs SET state = 'available', run_at = ?, last_error = ?, locked_by = NULL, locked_until = NULL
			WHERE id = ? AND state = 'running' AND locked_by = ?`, micros(p.RetryAt), p.Error, p.ID, p.Worker)
	default:
		res, err = tx.ExecContext(ctx, `UPDATE jobs SET state = 'failed', finished_at = ?, last_error = ?, locked_by = NULL, locked_until = NULL
			WHERE id = ? AND state = 'running' AND locked_by = ?`, micros(p.At), p.Error, p.ID, p.Worker)
	}
	if err != nil {
		return fmt.Errorf("finish job %d: %w", p.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("finish job %d: %w", p.ID, ticketing.ErrLeaseLost)
	}
	return nil
}

func (s *Store) JobCancel(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE state = 'available' AND unique_key IN (`+
			placeholders(len(keys))+`)`, anys(keys)...)
		if err != nil {
			return fmt.Errorf("cancel jobs: %w", err)
		}
		return nil
	})
}
