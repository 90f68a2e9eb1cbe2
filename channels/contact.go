// Package channels sits between the channel adapters (sip, ari, mail, fax)
// and the ticket core. It owns the normalized Contact, the intake that turns
// contacts into tickets, the on-duty roster and routing plans, the local
// journal used while the store is down, and the worker lifecycle.
package channels

import (
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

// Contact is one customer contact, normalized from whatever protocol it came
// over. Adapters fill it in and hand it to the intake.
type Contact struct {
	Channel ticketing.Channel
	// ExternalID is the idempotency key within the channel: the Message-ID,
	// the SIP Call-ID or ARI channel id, the fax file's digest. Submitting
	// the same key twice yields the first receipt again.
	ExternalID string
	// ThreadKeys identify the conversation: a contact whose key is already
	// owned by a ticket is appended to it, and its keys are recorded for
	// later contacts (Message-IDs sent and received, say).
	ThreadKeys []string
	// Reference names a ticket the contact claims to belong to (the [HL-…]
	// subject tag). It is honoured only when the caller takes part in that
	// ticket; otherwise a new ticket is opened and linked to it.
	Reference string
	// Participants are further addresses that belong on the ticket (CCs).
	Participants []string
	// Caller is who made the contact. The intake normalizes the phone
	// number to E.164 and matches a known customer.
	Caller  ticketing.Party
	Callee  string
	Subject string
	Body    string
	// Kind and Priority are optional: the IVR choice, a rule's verdict.
	Kind        ticketing.Kind
	Priority    ticketing.Priority
	Attachments []Attachment
	ReceivedAt  time.Time
	// Metadata is channel detail worth keeping on the timeline (SIP
	// headers, mail headers, fax station id). It goes into the event data.
	Metadata map[string]string
	// Events are recorded with the contact, after the created or appended
	// event (an IVR choice, a note that the charset was guessed).
	Events []ticketing.Event
	// Actor is who recorded the contact on the timeline: the channel by
	// default, the API token or agent for tickets made by hand.
	Actor string
	// Jobs are follow-up work committed with the ticket, so they cannot be
	// lost if the process dies after the commit (an acknowledgement mail,
	// the fax-to-mail message).
	Jobs []ticketing.JobSpec
	// OpenJobs are committed only when the contact opens a new ticket, not
	// when it is appended to one (the acknowledgement of a new mail).
	OpenJobs []ticketing.JobSpec
}

// Key is the contact's idempotency key.
func (c *Contact) Key() ticketing.ContactKey {
	return ticketing.ContactKey{Channel: c.Channel, ExternalID: c.ExternalID}
}

// Attachment is a file that came with a contact.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Receipt tells the adapter where its contact landed.
type Receipt struct {
	Ticket   string // the ticket number, e.g. HL-20261127-0001
	TicketID int64
	// Created is set when the contact opened a new ticket, and cleared when
	// it was appended to an existing one.
	Created bool
	// Duplicate is set when the contact had been submitted before; the
	// receipt is the first one's.
	Duplicate bool
	// Journaled is set when the store could not take the contact in time:
	// it was written to the local journal and will be ticketed when the
	// store returns. Ticket is empty then.
	Journaled bool
}

// Note adds events (and files, such as a call recording) to the ticket of
// an earlier contact. ID is unique among the notes of that contact, which
// makes recording a note idempotent: a journal replay cannot add it twice.
type Note struct {
	Ref         EventRef
	ID          string
	Events      []ticketing.Event
	Attachments []Attachment
	// Jobs are follow-up work committed with the note (the callback task
	// of a missed call).
	Jobs []ticketing.JobSpec
}

// EventRef names the ticket of an earlier contact by the contact's key, so
// that an adapter can add events (call answered, hung up) without holding
// the receipt, and while the store is down.
type EventRef = ticketing.ContactKey
