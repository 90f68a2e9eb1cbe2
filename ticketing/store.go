package ticketing

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Store is the driver interface over the database. The drivers live in
// ticketing/store/{sqlite,postgres} and are held to one conformance suite
// (ticketing/store/storetest). Methods are named noun first and take their
// own params struct.
//
// Committed means durable: a method returns nil only after its transaction
// is fsync'd. TicketCreate and TicketAppend may share one commit among
// concurrent callers (group commit); each caller still learns its own
// outcome only after that commit.
type Store interface {
	Migrate(ctx context.Context) error
	Ping(ctx context.Context) error
	Close() error

	// TicketCreate allocates the next number of the day and writes the
	// ticket with its events, attachments, thread keys, participants and
	// jobs in one transaction. When Contact names a contact already
	// recorded, nothing is written and the result points at the ticket it
	// landed on, with Duplicate set.
	TicketCreate(ctx context.Context, p *TicketCreateParams) (IntakeResult, error)
	// TicketAppend adds events, attachments, thread keys, participants and
	// jobs to an existing ticket, idempotently by Contact like TicketCreate.
	TicketAppend(ctx context.Context, p *TicketAppendParams) (IntakeResult, error)
	// TicketUpdate writes the mutable fields of p.Ticket and appends
	// p.Events, if the ticket is still at p.Version (else ErrConflict).
	TicketUpdate(ctx context.Context, p *TicketUpdateParams) error
	TicketGet(ctx context.Context, p TicketGetParams) (*Ticket, error)
	TicketList(ctx context.Context, p TicketListParams) (TicketPage, error)

	// ContactGet finds where a contact was recorded (ErrNotFound if not).
	ContactGet(ctx context.Context, key ContactKey) (IntakeResult, error)
	// ThreadFind returns the ticket that owns any of keys, the most
	// recently created one when several do (ErrNotFound if none).
	ThreadFind(ctx context.Context, keys []string) (IntakeResult, error)
	// ParticipantAny reports whether any of addresses takes part in the
	// ticket.
	ParticipantAny(ctx context.Context, ticketID int64, addresses []string) (bool, error)

	CustomerCreate(ctx context.Context, c *Customer) error
	CustomerGet(ctx context.Context, id int64) (*Customer, error)
	// CustomerFind returns the customers having any of the phones (E.164)
	// or e-mails (lower case), oldest first.
	CustomerFind(ctx context.Context, p CustomerFindParams) ([]*Customer, error)

	AttachmentGet(ctx context.Context, id int64) (*Attachment, []byte, error)

	TokenAdd(ctx context.Context, name, hash string) error
	// TokenFind returns the name of the token with this sha256 hash.
	TokenFind(ctx context.Context, hash string) (string, error)

	JobInsert(ctx context.Context, jobs []JobSpec) error
	// JobClaim leases up to p.Limit due jobs of p.Kinds to p.Worker. A job
	// whose lease expired (its worker died) is due again.
	JobClaim(ctx context.Context, p JobClaimParams) ([]*Job, error)
	// JobFinish ends a leased job: done, retried at RetryAt, or failed for
	// good. ErrLeaseLost when the lease is no longer p.Worker's.
	JobFinish(ctx context.Context, p JobFinishParams) error
	// JobCancel removes unfinished jobs by unique key.
	JobCancel(ctx context.Context, uniqueKeys []string) error

	// The service-desk process (issue 7):
	//   KBCreate stores an article; one made from a ticket is made once
	//   (a second KBCreate with the same SourceTicketID leaves the first
	//   and fills in a with it). KBUpdate writes a if it is still at
	//   version (else ErrConflict). KBSearch returns the articles holding
	//   any of the terms, unranked. ReportTickets returns the tickets
	//   received in a period with their call outcomes; ReportContacts
	//   counts the contacts (tickets opened and contacts appended) made in
	//   it, by channel. SecretGet returns
	//   the secret of that name, storing fresh first if there is none, so
	//   that every instance on one database signs alike.
	processStore

	// The mail channel's acknowledgement limit (issue 3).
	//
	// MailAckClaim grants one acknowledgement to p.Address unless p.Limit
	// of them were granted in the p.Window before p.At; it is atomic across
	// instances and idempotent by p.JobID (granted again, not counted
	// twice).
	MailAckClaim(ctx context.Context, p MailAckClaimParams) (bool, error)

	// SIP registrar (the phone channel): softphone bindings and the
	// lock-out of addresses that fail authentication, shared by every
	// instance.

	// SIPBindingSave applies one REGISTER to an AOR's bindings and returns
	// the AOR's bindings that are then current. A binding refreshed with the
	// Call-ID it was made with and a CSeq not above the stored one is left
	// as it is (a reordered retransmission).
	SIPBindingSave(ctx context.Context, p *SIPBindingSaveParams) ([]SIPBinding, error)
	// SIPBindingList returns every binding not expired at now.
	SIPBindingList(ctx context.Context, now time.Time) ([]SIPBinding, error)
	// SIPAuthFailure counts a failed authentication and returns when the
	// source is locked out until (zero if it is not).
	SIPAuthFailure(ctx context.Context, p SIPAuthFailureParams) (time.Time, error)
	// SIPAuthReset forgets the failures of a source that authenticated at
	// now, unless it is locked out at now.
	SIPAuthReset(ctx context.Context, source string, now time.Time) error
	// SIPLockoutList returns the sources locked out at now.
	SIPLockoutList(ctx context.Context, now time.Time) ([]SIPLockout, error)
}

