package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hotline-desk/hotline/ticketing"
)

const sipBindingColumns = `aor, contact, source, transport, call_id, cseq, expires_at, updated_at, instance`

func (s *Store) SIPBindingSave(ctx context.Context, p *ticketing.SIPBindingSaveParams) ([]ticketing.SIPBinding, error) {
	var out []ticketing.SIPBinding
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM sip_bindings WHERE expires_at <= $1`, p.Now)
		if p.RemoveAll {
			b.Queue(`DELETE FROM sip_bindings WHERE aor = $1`, p.AOR)
		}
		for _, c := range p.Remove {
			b.Queue(`DELETE FROM sip_bindings WHERE aor = $1 AND contact = $2`, p.AOR, c)
		}
		for _, sb := range p.Set {
			b.Queue(`INSERT INTO sip_bindings (`+sipBindingColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (aor, contact) DO UPDATE SET source = excluded.source, transport = excluded.transport,
					call_id = excluded.call_id, cseq = excluded.cseq, expires_at = excluded.expires_at,
					updated_at = excluded.updated_at, instance = excluded.instance
				WHERE NOT (sip_bindings.call_id = excluded.call_id AND sip_bindings.cseq >= excluded.cseq)`,
				p.AOR, sb.Contact, sb.Source, sb.Transport, sb.CallID, int64(sb.CSeq), sb.ExpiresAt, sb.UpdatedAt, sb.Instance)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("save bindings: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT `+sipBindingColumns+` FROM sip_bindings WHERE aor = $1 AND expires_at > $2 ORDER BY contact`, p.AOR, p.Now)
		if err != nil {
			return fmt.Errorf("list bindings: %w", err)
		}
		out, err = collectBindings(rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) SIPBindingList(ctx context.Context, now time.Time) ([]ticketing.SIPBinding, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sipBindingColumns+` FROM sip_bindings WHERE expires_at > $1 ORDER BY aor, contact`, now)
	if err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	return collectBindings(rows)
}

func collectBindings(rows pgx.Rows) ([]ticketing.SIPBinding, error) {
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ticketing.SIPBinding, error) {
		var b ticketing.SIPBinding
		var cseq int64
		err := row.Scan(&b.AOR, &b.Contact, &b.Source, &b.Transport, &b.CallID, &cseq, &b.ExpiresAt, &b.UpdatedAt, &b.Instance)
		b.CSeq, b.ExpiresAt, b.UpdatedAt = uint32(cseq), b.ExpiresAt.UTC(), b.UpdatedAt.UTC()
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	return out, nil
}

func (s *Store) SIPAuthFailure(ctx context.Context, p ticketing.SIPAuthFailureParams) (time.Time, error) {
	var locked pgtype.Timestamptz
	// A window that is over starts again with this failure; a lock-out that
	// is over is lifted.
	err := s.pool.QueryRow(ctx, `INSERT INTO sip_auth_failures AS f (source, failures, window_start, locked_until)
		VALUES ($1, 1, $2::timestamptz, CASE WHEN 1 >= $3::integer THEN $2::timestamptz + $5::interval END)
		ON CONFLICT (source) DO UPDATE SET
			failures = CASE WHEN f.window_start + $4::interval <= $2::timestamptz THEN 1 ELSE f.failures + 1 END,
			window_start = CASE WHEN f.window_start + $4::interval <= $2::timestamptz THEN $2::timestamptz ELSE f.window_start END,
			locked_until = CASE
				WHEN f.locked_until > $2::timestamptz THEN f.locked_until
				WHEN (CASE WHEN f.window_start + $4::interval <= $2::timestamptz THEN 1 ELSE f.failures + 1 END) >= $3::integer
					THEN $2::timestamptz + $5::interval
			END
		RETURNING locked_until`,
		p.Source, p.At, p.Limit, p.Window, p.LockFor).Scan(&locked)
	if err != nil {
		return time.Time{}, fmt.Errorf("record auth failure: %w", err)
	}
	if !locked.Valid || !locked.Time.After(p.At) {
		return time.Time{}, nil
	}
	return locked.Time.UTC(), nil
}

func (s *Store) SIPAuthReset(ctx context.Context, source string, now time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sip_auth_failures WHERE source = $1 AND (locked_until IS NULL OR locked_until <= $2)`, source, now); err != nil {
		return fmt.Errorf("reset auth failures: %w", err)
	}
	return nil
}

func (s *Store) SIPLockoutList(ctx context.Context, now time.Time) ([]ticketing.SIPLockout, error) {
	rows, err := s.pool.Query(ctx, `SELECT source, failures, locked_until FROM sip_auth_failures
		WHERE locked_until > $1 ORDER BY source`, now)
	if err != nil {
		return nil, fmt.Errorf("list lockouts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ticketing.SIPLockout, error) {
		var l ticketing.SIPLockout
		err := row.Scan(&l.Source, &l.Failures, &l.LockedUntil)
		l.LockedUntil = l.LockedUntil.UTC()
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("list lockouts: %w", err)
	}
	return out, nil
}
