// Package sqlite is the embedded store driver: one SQLite file (pure Go,
// modernc.org/sqlite) in WAL mode, where a write is reported only once its
// commit is on disk.
//
// SQLite has one writer at a time. All writes go through one goroutine that
// runs each pending write in its own savepoint of one transaction and
// commits them together (group commit), so that each still learns its own
// outcome. The commit itself writes the WAL without an fsync
// (synchronous=NORMAL); a second goroutine fsyncs the WAL and only then
// answers the writes, while the first already gathers the next
// transaction. The disk flush of one group overlaps the work of the next.
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

// Pragmas are set on every connection; the store's own writing connection
// has synchronous(NORMAL) instead (writerDSN). busy_timeout covers another process
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
func DSN(path string) string { return dsn(path, Pragmas) }

// writerDSN is the store's own writing connection: it commits without an
// fsync, and the syncer makes each commit durable before it is reported.
func writerDSN(path string) string {
	ps := append([]string(nil), Pragmas...)
	for i, p := range ps {
		if p == "synchronous(FULL)" {
			ps[i] = "synchronous(NORMAL)"
		}
	}
	return dsn(path, ps)
}

func dsn(path string, pragmas []string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Store is the SQLite driver.
type Store struct {
	w, r  *sql.DB
	log   *slog.Logger
	wal   *walFile
	blobs *blobCodec
	// synced carries each committed transaction's writes from the writer
	// to the syncer, which answers them once they are on disk and then
	// tells the writer on syncFree.
	synced     chan []*write
	syncFree   chan struct{}
	syncerDone chan struct{}

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
	err  error
}

// Open opens (creating it if needed) the database file at path. Call Migrate
// before use.
func Open(path string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Connections keep their prepared statements (stmtcache.go).
	w := sql.OpenDB(newCachingConnector(writerDSN(path), true))
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r := sql.OpenDB(newCachingConnector(DSN(path), false))
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	r.SetConnMaxIdleTime(0)
	// The writer commits without an fsync and relies on the WAL: a file
	// system without WAL support would leave SQLite in another journal
	// mode, where that commit is not made durable by syncing the WAL.
	var mode string
	if err := w.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		w.Close()
		r.Close()
		if err == nil {
			err = fmt.Errorf("journal mode is %q, not wal", mode)
		}
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	blobs, err := newBlobCodec()
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s := &Store{
		w: w, r: r, log: log, wal: &walFile{path: path + "-wal"}, blobs: blobs,
		writes:     make(chan *write, maxBatch),
		synced:     make(chan []*write, 1),
		syncFree:   make(chan struct{}, 1),
		stop:       make(chan struct{}),
		stopped:    make(chan struct{}),
		syncerDone: make(chan struct{}),
	}
	go s.writer()
	go s.syncer()
	return s, nil
}

// Close stops the writer after the writes already queued, then closes the
// database.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.stopped
		<-s.syncerDone
		err = errors.Join(s.w.Close(), s.r.Close(), s.wal.Close())
		s.blobs.close()
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
	// A file that a newer hotline migrated may hold what this one cannot
	// read (compressed blobs, since 006): refuse it rather than serve it
	// wrong. (One SQLite file has one gateway; PostgreSQL, shared by
	// instances upgraded one at a time, has no such check.)
	var newest sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if known := ms[len(ms)-1].Version; newest.Int64 > int64(known) {
		return fmt.Errorf("migrate: the database is at schema version %d, newer than this hotline knows (%d): run a newer hotline",
			newest.Int64, known)
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
// transaction is committed and on disk (or fn failed and was rolled back
// to its savepoint).
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
	case <-s.syncerDone:
		// The writer and the syncer stopped after answering what the
		// writer had taken; a write queued after that was never run.
		select {
		case err := <-w.done:
			return err
		default:
			return errors.New("sqlite store is closed")
		}
	}
}

// writer runs every write, one at a time, in the open transaction, and
// commits that transaction when the syncer is free: while one commit is
// being flushed to disk, the next transaction gathers the writes that
// arrive meanwhile. Each write runs in its own savepoint, so that one
// failing write does not undo the others.
func (s *Store) writer() {
	defer close(s.stopped)
	defer close(s.synced)
	var cur *batchTx
	syncing := false
	for {
		if cur != nil && !syncing {
			s.drain(cur)
			s.commit(cur)
			cur, syncing = nil, true
			continue
		}
		in := s.writes
		if cur != nil && len(cur.writes) >= maxBatch {
			in = nil // full: wait for the syncer
		}
		select {
		case w := <-in:
			if cur == nil {
				cur = s.begin()
			}
			cur.run(w)
		case <-s.syncFree:
			syncing = false
		case <-s.stop:
			// Commit what is open and answer whatever is still queued,
			// then stop.
			if syncing {
				<-s.syncFree
			}
			for {
				if cur != nil {
					s.drain(cur)
					s.commit(cur)
					<-s.syncFree
				}
				select {
				case w := <-s.writes:
					cur = s.begin()
					cur.run(w)
				default:
					return
				}
			}
		}
	}
}

// batchTx is the open write transaction and the writes run in it.
type batchTx struct {
	tx     *sql.Tx
	err    error // set when the transaction itself failed
	writes []*write
}

func (s *Store) begin() *batchTx {
	if err := s.wal.broken(); err != nil {
		return &batchTx{err: err}
	}
	tx, err := s.w.BeginTx(context.Background(), nil)
	return &batchTx{tx: tx, err: err}
}

// drain runs the writes already queued, so that they share this commit.
func (s *Store) drain(b *batchTx) {
	for len(b.writes) < maxBatch {
		select {
		case w := <-s.writes:
			b.run(w)
		default:
			return
		}
	}
}

func (b *batchTx) run(w *write) {
	b.writes = append(b.writes, w)
	if b.err != nil {
		return
	}
	if err := w.ctx.Err(); err != nil {
		w.err = err
		return
	}
	if _, err := b.tx.Exec("SAVEPOINT w"); err != nil {
		b.fail(err)
		return
	}
	if err := w.fn(b.tx); err != nil {
		w.err = err
		if _, err := b.tx.Exec("ROLLBACK TO w"); err != nil {
			b.fail(err)
			return
		}
	}
	if _, err := b.tx.Exec("RELEASE w"); err != nil {
		b.fail(err)
	}
}

func (b *batchTx) fail(err error) {
	b.err = err
	b.tx.Rollback()
}

// slowCommit is the commit or WAL flush time past which the store logs a
// warning: every write of the group waited that long, a call's ticket
// among them.
const slowCommit = 100 * time.Millisecond

// commit commits b and hands its writes to the syncer, which answers them.
func (s *Store) commit(b *batchTx) {
	if b.err == nil {
		t0 := time.Now()
		if err := b.tx.Commit(); err != nil {
			b.err = err
		}
		if d := time.Since(t0); d > slowCommit {
			// A commit that crosses wal_autocheckpoint also copies the
			// WAL into the database and fsyncs it.
			s.log.Warn("sqlite: slow commit", "duration", d, "writes", len(b.writes))
		}
	}
	if b.err != nil {
		for _, w := range b.writes {
			if w.err == nil {
				w.err = fmt.Errorf("sqlite commit: %w", b.err)
			}
		}
	}
	s.synced <- b.writes
}

// syncer answers committed writes once the WAL holding them is on disk.
// The writer commits with synchronous=NORMAL, which writes a commit's
// frames without an fsync; the fsync is here, beside the writer, so that
// the disk flush of one transaction overlaps the work of the next. SQLite
// itself still syncs the WAL before each checkpoint and the database after
// it.
func (s *Store) syncer() {
	defer close(s.syncerDone)
	for writes := range s.synced {
		t0 := time.Now()
		err := s.wal.sync()
		if d := time.Since(t0); d > slowCommit {
			s.log.Warn("sqlite: slow WAL fsync", "duration", d, "writes", len(writes))
		}
		for _, w := range writes {
			if w.err == nil && err != nil {
				w.err = fmt.Errorf("sqlite sync: %w", err)
			}
			w.done <- w.err
		}
		s.syncFree <- struct{}{}
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
