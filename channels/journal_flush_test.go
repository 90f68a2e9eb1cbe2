package channels

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Appends that arrive together share one flush, and each returns only
// once its record is flushed (on a disk that flushes in time).
func TestJournalAppendsShareAFlush(t *testing.T) {
	j, _ := openTestJournal(t, t.TempDir())
	// "In time" must hold under the race detector on a loaded CI disk,
	// where one fsync has taken over the default 20 ms.
	j.flushWait = 10 * time.Second
	var syncs, inFlight atomic.Int64
	j.syncFile = func(f *os.File) error {
		if inFlight.Add(1) > 1 {
			t.Error("two flushes at once")
		}
		defer inFlight.Add(-1)
		syncs.Add(1)
		time.Sleep(2 * time.Millisecond)
		return f.Sync()
	}
	const appenders = 64
	var wg sync.WaitGroup
	for i := range appenders {
		wg.Go(func() {
			c := testContact(fmt.Sprintf("call-%02d", i))
			if err := j.Append(Entry{Contact: &c}); err != nil {
				t.Error(err)
				return
			}
			j.mu.Lock()
			defer j.mu.Unlock()
			for _, pr := range j.pending {
				if pr.key == c.Key() && j.flushed < pr.seq {
					t.Errorf("Append of record %d returned before its flush (flushed up to %d)", pr.seq, j.flushed)
				}
			}
		})
	}
	wg.Wait()
	if n := syncs.Load(); n >= appenders/2 {
		t.Errorf("%d flushes for %d concurrent appends: they do not share them", n, appenders)
	}
	t.Logf("%d appends, %d flushes", appenders, syncs.Load())
}

// A disk that stalls does not hold Append past flushWait; the record is
// written and its flush completes when the disk returns.
func TestJournalAppendDoesNotWaitOnAStalledDisk(t *testing.T) {
	dir := t.TempDir()
	j, _ := openTestJournal(t, dir)
	j.flushWait = 20 * time.Millisecond
	release := make(chan struct{})
	j.syncFile = func(f *os.File) error {
		<-release
		return f.Sync()
	}
	for i := range 3 {
		c := testContact(fmt.Sprintf("call-%d", i))
		start := time.Now()
		if err := j.Append(Entry{Contact: &c}); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > j.flushWait+100*time.Millisecond {
			t.Errorf("Append took %v on a stalled disk (flushWait %v)", el, j.flushWait)
		}
	}
	j.mu.Lock()
	flushed := j.flushed
	j.mu.Unlock()
	if flushed != 0 {
		t.Errorf("flushed = %d while the disk is stalled", flushed)
	}
	close(release)
	// The flush under way ends; the next Append covers what was left.
	c := testContact("call-3")
	if err := j.Append(Entry{Contact: &c}); err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	flushed, next := j.flushed, j.next
	j.mu.Unlock()
	if flushed != next-1 {
		t.Errorf("flushed = %d after the disk returned, want %d", flushed, next-1)
	}
	// Every record is in the file for the next process.
	j.Close()
	j2, _ := openTestJournal(t, dir)
	if j2.Pending() != 4 {
		t.Errorf("reopened journal holds %d records, want 4", j2.Pending())
	}
}

// A failed flush is the error of the appends it covered, and the journal
// goes on in a new segment.
func TestJournalFailedFlush(t *testing.T) {
	dir := t.TempDir()
	log, logs := testLogger(t)
	j, err := OpenJournal(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	failing := true
	j.syncFile = func(f *os.File) error {
		if failing {
			return errors.New("EIO")
		}
		return f.Sync()
	}
	c := testContact("call-1")
	if err := j.Append(Entry{Contact: &c}); err == nil {
		t.Fatal("Append succeeded with a failed flush")
	}
	failing = false
	c = testContact("call-2")
	if err := j.Append(Entry{Contact: &c}); err != nil {
		t.Fatalf("Append after a failed flush: %v", err)
	}
	if n := len(segments(t, dir)); n != 2 {
		t.Errorf("%d segments, want 2: the journal goes on in a new one", n)
	}
	if !strings.Contains(logs.String(), "flush failed") {
		t.Errorf("the failed flush was not logged:\n%s", logs.String())
	}
}
