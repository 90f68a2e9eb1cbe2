package ticketing

import (
	"fmt"
	"time"
)

// Status is where a ticket is in its lifecycle:
//
//	new → assigned → in_progress ⇄ pending → resolved → closed
//	resolved → in_progress   (the customer says it is not fixed)
//	closed   → in_progress   (reopened within the reopen window)
type Status string

const (
	StatusNew        Status = "new"
	StatusAssigned   Status = "assigned"
	StatusInProgress Status = "in_progress"
	StatusPending    Status = "pending"
	StatusResolved   Status = "resolved"
	StatusClosed     Status = "closed"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusNew, StatusAssigned, StatusInProgress, StatusPending, StatusResolved, StatusClosed}

func (s Status) Valid() bool {
	switch s {
	case StatusNew, StatusAssigned, StatusInProgress, StatusPending, StatusResolved, StatusClosed:
		return true
	}
	return false
}

// Open reports whether work on the ticket is still expected.
func (s Status) Open() bool { return s != StatusResolved && s != StatusClosed }

var transitions = map[Status][]Status{
	StatusNew:        {StatusAssigned},
	StatusAssigned:   {StatusInProgress},
	StatusInProgress: {StatusPending, StatusResolved},
	StatusPending:    {StatusInProgress},
	StatusResolved:   {StatusClosed, StatusInProgress},
	StatusClosed:     {StatusInProgress},
}

// TransitionError says why a status change is not allowed. The HTTP API
// answers it with 409 and its message.
type TransitionError struct {
	From, To Status
	Reason   string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot change status from %s to %s: %s", e.From, e.To, e.Reason)
}

// Lifecycle holds the rules that are configuration rather than law.
type Lifecycle struct {
	// ReopenWindow is how long after closing a ticket may be reopened.
	ReopenWindow time.Duration
}

// Check decides whether t may move to status to at time now.
func (l Lifecycle) Check(t *Ticket, to Status, now time.Time) error {
	from := t.Status
	if !to.Valid() {
		return &TransitionError{From: from, To: to, Reason: "unknown status"}
	}
	if from == to {
		return &TransitionError{From: from, To: to, Reason: "the ticket already has this status"}
	}
	allowed := false
	for _, s := range transitions[from] {
		if s == to {
			allowed = true
			break
		}
	}
	if !allowed {
		return &TransitionError{From: from, To: to, Reason: transitionHint(from, to)}
	}
	switch to {
	case StatusAssigned, StatusInProgress:
		if t.Assignee == "" {
			return &TransitionError{From: from, To: to, Reason: "the ticket has no assignee"}
		}
	}
	if from == StatusClosed {
		if t.ClosedAt == nil || now.Sub(*t.ClosedAt) > l.ReopenWindow {
			return &TransitionError{From: from, To: to, Reason: fmt.Sprintf("the reopen window of %s has passed", l.ReopenWindow)}
		}
	}
	return nil
}

func transitionHint(from, to Status) string {
	switch {
	case to == StatusClosed:
		return "a ticket is closed only after it was resolved"
	case to == StatusResolved:
		return "a ticket is resolved only while it is in progress"
	case to == StatusNew:
		return "a ticket never returns to new"
	case to == StatusPending:
		return "only a ticket in progress can wait for the customer"
	case to == StatusInProgress:
		return "assign the ticket first"
	}
	return fmt.Sprintf("%s may go only to %v", from, transitions[from])
}
