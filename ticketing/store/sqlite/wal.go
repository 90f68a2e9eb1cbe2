package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// walFile is the database's write-ahead log, opened by the store only to
// fsync it. An fsync flushes the file, not the descriptor, so it covers
// what SQLite's own descriptor wrote.
type walFile struct {
	path string
	mu   sync.Mutex
	f    *os.File // nil until the first sync
	// flush is fdatasync; tests put a slow or failing one in its place.
	flush func(*os.File) error
	// failed is the first failed flush. It sticks: after a failed fsync
	// the kernel may have dropped the dirty pages it could not write, and
	// a later fsync that succeeds proves nothing about them. Since a WAL
	// is read back only up to its first missing frame, no later commit is
	// durable either; the store runs no write until it is reopened.
	failed error
}

// sync flushes the WAL. The file is opened on first use, since SQLite makes
// it with the first write; and opened anew if SQLite has made it again (it
// deletes the WAL when its last connection closes), so that the flush
// reaches the file SQLite writes.
func (w *walFile) sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return w.failed
	}
	cur, err := os.Stat(w.path)
	if errors.Is(err, fs.ErrNotExist) && w.f == nil {
		// Nothing was ever written: SQLite makes the WAL with the first
		// transaction that writes a page.
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat WAL: %w", err)
	}
	if w.f != nil {
		fi, err := w.f.Stat()
		if err != nil {
			return fmt.Errorf("stat WAL: %w", err)
		}
		if !os.SameFile(fi, cur) {
			w.f.Close()
			w.f = nil
		}
	}
	if w.f == nil {
		f, err := os.OpenFile(w.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open WAL: %w", err)
		}
		w.f = f
	}
	flush := w.flush
	if flush == nil {
		flush = fdatasync
	}
	if err := flush(w.f); err != nil {
		w.failed = fmt.Errorf("fsync WAL (no write is accepted until the store is reopened): %w", err)
		return w.failed
	}
	return nil
}

// broken is the failed flush that stopped the store, if any.
func (w *walFile) broken() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

func (w *walFile) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
