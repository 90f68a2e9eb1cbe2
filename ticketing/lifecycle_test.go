package ticketing

import (
	"errors"
	"testing"
	"time"
)

func TestLifecycleTransitions(t *testing.T) {
	allowed := map[[2]Status]bool{
		{StatusNew, StatusAssigned}:        true,
		{StatusAssigned, StatusInProgress}: true,
		{StatusInProgress, StatusPending}:  true,
		{StatusPending, StatusInProgress}:  true,
		{StatusInProgress, StatusResolved}: true,
		{StatusResolved, StatusClosed}:     true,
		{StatusResolved, StatusInProgress}: true,
		{StatusClosed, StatusInProgress}:   true,
	}
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	closed := now.Add(-time.Hour)
	life := Lifecycle{ReopenWindow: 24 * time.Hour}
	for _, from := range Statuses {
		for _, to := range Statuses {
			tk := &Ticket{Status: from, Assignee: "zhang", ClosedAt: &closed}
			err := life.Check(tk, to, now)
			if want := allowed[[2]Status{from, to}]; (err == nil) != want {
				t.Errorf("%s → %s: err %v, want allowed=%v", from, to, err, want)
			}
			var te *TransitionError
			if err != nil && !errors.As(err, &te) {
				t.Errorf("%s → %s: %T is not a *TransitionError", from, to, err)
			}
		}
	}
}

func TestLifecycleRules(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	long := now.Add(-48 * time.Hour)
	recent := now.Add(-time.Hour)
	life := Lifecycle{ReopenWindow: 24 * time.Hour}
	cases := []struct {
		name   string
		t      Ticket
		to     Status
		reason string // empty: allowed
	}{
		{"assign without assignee", Ticket{Status: StatusNew}, StatusAssigned, "the ticket has no assignee"},
		{"work without assignee", Ticket{Status: StatusAssigned}, StatusInProgress, "the ticket has no assignee"},
		{"close a new ticket", Ticket{Status: StatusNew, Assignee: "z"}, StatusClosed, "a ticket is closed only after it was resolved"},
		{"resolve a new ticket", Ticket{Status: StatusNew, Assignee: "z"}, StatusResolved, "a ticket is resolved only while it is in progress"},
		{"back to new", Ticket{Status: StatusAssigned, Assignee: "z"}, StatusNew, "a ticket never returns to new"},
		{"same status", Ticket{Status: StatusPending, Assignee: "z"}, StatusPending, "the ticket already has this status"},
		{"unknown status", Ticket{Status: StatusNew}, Status("done"), "unknown status"},
		{"reopen within the window", Ticket{Status: StatusClosed, Assignee: "z", ClosedAt: &recent}, StatusInProgress, ""},
		{"reopen after the window", Ticket{Status: StatusClosed, Assignee: "z", ClosedAt: &long}, StatusInProgress, "the reopen window of 24h0m0s has passed"},
	}
	for _, c := range cases {
		err := life.Check(&c.t, c.to, now)
		switch {
		case c.reason == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.reason != "":
			var te *TransitionError
			if !errors.As(err, &te) || te.Reason != c.reason {
				t.Errorf("%s: %v, want reason %q", c.name, err, c.reason)
			}
		}
	}
}

func TestFormatNumber(t *testing.T) {
	day := time.Date(2026, 11, 27, 23, 59, 0, 0, time.UTC)
	for _, c := range []struct {
		seq  int64
		want string
	}{{1, "HL-20261127-0001"}, {42, "HL-20261127-0042"}, {9999, "HL-20261127-9999"}, {12345, "HL-20261127-12345"}} {
		if got := FormatNumber("HL", day, c.seq); got != c.want {
			t.Errorf("FormatNumber(%d) = %s, want %s", c.seq, got, c.want)
		}
	}
}
