package sla

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/ticketing"
)

// JobAutoClose is the kind of the job that closes a resolved ticket the
// customer never answered.
const JobAutoClose = "ticket.autoclose"

// AutoCloser waits for the customer's confirmation of a resolution: After
// (calendar time) without an answer, the ticket closes with a note.
type AutoCloser struct {
	After  time.Duration
	desk   *ticketing.Desk
	worker string
}

// Attach gives the auto-closer its desk and the worker name of the runner
// that runs its jobs.
func (a *AutoCloser) Attach(desk *ticketing.Desk, worker string) { a.desk, a.worker = desk, worker }

type autoCloseArgs struct {
	ResolvedAt time.Time `json:"resolved_at"`
}

// Change schedules the auto-close when a ticket is resolved.
func (a *AutoCloser) Change(ctx context.Context, c *ticketing.Change) error {
	t := c.After
	if t.Status != ticketing.StatusResolved || t.ResolvedAt == nil || (c.Before != nil && c.Before.Status == ticketing.StatusResolved) {
		return nil
	}
	b, err := json.Marshal(autoCloseArgs{ResolvedAt: *t.ResolvedAt})
	if err != nil {
		return fmt.Errorf("auto-close job: %w", err)
	}
	j := ticketing.JobSpec{Kind: JobAutoClose, TicketID: t.ID, Args: b, RunAt: t.ResolvedAt.Add(a.After), MaxAttempts: 50}
	if t.ID != 0 {
		j.UniqueKey, j.Reschedule = "autoclose:"+strconv.FormatInt(t.ID, 10), true
	}
	c.Jobs = append(c.Jobs, j)
	return nil
}

// Work closes the ticket if it still waits on that resolution.
func (a *AutoCloser) Work(ctx context.Context, j *ticketing.Job) error {
	var args autoCloseArgs
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return jobs.Permanent(fmt.Errorf("auto-close job %d: %w", j.ID, err))
	}
	fired, err := a.desk.Fire(ctx, ticketing.FireParams{TicketID: j.TicketID, Actor: "system",
		Finish: ticketing.JobFinishParams{ID: j.ID, Worker: a.worker},
		Apply: func(t *ticketing.Ticket, now time.Time) ([]ticketing.Event, error) {
			return a.desk.AutoClose(t, now, args.ResolvedAt, a.After)
		}})
	switch {
	case errors.Is(err, ticketing.ErrNotFound):
		return jobs.Permanent(err)
	case err != nil:
		return err
	case fired:
		return jobs.ErrFinished
	}
	// Confirmed, reopened or resolved again meanwhile: nothing to do.
	return nil
}
