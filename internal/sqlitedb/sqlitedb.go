// Package sqlitedb opens the embedded SQLite databases of StellaOps' stores (modernc.org/sqlite,
// pure Go) the one way they all need: WAL, one writer connection that takes the write lock at
// BEGIN, a small read-only pool, and the component's migrations applied before first use.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/stellaops/stellaops/internal/sqlmigrate"
)

// Options say how a store uses its database.
type Options struct {
	// BusyTimeout is how long a connection waits for another process's write lock.
	BusyTimeout time.Duration
	// Synchronous is SQLite's synchronous pragma: NORMAL (durable in WAL mode except on power
	// loss mid-checkpoint) or FULL (every commit survives power loss).
	Synchronous string
	// ForeignKeys turns foreign key enforcement on.
	ForeignKeys bool
	// Readers bounds the read-only pool (default 4).
	Readers int
	// Migrations are applied on the writer when the database opens; Now stamps them.
	Migrations sqlmigrate.Set
	Now        func() time.Time
}

// DB is a store's pair of pools: W has one connection, since SQLite has one writer anyway and
// BEGIN IMMEDIATE serialises it; R is read-only.
type DB struct {
	W, R *sql.DB
}

// Open opens (creating if needed) the database file at path and applies pending migrations.
func Open(ctx context.Context, path string, o Options) (*DB, error) {
	if o.Readers <= 0 {
		o.Readers = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	dsn := func(readonly bool) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds()))
		if o.ForeignKeys {
			q.Add("_pragma", "foreign_keys(1)")
		}
		q.Add("_pragma", "synchronous("+o.Synchronous+")")
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
	if err := o.Migrations.ApplySQLite(ctx, w, o.Now); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(o.Readers)
	return &DB{W: w, R: r}, nil
}

// Close closes both pools.
func (d *DB) Close() error {
	return errors.Join(d.R.Close(), d.W.Close())
}

// Tx runs fn in a transaction of db, committing when it returns nil.
func Tx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		rerr := tx.Rollback()
		if errors.Is(rerr, sql.ErrTxDone) { // database/sql already rolled back: the context ended
			rerr = nil
		}
		return errors.Join(err, rerr)
	}
	return tx.Commit()
}
