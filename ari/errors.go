package ari

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error is a REST call that Asterisk answered with an error status. Message
// is Asterisk's own text, from either body shape it uses: {"message": …}
// (most errors) or {"error": …} (POST /channels to an endpoint that cannot
// be reached: 500 "Allocation failed").
type Error struct {
	Op      string // "POST /channels/{channelId}/answer"
	Status  int
	Message string
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("ari: %s: %d %s", e.Op, e.Status, msg)
}

// Temporary reports whether the same call may succeed later: Asterisk (or
// what stands in front of it) was overloaded or unreachable.
func (e *Error) Temporary() bool {
	switch e.Status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return true
	}
	return false
}

// StatusOf returns the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// IsNotFound reports whether err is Asterisk's 404: the channel, bridge,
// playback or recording is gone (or never was).
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// parseError builds the *Error of a failed call from its body.
func parseError(op string, status int, body []byte) *Error {
	e := &Error{Op: op, Status: status}
	var shape struct {
		Message *string `json:"message"`
		Error   *string `json:"error"`
	}
	if json.Unmarshal(body, &shape) == nil {
		switch {
		case shape.Message != nil:
			e.Message = *shape.Message
		case shape.Error != nil:
			e.Message = *shape.Error
		}
		if e.Message != "" {
			return e
		}
	}
	e.Message = strings.TrimSpace(string(body))
	if len(e.Message) > 200 {
		e.Message = e.Message[:200]
	}
	return e
}
