package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

const sipBindingColumns = `aor, contact, source, transport, call_id, cseq, expires_at, updated_at, instance`

func (s *Store) SIPBindingSave(ctx context.Context, p *ticketing.SIPBindingSaveParams) ([]ticketing.SIPBinding, error) {
	now := micros(p.Now)
	var out []ticketing.SIPBinding
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		if _, err := tx.ExecContext(ctx, `DELETE FROM sip_bindings WHERE expires_at <= ?`, now); err != nil {
			return fmt.Errorf("expire bindings: %w", err)
		}
		if p.RemoveAll {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sip_bindings WHERE aor = ?`, p.AOR); err != nil {
				return fmt.Errorf("remove bindings: %w", err)
			}
		}
		for _, c := range p.Remove {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sip_bindings WHERE aor = ? AND contact = ?`, p.AOR, c); err != nil {
				return fmt.Errorf("remove binding: %w", err)
			}
		}
		for _, b := range p.Set {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sip_bindings (`+sipBindingColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (aor, contact) DO UPDATE SET source = excluded.source, transport = excluded.transport,
					call_id = excluded.call_id, cseq = excluded.cseq, expires_at = excluded.expires_at,
					updated_at = excluded.updated_at, instance = excluded.instance
				WHERE NOT (sip_bindings.call_id = excluded.call_id AND sip_bindings.cseq >= excluded.cseq)`,
				p.AOR, b.Contact, b.Source, b.Transport, b.CallID, int64(b.CSeq), micros(b.ExpiresAt), micros(b.UpdatedAt), b.Instance); err != nil {
				return fmt.Errorf("save binding: %w", err)
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+sipBindingColumns+` FROM sip_bindings WHERE aor = ? AND expires_at > ? ORDER BY contact`, p.AOR, now)
		if err != nil {
			return fmt.Errorf("list bindings: %w", err)
		}
		out, err = scanBindings(rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) SIPBindingList(ctx context.Context, now time.Time) ([]ticketing.SIPBinding, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sipBindingColumns+` FROM sip_bindings WHERE expires_at > ? ORDER BY aor, contact`, micros(now))
	if err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	return scanBindings(rows)
}

func scanBindings(rows *sql.Rows) ([]ticketing.SIPBinding, error) {
	defer rows.Close()
	var out []ticketing.SIPBinding
	for rows.Next() {
		var b ticketing.SIPBinding
		var cseq, exp, upd int64
		if err := rows.Scan(&b.AOR, &b.Contact, &b.Source, &b.Transport, &b.CallID, &cseq, &exp, &upd, &b.Instance); err != nil {
			return nil, fmt.Errorf("scan binding: %w", err)
		}
		b.CSeq, b.ExpiresAt, b.UpdatedAt = uint32(cseq), fromMicros(exp), fromMicros(upd)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	return out, nil
}

func (s *Store) SIPAuthFailure(ctx context.Context, p ticketing.SIPAuthFailureParams) (time.Time, error) {
	at := micros(p.At)
	var locked sql.NullInt64
	err := s.write(ctx, func(tx *sql.Tx) error {
		// A window that is over starts again with this failure; a lock-out
		// that is over is lifted.
		return tx.QueryRowContext(ctx, `INSERT INTO sip_auth_failures (source, failures, window_start, locked_until)
			VALUES (?1, 1, ?2, CASE WHEN 1 >= ?3 THEN ?2 + ?5 END)
			ON CONFLICT (source) DO UPDATE SET
				failures = CASE WHEN sip_auth_failures.window_start + ?4 <= ?2 THEN 1 ELSE sip_auth_failures.failures + 1 END,
				window_start = CASE WHEN sip_auth_failures.window_start + ?4 <= ?2 THEN ?2 ELSE sip_auth_failures.window_start END,
				locked_until = CASE
					WHEN sip_auth_failures.locked_until > ?2 THEN sip_auth_failures.locked_until
					WHEN (CASE WHEN sip_auth_failures.window_start + ?4 <= ?2 THEN 1 ELSE sip_auth_failures.failures + 1 END) >= ?3 THEN ?2 + ?5
				END
			RETURNING locked_until`,
			p.Source, at, p.Limit, p.Window.Microseconds(), p.LockFor.Microseconds()).Scan(&locked)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("record auth failure: %w", err)
	}
	if !locked.Valid || locked.Int64 <= at {
		return time.Time{}, nil
	}
	return fromMicros(locked.Int64), nil
}

func (s *Store) SIPAuthReset(ctx context.Context, source string, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sip_auth_failures WHERE source = ? AND (locked_until IS NULL OR locked_until <= ?)`,
			source, micros(now))
		if err != nil {
			return fmt.Errorf("reset auth failures: %w", err)
		}
		return nil
	})
}

func (s *Store) SIPLockoutList(ctx context.Context, now time.Time) ([]ticketing.SIPLockout, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT source, failures, locked_until FROM sip_auth_failures
		WHERE locked_until > ? ORDER BY source`, micros(now))
	if err != nil {
		return nil, fmt.Errorf("list lockouts: %w", err)
	}
	defer rows.Close()
	var out []ticketing.SIPLockout
	for rows.Next() {
		var l ticketing.SIPLockout
		var until int64
		if err := rows.Scan(&l.Source, &l.Failures, &until); err != nil {
			return nil, fmt.Errorf("scan lockout: %w", err)
		}
		l.LockedUntil = fromMicros(until)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list lockouts: %w", err)
	}
	return out, nil
}
