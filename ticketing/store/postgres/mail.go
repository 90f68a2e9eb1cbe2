package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-desk/hotline/ticketing"
)

// mailAckLock namespaces the advisory locks of MailAckClaim.
const mailAckLock = 0x6d61696c // "mail"

// MailAckClaim serializes the claims for one address across instances with
// a transaction-scoped advisory lock, so that two instances cannot both
// see room for the last acknowledgement.
func (s *Store) MailAckClaim(ctx context.Context, p ticketing.MailAckClaimParams) (bool, error) {
	var granted bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		granted = false
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, mailAckLock, p.Address); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mail_ack_grants WHERE job_id = $1)`, p.JobID).Scan(&exists); err != nil {
			return err
		}
		if exists {
			granted = true
			return nil
		}
		since := p.At.Add(-p.Window)
		if _, err := tx.Exec(ctx, `DELETE FROM mail_ack_grants WHERE address = $1 AND granted_at <= $2`, p.Address, since); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM mail_ack_grants WHERE address = $1`, p.Address).Scan(&n); err != nil {
			return err
		}
		if n >= p.Limit {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO mail_ack_grants (job_id, address, granted_at) VALUES ($1, $2, $3)`,
			p.JobID, p.Address, p.At); err != nil {
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
