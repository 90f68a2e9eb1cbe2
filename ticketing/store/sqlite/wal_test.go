package sqlite

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "hotline.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func (w *walFile) setFlush(f func(*os.File) error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flush = f
}

// The writer commits without an fsync; a write must not be answered until
// the WAL holding its commit is flushed.
func TestWriteIsAnsweredAfterTheWALIsFlushed(t *testing.T) {
	s := openTestStore(t)
	entered := make(chan struct{}, 16)
	release := make(chan struct{})
	s.wal.setFlush(func(f *os.File) error {
		entered <- struct{}{}
		<-release
		return fdatasync(f)
	})
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- s.TokenAdd(ctx, "agent", "hash-1") }()
	select {
	case <-entered:
	case err := <-done:
		t.Fatalf("write answered (%v) before any flush", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no flush after a write")
	}
	// The commit is visible to readers, but its writer waits for the flush.
	select {
	case err := <-done:
		t.Fatalf("write answered (%v) while its flush was still running", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if name, err := s.TokenFind(ctx, "hash-1"); err != nil || name != "agent" {
		t.Fatalf("read back %q, %v", name, err)
	}
}

// A failed flush fails the writes it would have made durable, and the
// store runs no write after it: the WAL may have lost frames that later
// commits would chain on.
func TestFailedWALFlushRefusesWrites(t *testing.T) {
	s := openTestStore(t)
	ioErr := errors.New("input/output error")
	calls := 0
	s.wal.setFlush(func(*os.File) error {
		calls++
		return ioErr
	})
	ctx := context.Background()
	err := s.TokenAdd(ctx, "agent-1", "hash-1")
	if !errors.Is(err, ioErr) || !strings.Contains(err.Error(), "sqlite sync") {
		t.Fatalf("write whose flush failed: got %v, want the flush's error", err)
	}
	if err := s.TokenAdd(ctx, "agent-2", "hash-2"); !errors.Is(err, ioErr) {
		t.Fatalf("write after a failed flush: got %v, want the flush's error", err)
	}
	if _, err := s.TokenFind(ctx, "hash-2"); !errors.Is(err, ticketing.ErrNotFound) {
		t.Errorf("a write after the failed flush was run (lookup: %v)", err)
	}
	if calls != 1 {
		t.Errorf("flush tried %d times; after the first failure it must not be trusted again", calls)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping succeeds on a store whose WAL could not be flushed")
	}
}

// A WAL flush slower than slowCommit is logged: it is what an operator
// sees when calls wait on a stalled disk.
func TestSlowFlushIsLogged(t *testing.T) {
	var log strings.Builder
	var mu sync.Mutex
	s, err := Open(filepath.Join(t.TempDir(), "hotline.db"), slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s.wal.setFlush(func(f *os.File) error {
		time.Sleep(slowCommit + 20*time.Millisecond)
		return fdatasync(f)
	})
	if err := s.TokenAdd(ctx, "agent", "hash-1"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(log.String(), "slow WAL fsync") {
		t.Errorf("no warning for a %v flush; log:\n%s", slowCommit+20*time.Millisecond, log.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
