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
	"time"

	_ "modernc.org/sqlite" // registers driver "sqlite"

	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/sqlitedb"
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
	now := opts.Clock()
	ms, err := sqlmigrate.List(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{BusyTimeout: busyTimeout, Synchronous: "NORMAL", ForeignKeys: true,
		Migrations: sqlmigrate.Set{Table: "schema_migrations", Lock: "stellaops.concelier.store", Migrations: ms}, Now: now})
	if err != nil {
		return nil, err
	}
	return &Store{w: db.W, r: db.R, now: now}, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// tx runs fn in a write transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return sqlitedb.Tx(ctx, s.w, fn)
}

func micros(t time.Time) int64 { return store.Timestamp(t).UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }
