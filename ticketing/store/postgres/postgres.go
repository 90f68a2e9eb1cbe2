// Package postgres is the store driver for PostgreSQL, on pgx v5's native
// pool. Several `hotline serve` instances may share one database.
//
// Commits use the server's default synchronous_commit, so a returned write
// is on disk. Ticket creation is group-committed: concurrent creates are
// written by bulk statements in one pipelined transaction, so they share a
// round trip and a WAL flush.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/migration"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key that serializes migrations of
// instances starting together.
const migrationLock = 0x686f746c696e65 // "hotline"

// Store is the PostgreSQL driver.
type Store struct {
	pool *pgxpool.Pool
	// lazy runs work whose loss in a crash is harmless, with
	// synchronous_commit off: number allocation (any ticket using the
	// number commits later, and its flush carries the allocation along)
	// and job claims (a lost claim leaves the job claimable).
	lazy *pgxpool.Pool
	log  *slog.Logger

	sequences sync.Map // day sequences known to exist
	creates   chan *createReq
	finds     chan *findReq
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

var _ ticketing.Store = (*Store)(nil)

// Committers is how many batches of creates may be in flight at once per
// instance: one fills while another commits.
const Committers = 1

// Open connects to the database at url (postgres://…). Call Migrate before
// use.
func Open(ctx context.Context, url string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres config: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	// The statements are few and always the same; generic plans spare
	// planning the group-commit statement on every batch.
	if _, ok := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres connect: %w", err)
	}
	lcfg := cfg.Copy()
	lcfg.MaxConns = 4
	lcfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	lazy, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres connect: %w", err)
	}
	s := &Store{pool: pool, lazy: lazy, log: log, creates: make(chan *createReq, maxBatch),
		finds: make(chan *findReq, maxBatch), stop: make(chan struct{})}
	for i := 0; i < Committers; i++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			coalesce(s.creates, s.stop, s.createBatch)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		coalesce(s.finds, s.stop, s.findBatch)
	}()
	return s, nil
}

func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.pool.Close()
		s.lazy.Close()
	})
	return nil
}

func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres ping: %w", err)
	}
	return nil
}

// Migrate applies the embedded migrations not yet applied. Instances that
// start together take turns through an advisory lock.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migration.List(migrations, "migrations")
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range ms {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %03d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ticketing.ErrNotFound
	}
	return err
}

// isUniqueViolation reports a unique_violation on the named constraint
// (any, when constraint is empty).
func isUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}
