// Package sqlitestore is the embedded default backend of the Concelier store: one SQLite file
// (pure Go modernc.org/sqlite) in WAL mode, with a single writer connection and a small pool of
// read-only connections so iterations never block writes.
//
// It owns its schema (embedded, numbered migrations) and nothing else; callers use store.Store.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // registers driver "sqlite"

	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// busyTimeout is how long a connection waits for another process's write lock.
const busyTimeout = 10 * time.Second

// Store implements store.Store on SQLite.
type Store struct {
	w   *sql.DB // one connection: SQLite has one writer anyway, and BEGIN IMMEDIATE serialises it
	r   *sql.DB // read-only pool
	now func() time.Time
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and applies pending migrations.
func Open(ctx context.Context, path string, opts store.Options) (*Store, error) {
	dsn := func(readonly bool) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(NORMAL)") // durable in WAL mode except on power loss mid-checkpoint
		if readonly {
			q.Add("_pragma", "query_only(1)")
		} else {
			q.Set("_txlock", "immediate") // take the write lock at BEGIN: no upgrade deadlocks
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn(false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, now: opts.Clock()}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if s.r, err = sql.Open("sqlite", dsn(true)); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(4)
	return s, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := sqlmigrate.List(migrationFS, "migrations")
	if err != nil {
		return err
	}
	return sqlmigrate.Set{Table: "schema_migrations", Lock: "stellaops.concelier.store", Migrations: ms}.ApplySQLite(ctx, s.w, s.now)
}

// tx runs fn in a write transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return tx.Commit()
}

// ignoreDone hides the rollback error of a transaction database/sql already rolled back because
// its context ended.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

func micros(t time.Time) int64 { return store.Timestamp(t).UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }
