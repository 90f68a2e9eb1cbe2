// Package sqlite is the embedded store driver: one SQLite file (pure Go,
// modernc.org/sqlite) in WAL mode with synchronous=FULL, so a commit is on
// disk before it is reported.
//
// SQLite has one writer at a time. All writes go through one goroutine that
// takes every pending write, runs each in its own savepoint of one
// transaction, and commits them together: concurrent submissions share one
// fsync (group commit) and each still learns its own outcome.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/migration"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch bounds how many writes share one commit, so that one commit's
// latency stays small under any load.
const maxBatch = 256

// Pragmas are set on every connection. busy_timeout covers another process
// (a `hotline fax ingest --data` beside `serve`) holding the write lock.
// temp_store keeps the savepoint journals of the group commit in memory:
// in a file, they were half of all the writes the store made.
var Pragmas = []string{
	"busy_timeout(10000)",
	"journal_mode(WAL)",
	"synchronous(FULL)",
	"foreign_keys(ON)",
	"temp_store(MEMORY)",
}

// DSN is the database/sql data source for a file with Pragmas.
func DSN(path string) string {
	q := url.Values{}
	for _, p := range Pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Store is the SQLite driver.
type Store struct {
	w, r *sql.DB
	log  *slog.Logger

	writes    chan *write
	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
}

var _ ticketing.Store = (*Store)(nil)

type write struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	done chan error
}

// Open opens (creating it if needed) the database file at path. Call Migrate
// before use.
func Open(path string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Connections keep their prepared statements (stmtcache.go).
	w := sql.OpenDB(newCachingConnector(DSN(path), true))
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r := sql.OpenDB(newCachingConnector(DSN(path), false))
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	r.SetConnMaxIdleTime(0)
	if err := w.Ping(); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s := &Store{
		w: w, r: r, log: log,
		writes:  make(chan *write, maxBatch),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go s.writer()
	return s, nil
}

// Close stops the writer after the writes already queued, then closes the
// database.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.stopped
		err = errors.Join(s.w.Close(), s.r.Close())
	})
	return err
}

func (s *Store) Ping(ctx context.Context) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "SELECT 1")
		return err
	})
}

// Migrate applies the embedded migrations not yet applied, each in its own
// transaction.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migration.List(migrations, "migrations")
	if err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range ms {
		err := s.write(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, micros(time.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %03d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// write runs fn in the shared write transaction and returns once that
// transaction is committed (or fn failed and was rolled back to its
// savepoint).
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	w := &write{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return errors.New("sqlite store is closed")
	}
	// Once queued, the write is answered after its commit whatever ctx
	// does, so a caller never mistakes a committed write for a lost one.
	select {
	case err := <-w.done:
		return err
	case <-s.stopped:
		// The writer stopped after answering what it had taken; a write
		// queued after that was never run.
		select {
		case err := <-w.done:
			return err
		default:
			return errors.New("sqlite store is closed")
		}
	}
}

func (s *Store) writer() {
	defer close(s.stopped)
	batch := make([]*write, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case w := <-s.writes:
			batch = append(batch, w)
		case <-s.stop:
			// Answer whatever is still queued, then stop.
			for {
				select {
				case w := <-s.writes:
					s.commit([]*write{w})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case w := <-s.writes:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		s.commit(batch)
	}
}

func (s *Store) commit(batch []*write) {
	errs := make([]error, len(batch))
	err := func() error {
		tx, err := s.w.BeginTx(context.Background(), nil)
		if err != nil {
			return err
		}
		for i, w := range batch {
			if err := w.ctx.Err(); err != nil {
				errs[i] = err
				continue
			}
			if _, err := tx.Exec("SAVEPOINT w"); err != nil {
				tx.Rollback()
				return err
			}
			if err := w.fn(tx); err != nil {
				errs[i] = err
				if _, err := tx.Exec("ROLLBACK TO w"); err != nil {
					tx.Rollback()
					return err
				}
			}
			if _, err := tx.Exec("RELEASE w"); err != nil {
				tx.Rollback()
				return err
			}
		}
		return tx.Commit()
	}()
	for i, w := range batch {
		if err != nil && errs[i] == nil {
			errs[i] = fmt.Errorf("sqlite commit: %w", err)
		}
		w.done <- errs[i]
	}
}

// micros is the stored form of a time: microseconds since the epoch, UTC.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ticketing.ErrNotFound
	}
	return err
}
