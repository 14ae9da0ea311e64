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
	"time"

	_ "modernc.org/sqlite" // registers driver "sqlite"

	"github.com/stellaops/stellaops/internal/sqlitedb"
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
	ms, err := sqlmigrate.List(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	// synchronous FULL, not NORMAL: an acknowledged entry must survive power loss, because its
	// ID, index and proofs may already have been handed out.
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{BusyTimeout: busyTimeout, Synchronous: "FULL", ForeignKeys: false,
		Migrations: sqlmigrate.Set{Table: "tlog_schema_migrations", Lock: "stellaops.tlog", Migrations: ms}, Now: time.Now})
	if err != nil {
		return nil, err
	}
	return &Store{w: db.W, r: db.R}, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// tx runs fn in a write transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return sqlitedb.Tx(ctx, s.w, fn)
}

func micros(t time.Time) int64 { return tlog.Timestamp(t).UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }
