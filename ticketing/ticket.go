// Package ticketing is Hotline's core: the ticket model and its lifecycle,
// numbering, the append-only timeline, attachments and customers. It knows
// no SQL: persistence goes through the Store interface, implemented by the
// drivers under ticketing/store.
package ticketing

import (
	"encoding/json"
	"fmt"
	"time"
)

// Channel is where a contact came from.
type Channel string

const (
	ChannelPhone Channel = "phone"
	ChannelEmail Channel = "email"
	ChannelFax   Channel = "fax"
	ChannelWeb   Channel = "web"
)

// Channels lists every channel, in report order.
var Channels = []Channel{ChannelPhone, ChannelEmail, ChannelFax, ChannelWeb}

func (c Channel) Valid() bool {
	switch c {
	case ChannelPhone, ChannelEmail, ChannelFax, ChannelWeb:
		return true
	}
	return false
}

// Kind is the policy's classification of a contact (判断并分派).
type Kind string

const (
	KindIncident       Kind = "incident"
	KindServiceRequest Kind = "service_request"
	KindComplaint      Kind = "complaint"
	KindInquiry        Kind = "inquiry"
)

// Kinds lists every kind, in report order.
var Kinds = []Kind{KindIncident, KindServiceRequest, KindComplaint, KindInquiry}

func (k Kind) Valid() bool {
	switch k {
	case KindIncident, KindServiceRequest, KindComplaint, KindInquiry:
		return true
	}
	return false
}

// Priority is P1 (most urgent) to P4.
type Priority string

const (
	P1 Priority = "P1"
	P2 Priority = "P2"
	P3 Priority = "P3"
	P4 Priority = "P4"
)

// DefaultPriority is what a contact gets before anyone or any rule says more.
const DefaultPriority = P3

func (p Priority) Valid() bool {
	switch p {
	case P1, P2, P3, P4:
		return true
	}
	return false
}

// Party is the person behind a contact, as the ticket records them.
type Party struct {
	Name         string `json:"name"`
	Phone        string `json:"phone"` // E.164, e.g. +8613800138000
	Email        string `json:"email"`
	Organization string `json:"organization"`
	// Withheld is set when the caller asked for privacy (SIP Privacy: id):
	// the number is kept for the desk but not shown to the agents' phones.
	Withheld bool `json:"withheld,omitempty"`
}

// Ticket is the normalized record of one customer matter, whatever the
// channels its contacts came through.
type Ticket struct {
	ID          int64      `json:"-"`
	Number      string     `json:"number"`
	Channel     Channel    `json:"channel"`
	Kind        Kind       `json:"kind"`
	Priority    Priority   `json:"priority"`
	Status      Status     `json:"status"`
	Tier        int        `json:"tier"`
	Subject     string     `json:"subject"`
	Description string     `json:"description"`
	Caller      Party      `json:"caller"`
	CustomerID  int64      `json:"customer_id,omitempty"`
	Assignee    string     `json:"assignee"`
	Group       string     `json:"group"`
	Resolution  string     `json:"resolution"`
	ReceivedAt  time.Time  `json:"received_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	ResolvedAt  *time.Time `json:"resolved_at,omitempty"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
	ResponseDue *time.Time `json:"response_due"`
	ResolveDue  *time.Time `json:"resolve_due"`
	SLAState
	// Version increases with every change; updates are conditional on it so
	// that two agents editing at once cannot overwrite each other.
	Version     int64        `json:"version"`
	Events      []Event      `json:"events,omitzero"`
	Attachments []Attachment `json:"attachments,omitzero"`
}

// Event is one entry of a ticket's timeline. Events are never updated or
// deleted.
type Event struct {
	At    time.Time       `json:"at"`
	Type  string          `json:"type"`
	Actor string          `json:"actor"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// Event types written by the core. Channels add their own (call_ringing,
// call_answered, mail_bounced, …); the timeline is open-ended.
const (
	EventCreated       = "created"
	EventStatusChanged = "status_changed"
	EventAssigned      = "assigned"
	EventUpdated       = "updated"
	EventComment       = "comment"
	EventContact       = "contact_appended"
	EventLinked        = "linked"
	EventAttachment    = "attachment_added"
)

// NewEvent builds an event whose data is v marshalled to JSON.
func NewEvent(at time.Time, typ, actor string, v any) Event {
	e := Event{At: at, Type: typ, Actor: actor}
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			// Only programming errors (unmarshalable types) end here.
			b, _ = json.Marshal(map[string]string{"marshal_error": err.Error()})
		}
		e.Data = b
	}
	return e
}

// Attachment is a file on a ticket. Its bytes are stored once per sha256.
type Attachment struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// Customer is a known person, found by any of their phones or e-mails.
type Customer struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Organization string    `json:"organization"`
	Phones       []string  `json:"phones"`
	Emails       []string  `json:"emails"`
	CreatedAt    time.Time `json:"created_at"`
}

// FormatNumber renders a ticket number: PREFIX-YYYYMMDD-NNNN, the date being
// the local day in the desk's timezone. Past 9999 a day the sequence simply
// grows a digit.
func FormatNumber(prefix string, day time.Time, seq int64) string {
	return fmt.Sprintf("%s-%s-%04d", prefix, day.Format("20060102"), seq)
}
