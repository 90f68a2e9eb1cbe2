package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hotline-desk/hotline/ticketing"
)

// MailAckClaim runs in the single writer's transaction, which serializes
// it against every other claim.
func (s *Store) MailAckClaim(ctx context.Context, p ticketing.MailAckClaimParams) (bool, error) {
	var granted bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		granted = false
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM mail_ack_grants WHERE job_id = ?`, p.JobID).Scan(&one)
		if err == nil {
			granted = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		since := micros(p.At.Add(-p.Window))
		if _, err := tx.ExecContext(ctx, `DELETE FROM mail_ack_grants WHERE address = ? AND granted_at <= ?`, p.Address, since); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM mail_ack_grants WHERE address = ?`, p.Address).Scan(&n); err != nil {
			return err
		}
		if n >= p.Limit {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO mail_ack_grants (job_id, address, granted_at) VALUES (?, ?, ?)`,
			p.JobID, p.Address, micros(p.At)); err != nil {
			return err
		}
		granted = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("mail ack claim: %w", err)
	}
	return granted, nil
}
