// Package sqlmigrate applies a component's embedded SQL migrations (files named
// NNNN_description.sql, in version order) to SQLite through database/sql or to PostgreSQL through
// pgx. Each component records its versions in a table of its own, so several (Concelier's store,
// the transparency log) can share one database without their versions colliding.
package sqlmigrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migration is one numbered SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// List returns the migrations in dir of fsys by version; versions must be unique.
func List(fsys fs.FS, dir string) ([]Migration, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var out []Migration
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migrations: %s: want NNNN_description.sql", name)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations: %s and %s share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// Set is one component's migrations and where it records them.
type Set struct {
	// Table is the component's migrations table ("schema_migrations", "tlog_schema_migrations").
	Table string
	// Lock names the component for PostgreSQL's advisory lock, so processes starting together
	// apply each migration once.
	Lock       string
	Migrations []Migration
}

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func (s Set) check() error {
	if !tableName.MatchString(s.Table) {
		return fmt.Errorf("migrate: table name %q is not a plain identifier", s.Table)
	}
	return nil
}

// ApplySQLite applies the pending migrations to db, each in its own transaction with its record.
// db should begin transactions with the write lock (_txlock=immediate).
func (s Set) ApplySQLite(ctx context.Context, db *sql.DB, now func() time.Time) error {
	if err := s.check(); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+s.Table+` (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range s.Migrations {
		err := sqlTx(ctx, db, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+s.Table+` WHERE version = ?`, m.Version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO `+s.Table+` (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
	}
	return nil
}

func sqlTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		rerr := tx.Rollback()
		if errors.Is(rerr, sql.ErrTxDone) {
			rerr = nil
		}
		return errors.Join(err, rerr)
	}
	return tx.Commit()
}

// ApplyPostgres applies the pending migrations to the pool's current schema. Every step takes the
// same transaction-scoped advisory lock, keyed by Lock and the schema.
func (s Set) ApplyPostgres(ctx context.Context, pool *pgxpool.Pool, now func() time.Time) error {
	if err := s.check(); err != nil {
		return err
	}
	lock := func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1 || ':' || current_schema()))`, s.Lock)
		return err
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := lock(tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.Table+` (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range s.Migrations {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if err := lock(tx); err != nil {
				return err
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+s.Table+` WHERE version = $1)`, m.Version).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO `+s.Table+` (version, name, applied_at) VALUES ($1, $2, $3)`, m.Version, m.Name, now())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
	}
	return nil
}

// OpenPostgres connects a pool to dsn and hands it to newStore, a store's constructor over a
// shared pool (which applies its migrations). If that fails the pool is closed again, so a
// failed open leaks no connections. Connection errors are prefixed with component; newStore's
// errors are returned as they are.
func OpenPostgres[S any](ctx context.Context, dsn, component string, newStore func(context.Context, *pgxpool.Pool) (S, error)) (S, error) {
	var zero S
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return zero, fmt.Errorf("%s: open: %w", component, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return zero, fmt.Errorf("%s: open: %w", component, err)
	}
	s, err := newStore(ctx, pool)
	if err != nil {
		pool.Close()
		return zero, err
	}
	return s, nil
}
