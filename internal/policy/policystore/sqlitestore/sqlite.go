// Package sqlitestore is the embedded backend of the policy revision store: one SQLite file
// opened through sqlitedb (WAL, one writer connection whose transactions begin IMMEDIATE, a
// read-only pool). An Append reads the newest revision and inserts the next one inside one
// write transaction, so it is serialised across goroutines and processes sharing the file.
//
// It owns its schema (embedded migrations tracked in policy_schema_migrations) and nothing
// else; callers use policystore.Store.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/policy/policystore"
	"github.com/stellaops/stellaops/internal/sqlitedb"
	"github.com/stellaops/stellaops/internal/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store implements policystore.Store on SQLite.
type Store struct {
	db *sqlitedb.DB
}

var _ policystore.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	ms, err := sqlmigrate.List(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("policy sqlitestore: %w", err)
	}
	// synchronous FULL: an import that was acknowledged must survive power loss, or replicas
	// and reports would name a revision the history no longer has.
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{BusyTimeout: 30 * time.Second, Synchronous: "FULL",
		Migrations: sqlmigrate.Set{Table: "policy_schema_migrations", Lock: "stellaops.policy", Migrations: ms}, Now: time.Now})
	if err != nil {
		return nil, fmt.Errorf("policy sqlitestore: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("policy sqlitestore: close: %w", err)
	}
	return nil
}

// metaCols are the columns of a revision without its content, which is stored last.
const metaCols = `seq, digest, format, actor, description, created_at`

type scanner interface{ Scan(dest ...any) error }

func scanMeta(row scanner, extra ...any) (policystore.Revision, error) {
	var (
		r      policystore.Revision
		format string
		at     int64
	)
	if err := row.Scan(append([]any{&r.Seq, &r.Digest, &format, &r.Actor, &r.Description, &at}, extra...)...); err != nil {
		return r, err
	}
	r.Format = policy.Format(format)
	r.CreatedAt = time.UnixMilli(at).UTC()
	return r, nil
}

// Append implements policystore.Store.
func (s *Store) Append(ctx context.Context, in policystore.NewRevision) (policystore.Revision, bool, error) {
	in, err := policystore.Check(in)
	if err != nil {
		return policystore.Revision{}, false, err
	}
	var (
		out     policystore.Revision
		created bool
	)
	err = sqlitedb.Tx(ctx, s.db.W, func(tx *sql.Tx) error {
		var content string
		newest, err := scanMeta(tx.QueryRowContext(ctx, `SELECT `+metaCols+`, content FROM policy_revisions ORDER BY seq DESC LIMIT 1`), &content)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case newest.Digest == in.Digest:
			newest.Content = content
			out = newest
			return nil
		}
		out = policystore.Revision{Seq: newest.Seq + 1, Digest: in.Digest, Format: in.Format, Content: in.Content,
			Actor: in.Actor, Description: in.Description, CreatedAt: in.CreatedAt}
		created = true
		_, err = tx.ExecContext(ctx, `INSERT INTO policy_revisions (seq, digest, format, actor, description, created_at, content)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, out.Seq, out.Digest, string(out.Format), out.Actor, out.Description, out.CreatedAt.UnixMilli(), out.Content)
		return err
	})
	if err != nil {
		return policystore.Revision{}, false, fmt.Errorf("policy sqlitestore: append: %w", err)
	}
	return out, created, nil
}

// Active implements policystore.Store.
func (s *Store) Active(ctx context.Context) (policystore.Revision, error) {
	r, err := scanMeta(s.db.R.QueryRowContext(ctx, `SELECT `+metaCols+` FROM policy_revisions ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return r, policystore.ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("policy sqlitestore: active: %w", err)
	}
	return r, nil
}

// Get implements policystore.Store.
func (s *Store) Get(ctx context.Context, seq int64) (policystore.Revision, error) {
	var content string
	r, err := scanMeta(s.db.R.QueryRowContext(ctx, `SELECT `+metaCols+`, content FROM policy_revisions WHERE seq = ?`, seq), &content)
	if errors.Is(err, sql.ErrNoRows) {
		return r, policystore.ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("policy sqlitestore: get %s: %w", policystore.FormatID(seq), err)
	}
	r.Content = content
	return r, nil
}

// List implements policystore.Store.
func (s *Store) List(ctx context.Context, before int64, limit int) ([]policystore.Revision, error) {
	if limit <= 0 { // SQLite would read a negative LIMIT as no limit at all
		return nil, nil
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+metaCols+` FROM policy_revisions WHERE seq < ? ORDER BY seq DESC LIMIT ?`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("policy sqlitestore: list: %w", err)
	}
	defer rows.Close()
	var out []policystore.Revision
	for rows.Next() {
		r, err := scanMeta(rows)
		if err != nil {
			return nil, fmt.Errorf("policy sqlitestore: list: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("policy sqlitestore: list: %w", err)
	}
	return out, nil
}
