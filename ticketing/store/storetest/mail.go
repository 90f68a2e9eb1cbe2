package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

// testMailAckClaim: at most Limit grants per address in the window, each
// job granted once however often it asks, and room again once the window
// has passed.
func testMailAckClaim(t *testing.T, s ticketing.Store) {
	c := ctx(t)
	claim := func(addr string, job int64, at time.Time) bool {
		t.Helper()
		ok, err := s.MailAckClaim(c, ticketing.MailAckClaimParams{Address: addr, JobID: job, At: at, Window: time.Hour, Limit: 3})
		if err != nil {
			t.Fatalf("MailAckClaim(%s, %d): %v", addr, job, err)
		}
		return ok
	}
	for job := int64(1); job <= 3; job++ {
		if !claim("robot@example.net", job, t0.Add(time.Duration(job)*time.Minute)) {
			t.Fatalf("job %d refused within the limit", job)
		}
	}
	if claim("robot@example.net", 4, t0.Add(10*time.Minute)) {
		t.Fatal("a fourth acknowledgement within the hour was granted")
	}
	if !claim("robot@example.net", 2, t0.Add(11*time.Minute)) {
		t.Fatal("a job already granted was refused when it asked again (a retry after a crash)")
	}
	if !claim("other@example.net", 5, t0.Add(10*time.Minute)) {
		t.Fatal("another address was refused: the limit must be per address")
	}
	// An hour after the first grant, there is room for one more.
	if !claim("robot@example.net", 6, t0.Add(61*time.Minute+time.Second)) {
		t.Fatal("refused after the first grant left the window")
	}
	if claim("robot@example.net", 7, t0.Add(61*time.Minute+30*time.Second)) {
		t.Fatal("granted with three grants still in the window")
	}
}

// testMailAckClaimConcurrent: many claims for one address at once (as from
// several instances) grant exactly Limit.
func testMailAckClaimConcurrent(t *testing.T, s ticketing.Store) {
	c := ctx(t)
	var granted atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(job int64) {
			defer wg.Done()
			ok, err := s.MailAckClaim(c, ticketing.MailAckClaimParams{Address: "loop@example.net", JobID: job, At: t0, Window: time.Hour, Limit: 5})
			if err != nil {
				t.Errorf("MailAckClaim: %v", err)
			}
			if ok {
				granted.Add(1)
			}
		}(int64(100 + i))
	}
	wg.Wait()
	if n := granted.Load(); n != 5 {
		t.Fatalf("granted %d of 20 concurrent claims, want exactly 5", n)
	}
}
