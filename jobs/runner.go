// Package jobs runs Hotline's durable jobs: outbound mail and webhooks,
// SLA timers, auto-close, scheduled reports. Jobs live in the store, so
// they survive restarts and are shared by every instance on one database.
//
// A runner leases due jobs, runs them, and records the outcome. A lease
// that expires (the instance died) makes the job due again for any
// instance, so a job fires once while its runner lives and still fires
// when it dies. A handler whose effect is a ticket change finishes its job
// in the same commit as the change (ticketing.TicketUpdateParams.FinishJob)
// and returns ErrFinished, so the effect happens exactly once.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hotline-desk/hotline/metrics"
	"github.com/hotline-desk/hotline/ticketing"
)

// Store is what the runner needs of the ticket store.
type Store interface {
	JobClaim(ctx context.Context, p ticketing.JobClaimParams) ([]*ticketing.Job, error)
	JobFinish(ctx context.Context, p ticketing.JobFinishParams) error
}

// Handler does one job. A nil error marks the job done; any other error
// retries it with backoff, unless wrapped by Permanent.
type Handler interface {
	Work(ctx context.Context, j *ticketing.Job) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, j *ticketing.Job) error

func (f HandlerFunc) Work(ctx context.Context, j *ticketing.Job) error { return f(ctx, j) }

// ErrFinished is returned by a handler that finished its job itself, in the
// commit of its effect.
var ErrFinished = errors.New("job finished by its handler")

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot cure (a bad address, a
// ticket that no longer exists): the job fails for good.
func Permanent(err error) error { return permanent{err} }

type Config struct {
	// Worker names this runner in leases; unique per process.
	Worker string
	// Poll is how often the store is asked for due jobs. It bounds the
	// timer lag.
	Poll time.Duration
	// Lease is how long a claimed job is this runner's. A job that runs
	// longer is cut at Lease minus a margin.
	Lease       time.Duration
	Concurrency int
	Now         func() time.Time
	Log         *slog.Logger
	Monitor     *metrics.Monitor
}

// Runner claims and runs jobs of the kinds it has handlers for.
type Runner struct {
	store    Store
	cfg      Config
	handlers map[string]Handler
	kinds    []string
	wake     chan struct{}
}

func New(store Store, cfg Config) *Runner {
	if cfg.Worker == "" {
		cfg.Worker = fmt.Sprintf("worker-%x", rand.Uint64())
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Runner{store: store, cfg: cfg, handlers: map[string]Handler{}, wake: make(chan struct{}, 1)}
}

// Handle registers h for jobs of kind. Call before Run.
func (r *Runner) Handle(kind string, h Handler) {
	if _, ok := r.handlers[kind]; !ok {
		r.kinds = append(r.kinds, kind)
	}
	r.handlers[kind] = h
}

// Wake asks the runner to look for due jobs now rather than at its next
// poll, after this process inserted one.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run claims and runs jobs until ctx is done, then waits for the jobs in
// flight. Jobs cut short by the shutdown are handed back for a retry.
func (r *Runner) Run(ctx context.Context) error {
	if len(r.kinds) == 0 {
		<-ctx.Done()
		return nil
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, r.cfg.Concurrency)
	ticker := time.NewTicker(r.cfg.Poll)
	defer ticker.Stop()
	for {
		free := cap(slots) - len(slots)
		claimed := 0
		if free > 0 {
			t0 := time.Now()
			jobs, err := r.store.JobClaim(ctx, ticketing.JobClaimParams{Worker: r.cfg.Worker, Kinds: r.kinds,
				Now: r.cfg.Now(), Lease: r.cfg.Lease, Limit: free})
			r.cfg.Monitor.StoreObserved("job_claim", time.Since(t0))
			if err != nil && ctx.Err() == nil {
				r.cfg.Log.Warn("claim jobs", "error", err)
			}
			claimed = len(jobs)
			for _, j := range jobs {
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-slots }()
					r.run(ctx, j)
				}()
			}
		}
		if claimed > 0 && claimed == free {
			// There may be more due: look again as soon as a slot frees.
			select {
			case slots <- struct{}{}:
				<-slots
			case <-ctx.Done():
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-r.wake:
		}
	}
}

func (r *Runner) run(ctx context.Context, j *ticketing.Job) {
	start := r.cfg.Now()
	lag := start.Sub(j.RunAt)
	// Stop the handler well before the lease runs out, so that no other
	// instance starts the job while this one still runs it.
	jctx, cancel := context.WithTimeout(ctx, r.cfg.Lease*3/4)
	err := r.safeWork(jctx, j)
	cancel()
	fin := ticketing.JobFinishParams{ID: j.ID, Worker: r.cfg.Worker, At: r.cfg.Now()}
	result := "done"
	switch {
	case errors.Is(err, ErrFinished):
		r.cfg.Monitor.JobRan(j.Kind, result, lag)
		return
	case err == nil:
	case ctx.Err() != nil:
		// Shutting down: hand the job back at once.
		result, fin.Error, fin.RetryAt = "retry", "interrupted by shutdown", r.cfg.Now()
	case errors.As(err, new(permanent)) || j.Attempt >= j.MaxAttempts:
		result, fin.Error = "failed", err.Error()
		r.cfg.Log.Error("job failed for good", "kind", j.Kind, "job", j.ID, "ticket", j.TicketID, "attempt", j.Attempt, "error", err)
	default:
		result, fin.Error, fin.RetryAt = "retry", err.Error(), r.cfg.Now().Add(Backoff(j.Attempt))
		r.cfg.Log.Warn("job will retry", "kind", j.Kind, "job", j.ID, "ticket", j.TicketID, "attempt", j.Attempt, "retry_at", fin.RetryAt, "error", err)
	}
	r.cfg.Monitor.JobRan(j.Kind, result, lag)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	t0 := time.Now()
	err = r.store.JobFinish(fctx, fin)
	r.cfg.Monitor.StoreObserved("job_finish", time.Since(t0))
	if err != nil {
		r.cfg.Log.Warn("finish job", "kind", j.Kind, "job", j.ID, "error", err)
	}
}

func (r *Runner) safeWork(ctx context.Context, j *ticketing.Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("job handler panicked: %v", p)
		}
	}()
	return r.handlers[j.Kind].Work(ctx, j)
}

// Backoff is the delay before retry number attempt: exponential from 2 s,
// capped at one hour, with ±20 % jitter so that retries of one outage
// spread out.
func Backoff(attempt int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
