package ticketing

import (
	"context"
	"time"
)

// SLAState is what the service-desk process keeps on a ticket besides
// its dues: when the customer first saw an agent act, when the customer
// confirmed the fix, the clocks' pauses while the ticket waited for the
// customer, and what happened to it on the way (for the KPIs).
type SLAState struct {
	// RespondedAt is the first agent action the customer can see: the
	// ticket taken into work (in_progress), or put to the customer
	// (pending), or resolved.
	RespondedAt *time.Time `json:"responded_at,omitempty"`
	// ConfirmedAt is when the customer confirmed the resolution (by reply
	// or by the signed link). An auto-closed ticket has none.
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
	// PausedSince is set while the ticket is pending: the clocks stand.
	PausedSince *time.Time `json:"paused_since,omitempty"`
	// Paused is the business time the clocks stood in earlier pauses.
	Paused time.Duration `json:"-"`
	// Flags record which SLA warnings and breaches were handled, so that
	// each happens once.
	Flags       SLAFlags `json:"-"`
	Escalations int      `json:"escalations"`
	Reopens     int      `json:"reopens"`
	Reassigns   int      `json:"reassigns"`
}

// SLAFlags record the warnings and breaches a ticket had.
type SLAFlags int

const (
	ResponseWarned SLAFlags = 1 << iota
	ResponseBreached
	ResolveWarned
	ResolveBreached
)

func (f SLAFlags) Has(x SLAFlags) bool { return f&x == x }

// KBArticle is a knowledge-base entry (总结知识到知识库), made from a
// closed ticket and kept up by hand.
type KBArticle struct {
	ID             int64     `json:"id"`
	Title          string    `json:"title"`
	Problem        string    `json:"problem"`
	Cause          string    `json:"cause"`
	Resolution     string    `json:"resolution"`
	Category       string    `json:"category"`
	SourceTicketID int64     `json:"-"`
	SourceTicket   string    `json:"source_ticket,omitempty"` // number
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Version        int64     `json:"version"`
	// Score is the search relevance, set by searches only.
	Score float64 `json:"score,omitempty"`
}

type KBListParams struct {
	Limit int
	After int64 // cursor: articles with a smaller id
}

// KBSearchParams find articles holding any of Terms (lower case) in any
// field. Terms of three characters or more use the full-text index
// (trigrams); shorter ones are matched by scanning.
type KBSearchParams struct {
	Terms []string
	Limit int
}

// ReportRow is one ticket as the KPI report sees it.
type ReportRow struct {
	ID            int64
	Number        string
	Channel       Channel
	Kind          Kind
	Priority      Priority
	Status        Status
	Tier          int
	Subject       string
	HasDesc       bool
	CallerPhone   string
	CallerEmail   string
	Assignee      string
	HasResolution bool
	ReceivedAt    time.Time
	ResolvedAt    *time.Time
	ClosedAt      *time.Time
	ResponseDue   *time.Time
	ResolveDue    *time.Time
	SLAState
	// Calls: whether a call of the ticket was answered, after how long,
	// or abandoned (from the call_answered / call_abandoned events).
	CallAnswered  bool
	CallWait      time.Duration
	CallAbandoned bool
}

// ReportParams select tickets by received_at in [From, To). Rows come in
// no particular order.
type ReportParams struct {
	From, To time.Time
}

// Call event types the report reads. The phone channels write them:
// call_answered with data {"wait_seconds": N} (from the call's arrival to
// the answer), call_abandoned when the caller hung up unanswered.
const (
	EventCallAnswered  = "call_answered"
	EventCallAbandoned = "call_abandoned"
)

// processStore is the part of Store the process adds (see store.go).
type processStore interface {
	KBCreate(ctx context.Context, a *KBArticle) error
	KBUpdate(ctx context.Context, a *KBArticle, version int64) error
	KBGet(ctx context.Context, id int64) (*KBArticle, error)
	KBList(ctx context.Context, p KBListParams) ([]*KBArticle, error)
	KBSearch(ctx context.Context, p KBSearchParams) ([]*KBArticle, error)
	ReportTickets(ctx context.Context, p ReportParams) ([]*ReportRow, error)
	ReportContacts(ctx context.Context, p ReportParams) (map[Channel]int, error)
	SecretGet(ctx context.Context, name string, fresh []byte) ([]byte, error)
}

// NoteCall records a call event on the row: the first answer counts, and
// an abandon marks the row whatever else happened.
func (r *ReportRow) NoteCall(eventType string, waitSeconds float64) {
	switch eventType {
	case EventCallAnswered:
		if !r.CallAnswered {
			r.CallAnswered, r.CallWait = true, time.Duration(waitSeconds*float64(time.Second))
		}
	case EventCallAbandoned:
		r.CallAbandoned = true
	}
}