// MailAckClaimParams are the arguments of Store.MailAckClaim.
type MailAckClaimParams struct {
	Address string // lower case
	JobID   int64
	At      time.Time
	Window  time.Duration
	Limit   int
}

var (
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("changed by someone else meanwhile")
	ErrLeaseLost = errors.New("job lease lost")
)

// ContactKey identifies a contact within its channel: a Message-ID, a
// Call-ID, a fax file's hash. The intake is idempotent by it.
type ContactKey struct {
	Channel    Channel
	ExternalID string
}

// IntakeResult says where a contact landed.
type IntakeResult struct {
	TicketID  int64
	Number    string
	Duplicate bool
}

// AttachmentInput is a file to store with a ticket. SHA256 is the hex
// digest of Data.
type AttachmentInput struct {
	Name        string
	ContentType string
	Data        []byte
	SHA256      string
}

type TicketCreateParams struct {
	Prefix string
	// Day is the local day the number belongs to (its date part only).
	Day          time.Time
	Ticket       Ticket // without ID, Number, Version
	Contact      *ContactKey
	Events       []Event
	Attachments  []AttachmentInput
	ThreadKeys   []string
	Participants []string
	Jobs         []JobSpec // TicketID is set by the driver
}

type TicketAppendParams struct {
	TicketID     int64
	Contact      *ContactKey
	Events       []Event
	Attachments  []AttachmentInput
	ThreadKeys   []string
	Participants []string
	Jobs         []JobSpec
	At           time.Time // becomes updated_at
}

type TicketUpdateParams struct {
	Ticket  *Ticket // ID and the new values of the mutable fields
	Version int64   // the version the change was computed from
	Events  []Event
	Jobs    []JobSpec
	// FinishJob, when set, marks a leased job done in the same commit, so
	// that a timer's effect and its completion cannot be separated.
	FinishJob *JobFinishParams
}

type TicketGetParams struct {
	ID       int64
	Number   string
	Timeline bool // load events and attachments
}

type TicketListParams struct {
	Channel Channel
	Status  Status
	Kind    Kind
	Query   string // matched in number, subject, description and caller
	// ReceivedFrom and ReceivedTo bound received_at: [from, to).
	ReceivedFrom, ReceivedTo time.Time
	Limit                    int
	After                    int64 // cursor: list tickets with a smaller id
}

type TicketPage struct {
	Tickets []*Ticket
	// Next is the cursor for the following page; 0 when this is the last.
	Next int64
}

type CustomerFindParams struct {
	Phones []string
	Emails []string
}

// JobSpec is work to run later, durably: an outbound mail, a timer.
type JobSpec struct {
	Kind        string
	TicketID    int64
	Args        json.RawMessage
	RunAt       time.Time
	MaxAttempts int
	// UniqueKey, when set, is unique among unfinished jobs: inserting a
	// second one is ignored, unless Reschedule is set, in which case a job
	// still waiting takes the new RunAt and Args.
	UniqueKey  string
	Reschedule bool
}

type Job struct {
	ID          int64
	Kind        string
	TicketID    int64
	Args        json.RawMessage
	RunAt       time.Time
	Attempt     int // 1 on the first run
	MaxAttempts int
	UniqueKey   string
	CreatedAt   time.Time
}

type JobClaimParams struct {
	Worker string
	Kinds  []string
	Now    time.Time
	Lease  time.Duration
	Limit  int
}

type JobFinishParams struct {
	ID     int64
	Worker string
	At     time.Time
	// Error, when set, records why the run failed. The job then runs again
	// at RetryAt, or fails for good when RetryAt is zero.
	Error   string
	RetryAt time.Time
}
