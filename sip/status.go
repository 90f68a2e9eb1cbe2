package sip

import (
	"fmt"
	"time"
)

// StatusError is a SIP final response the gateway gives for a reason of its
// own: the code and reason phrase that go on the wire, and, for a
// temporary refusal, when to try again.
type StatusError struct {
	Code   int
	Reason string
	// RetryAfter, when set, goes into a Retry-After header (503, 480).
	RetryAfter time.Duration
	// Cause is logged, never sent.
	Cause error
}

func (e *StatusError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("sip %d %s: %v", e.Code, e.Reason, e.Cause)
	}
	return fmt.Sprintf("sip %d %s", e.Code, e.Reason)
}

func (e *StatusError) Unwrap() error { return e.Cause }

// Temporary reports whether the peer may try again later.
func (e *StatusError) Temporary() bool {
	return e.Code == 480 || e.Code == 486 || e.Code == 503 || e.Code == 408 || e.RetryAfter > 0
}

// The refusals the gateway gives.
var (
	errNotTrunk     = &StatusError{Code: 403, Reason: "Forbidden"}
	errLockedOut    = &StatusError{Code: 403, Reason: "Forbidden"}
	errOverloaded   = &StatusError{Code: 503, Reason: "Service Unavailable", RetryAfter: 5 * time.Second}
	errShuttingDown = &StatusError{Code: 503, Reason: "Service Unavailable", RetryAfter: 10 * time.Second}
	errNoAnswer     = &StatusError{Code: 480, Reason: "Temporarily Unavailable"}
)
