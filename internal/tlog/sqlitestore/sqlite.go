// Package sqlitestore is the embedded default backend of the transparency log: one SQLite file
// (pure Go modernc.org/sqlite) in WAL mode, with a single writer connection whose transactions
// start with BEGIN IMMEDIATE (the append lock, across processes too) and a small pool of
// read-only connections, so proofs are served while an append runs.
//
// It owns its schema (embedded, numbered migrations tracked in tlog_schema_migrations, so the
// log can share a database file with other components) and nothing else; callers use
// tlog.Store.
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

	"github.com/stellaops/stellaops/internal/sqlmigrate"
	"github.com/stellaops/stellaops/internal/tlog"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// busyTimeout is how long a connection waits for another process's write lock.
const busyTimeout = 30 * time.Second

// Store implements tlog.Store on SQLite.
type Store struct {
	w *sql.DB // one connection: SQLite has one writer anyway, and BEGIN IMMEDIATE serialises it
	r *sql.DB // read-only pool
}

var _ tlog.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := func(readonly bool) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
		// FULL, not NORMAL: an acknowledged entry must survive power loss, because its ID,
		// index and proofs may already have been handed out.
		q.Add("_pragma", "synchronous(FULL)")
		if readonly {
			q.Add("_pragma", "query_only(1)")
		} else {
			q.Set("_txlock", "immediate") // take the write lock at BEGIN: the append lock
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn(false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w}
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
	return sqlmigrate.Set{Table: "tlog_schema_migrations", Lock: "stellaops.tlog", Migrations: ms}.ApplySQLite(ctx, s.w, time.Now)
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

func micros(t time.Time) int64 { return tlog.Timestamp(t).UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }
