package channels

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hotline-desk/hotline/ticketing"
)

// JobMailSend is the kind of the durable job that sends one e-mail through
// the configured relay (mail.relay). Every outbound mail goes through it:
// the acknowledgement, fax-to-mail, customer and agent notifications. The
// mail channel runs its handler: it renders the message, records its
// Message-ID on the ticket (so that replies thread), and retries with
// backoff until the relay takes it.
const JobMailSend = "mail.send"

// OutboundMail is the argument of a JobMailSend job.
type OutboundMail struct {
	// Purpose says why the mail is sent: "ack", "fax", "notify",
	// "report". It labels metrics and lets the sender apply its limits
	// (acknowledgements per sender per hour).
	Purpose string   `json:"purpose"`
	To      []string `json:"to"`
	Cc      []string `json:"cc,omitempty"`
	// Subject and Text are UTF-8; the sender encodes them (RFC 2047,
	// quoted-printable or base64). The [HL-…] tag is added to the subject
	// when the job has a ticket and the subject lacks it.
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html,omitempty"`
	// Attachments are ids of the ticket's stored files to attach (the fax
	// PDF, a report).
	Attachments []int64 `json:"attachments,omitempty"`
	// AttachNamed names files of the ticket to attach, for a mail queued
	// in the same commit as its ticket, before the files have ids (the fax
	// PDF of fax-to-mail).
	AttachNamed []string `json:"attach_named,omitempty"`
	// InReplyTo and References thread the mail under the customer's own.
	InReplyTo  string   `json:"in_reply_to,omitempty"`
	References []string `json:"references,omitempty"`
	// AutoSubmitted is the RFC 3834 value: "auto-replied" for
	// acknowledgements, "auto-generated" for notifications and reports.
	AutoSubmitted string `json:"auto_submitted,omitempty"`
}

// MailJob makes the job that sends m for the ticket (0 for none).
// uniqueKey, when set, keeps a retried step from queueing the same mail
// twice (e.g. "ack:<message-id>").
func MailJob(ticketID int64, m OutboundMail, uniqueKey string) (ticketing.JobSpec, error) {
	if len(m.To)+len(m.Cc) == 0 {
		return ticketing.JobSpec{}, fmt.Errorf("%w: outbound mail without recipients", ErrInvalid)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ticketing.JobSpec{}, fmt.Errorf("outbound mail: %w", err)
	}
	return ticketing.JobSpec{Kind: JobMailSend, TicketID: ticketID, Args: b, MaxAttempts: 30, UniqueKey: uniqueKey}, nil
}

// MessageIDKey is the thread key of a Message-ID, sent or received: a reply
// whose In-Reply-To or References names it lands on the same ticket.
func MessageIDKey(id string) string {
	return "msgid:" + strings.Trim(strings.TrimSpace(id), "<>")
}
