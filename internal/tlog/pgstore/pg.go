// Package pgstore is the PostgreSQL backend of the transparency log (pgx/v5, pgxpool). An
// append takes LOCK TABLE tlog_entries IN EXCLUSIVE MODE in its transaction: appends from any
// number of goroutines and processes queue on it, while proofs and reads (ACCESS SHARE) go on.
//
// It owns its schema (embedded, numbered migrations tracked in tlog_schema_migrations and
// serialised across processes by an advisory lock) and nothing else; callers use tlog.Store.
// The tables live in the connection's search_path, so one database can hold several logs and
// other components' tables.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stellaops/stellaops/internal/sqlmigrate"
	"github.com/stellaops/stellaops/internal/tlog"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store implements tlog.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ tlog.Store = (*Store)(nil)

// Open connects to dsn (a postgres:// URL or key=value string; search_path may be set in it) and
// applies pending migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig is Open with a parsed pool configuration (AfterConnect hooks, pool sizes).
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &Store{pool: pool}
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
	ms, err := sqlmigrate.List(migrationFS, "migrations")
	if err != nil {
		return err
	}
	return sqlmigrate.Set{Table: "tlog_schema_migrations", Lock: "stellaops.tlog", Migrations: ms}.ApplyPostgres(ctx, s.pool, time.Now)
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
