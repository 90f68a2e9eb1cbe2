package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

func openStore(t *testing.T) ticketing.Store {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "jobs.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func start(t *testing.T, r *jobs.Runner) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two runners on one store: every job runs exactly once.
func TestRunnersShareJobs(t *testing.T) {
	s := openStore(t)
	const n = 300
	var mu sync.Mutex
	runs := map[string]int{}
	var total atomic.Int64
	h := jobs.HandlerFunc(func(ctx context.Context, j *ticketing.Job) error {
		mu.Lock()
		runs[string(j.Args)]++
		mu.Unlock()
		total.Add(1)
		return nil
	})
	base := runtime.NumGoroutine()
	var stops []func()
	for _, w := range []string{"a", "b"} {
		r := jobs.New(s, jobs.Config{Worker: w, Poll: 10 * time.Millisecond, Concurrency: 4})
		r.Handle("work", h)
		stops = append(stops, start(t, r))
	}
	specs := make([]ticketing.JobSpec, n)
	for i := range specs {
		specs[i] = ticketing.JobSpec{Kind: "work", Args: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
	}
	if err := s.JobInsert(context.Background(), specs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all jobs", func() bool { return total.Load() >= n })
	time.Sleep(50 * time.Millisecond)
	for _, stop := range stops {
		stop()
	}
	if len(runs) != n || total.Load() != n {
		t.Fatalf("%d distinct jobs ran %d times, want %d once each", len(runs), total.Load(), n)
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
}

func TestRetryAndPermanentFailure(t *testing.T) {
	s := openStore(t)
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	r := jobs.New(s, jobs.Config{Worker: "w", Poll: 5 * time.Millisecond, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	var flaky, bad atomic.Int32
	r.Handle("flaky", jobs.HandlerFunc(func(ctx context.Context, j *ticketing.Job) error {
		if flaky.Add(1) < 3 {
			return errors.New("relay refused")
		}
		return nil
	}))
	r.Handle("bad", jobs.HandlerFunc(func(ctx context.Context, j *ticketing.Job) error {
		bad.Add(1)
		return jobs.Permanent(errors.New("no such mailbox"))
	}))
	r.Handle("panics", jobs.HandlerFunc(func(ctx context.Context, j *ticketing.Job) error { panic("boom") }))
	stop := start(t, r)
	defer stop()
	if err := s.JobInsert(context.Background(), []ticketing.JobSpec{{Kind: "flaky"}, {Kind: "bad"}, {Kind: "panics", MaxAttempts: 1}}); err != nil {
		t.Fatal(err)
	}
	// Each retry waits its backoff; move the clock past it.
	for i := 0; i < 200 && flaky.Load() < 3; i++ {
		time.Sleep(10 * time.Millisecond)
		clock.Add(int64(10 * time.Second))
	}
	if flaky.Load() != 3 {
		t.Fatalf("flaky ran %d times, want 3 (2 failures, then success)", flaky.Load())
	}
	clock.Add(int64(24 * time.Hour))
	time.Sleep(100 * time.Millisecond)
	if bad.Load() != 1 {
		t.Fatalf("a permanent failure ran %d times, want 1", bad.Load())
	}
	left, err := s.JobClaim(context.Background(), ticketing.JobClaimParams{Worker: "x", Kinds: []string{"flaky", "bad", "panics"},
		Now: time.Unix(0, clock.Load()).Add(48 * time.Hour), Lease: time.Minute, Limit: 10})
	if err != nil || len(left) != 0 {
		t.Fatalf("jobs left after done and failed: %+v, %v", left, err)
	}
}

// A runner that dies holding a lease: another runner takes the job once the
// lease expires.
func TestLeaseExpiryHandsOver(t *testing.T) {
	s := openStore(t)
	if err := s.JobInsert(context.Background(), []ticketing.JobSpec{{Kind: "sla.breach"}}); err != nil {
		t.Fatal(err)
	}
	// The dead runner: it claimed and never finished.
	claimed, err := s.JobClaim(context.Background(), ticketing.JobClaimParams{Worker: "dead", Kinds: []string{"sla.breach"},
		Now: time.Now(), Lease: 300 * time.Millisecond, Limit: 1})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %v", claimed, err)
	}
	var fired atomic.Int32
	var firedAt atomic.Int64
	r := jobs.New(s, jobs.Config{Worker: "alive", Poll: 20 * time.Millisecond})
	r.Handle("sla.breach", jobs.HandlerFunc(func(ctx context.Context, j *ticketing.Job) error {
		fired.Add(1)
		firedAt.Store(time.Now().UnixNano())
		return nil
	}))
	begin := time.Now()
	stop := start(t, r)
	defer stop()
	waitFor(t, "the handover", func() bool { return fired.Load() == 1 })
	if d := time.Unix(0, firedAt.Load()).Sub(begin); d < 250*time.Millisecond {
		t.Fatalf("fired %v after start, inside the dead runner's lease", d)
	}
	time.Sleep(100 * time.Millisecond)
	if fired.Load() != 1 {
		t.Fatalf("fired %d times", fired.Load())
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	prev := time.Duration(0)
	for a := 1; a <= 20; a++ {
		d := jobs.Backoff(a)
		if d < time.Second || d > 72*time.Minute {
			t.Fatalf("attempt %d: backoff %v out of range", a, d)
		}
		if a <= 10 && d < prev*6/10 {
			t.Fatalf("attempt %d: backoff %v shrank from %v", a, d, prev)
		}
		prev = d
	}
}
