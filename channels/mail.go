package channels

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

// TicketPlaceholder, in the Subject, Text or HTML of an OutboundMail, is
// replaced by the ticket's number when the mail is sent: a job committed
// with a new ticket is written before the ticket has its number.
const TicketPlaceholder = "{ticket}"

// MailAckClaim asks whether an acknowledgement may go to address now: at
// most limit per window, counted in the store so that every instance
// shares the count. It is idempotent by jobID (a retried send after a crash
// is not counted twice). limit <= 0 allows every one.
func (in *Intake) MailAckClaim(ctx context.Context, address string, jobID int64, limit int, window time.Duration) (bool, error) {
	if limit <= 0 {
		return true, nil
	}
	ok, err := in.desk.Store().MailAckClaim(ctx, ticketing.MailAckClaimParams{
		Address: strings.ToLower(strings.TrimSpace(address)), JobID: jobID, At: in.desk.Now(), Window: window, Limit: limit,
	})
	if err != nil {
		return false, fmt.Errorf("acknowledgement limit for %s: %w", address, err)
	}
	return ok, nil
}
