// Package pgstore is the PostgreSQL backend of the Concelier store (pgx/v5, pgxpool): BYTEA for
// documents and canonical advisory bytes, JSONB for cursors and job data, ON CONFLICT upserts and
// COPY for bulk writes.
//
// It owns its schema (embedded, numbered migrations, serialised across processes by an advisory
// lock) and nothing else; callers use store.Store. The schema lives in the connection's
// search_path, so one database can hold several stores.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store implements store.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ store.Store = (*Store)(nil)

// Open connects to dsn (a postgres:// URL or key=value string; search_path may be set in it) and
// applies pending migrations.
func Open(ctx context.Context, dsn string, opts store.Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return OpenConfig(ctx, cfg, opts)
}

// OpenConfig is Open with a parsed pool configuration (AfterConnect hooks, pool sizes).
func OpenConfig(ctx context.Context, cfg *pgxpool.Config, opts store.Options) (*Store, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &Store{pool: pool, now: opts.Clock()}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrate.List(migrationFS, "migrations")
	if err != nil {
		return err
	}
	// Every step takes the same transaction-scoped advisory lock (keyed by schema), so processes
	// starting together apply each migration once.
	const lock = `SELECT pg_advisory_xact_lock(hashtext('stellaops.concelier.store:' || current_schema()))`
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range ms {
		err := s.tx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, lock); err != nil {
				return err
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, s.now())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
	}
	return nil
}

// tx runs fn in a transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		// The rollback gets its own context: a cancelled ctx must not leave the connection mid-transaction.
		rbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rbErr := tx.Rollback(rbCtx); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
			return errors.Join(err, rbErr)
		}
		return err
	}
	return tx.Commit(ctx)
}

func ts(t time.Time) time.Time { return store.Timestamp(t) }
