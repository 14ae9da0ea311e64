// Package pgstore is the PostgreSQL backend of the policy revision store (pgx/v5, pgxpool),
// for replicas sharing one database. An Append holds a transaction-scoped advisory lock from
// reading the newest revision to commit, so concurrent imports on any replica queue, revision
// numbers are dense and commit order is revision order; reads never wait for it.
//
// It owns its schema (embedded migrations tracked in policy_schema_migrations, serialised
// across processes by an advisory lock) and nothing else; callers use policystore.Store. The
// tables live in the connection's search_path.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/policy/policystore"
	"github.com/stellaops/stellaops/internal/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store implements policystore.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	// ownsPool is set by Open: Close then closes the pool, which New's caller keeps.
	ownsPool bool
}

var _ policystore.Store = (*Store)(nil)

// Open connects to dsn (a postgres:// URL or key=value string; search_path may be set in it)
// and applies pending migrations. Close closes the pool.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s, err := sqlmigrate.OpenPostgres(ctx, dsn, "policy pgstore", New)
	if err != nil {
		return nil, err
	}
	s.ownsPool = true
	return s, nil
}

// New uses pool, shared with other components, and applies pending migrations to its
// search_path's schema. The pool stays the caller's: Close leaves it open.
func New(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	ms, err := sqlmigrate.List(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("policy pgstore: %w", err)
	}
	set := sqlmigrate.Set{Table: "policy_schema_migrations", Lock: "stellaops.policy", Migrations: ms}
	if err := set.ApplyPostgres(ctx, pool, time.Now); err != nil {
		return nil, fmt.Errorf("policy pgstore: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close closes the pool if Open made it.
func (s *Store) Close() error {
	if s.ownsPool {
		s.pool.Close()
	}
	return nil
}

// lockAppend serialises appends, scoped to the schema like the table. An advisory lock rather
// than LOCK TABLE: readers (every scan checks the active revision) must never wait.
const lockAppend = "stellaops.policy.revisions"

// metaCols are the columns of a revision without its content.
const metaCols = `seq, digest, format, actor, description, created_at`

func scanMeta(row pgx.Row, extra ...any) (policystore.Revision, error) {
	var (
		r      policystore.Revision
		format string
	)
	if err := row.Scan(append([]any{&r.Seq, &r.Digest, &format, &r.Actor, &r.Description, &r.CreatedAt}, extra...)...); err != nil {
		return r, err
	}
	r.Format = policy.Format(format)
	r.CreatedAt = r.CreatedAt.UTC()
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
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1 || ':' || current_schema()))`, lockAppend); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		var content string
		newest, err := scanMeta(tx.QueryRow(ctx, `SELECT `+metaCols+`, content FROM policy_revisions ORDER BY seq DESC LIMIT 1`), &content)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
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
		_, err = tx.Exec(ctx, `INSERT INTO policy_revisions (seq, digest, format, actor, description, created_at, content)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, out.Seq, out.Digest, string(out.Format), out.Actor, out.Description, out.CreatedAt, out.Content)
		return err
	})
	if err != nil {
		return policystore.Revision{}, false, fmt.Errorf("policy pgstore: append: %w", err)
	}
	return out, created, nil
}

// tx runs fn in a transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		// The rollback gets its own context: a cancelled ctx must not leave the connection
		// mid-transaction.
		rbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rbErr := tx.Rollback(rbCtx); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
			return errors.Join(err, rbErr)
		}
		return err
	}
	return tx.Commit(ctx)
}

// Active implements policystore.Store.
func (s *Store) Active(ctx context.Context) (policystore.Revision, error) {
	r, err := scanMeta(s.pool.QueryRow(ctx, `SELECT `+metaCols+` FROM policy_revisions ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, policystore.ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("policy pgstore: active: %w", err)
	}
	return r, nil
}

// Get implements policystore.Store.
func (s *Store) Get(ctx context.Context, seq int64) (policystore.Revision, error) {
	var content string
	r, err := scanMeta(s.pool.QueryRow(ctx, `SELECT `+metaCols+`, content FROM policy_revisions WHERE seq = $1`, seq), &content)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, policystore.ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("policy pgstore: get %s: %w", policystore.FormatID(seq), err)
	}
	r.Content = content
	return r, nil
}

// List implements policystore.Store.
func (s *Store) List(ctx context.Context, before int64, limit int) ([]policystore.Revision, error) {
	if limit <= 0 { // PostgreSQL refuses a negative LIMIT
		return nil, nil
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.pool.Query(ctx, `SELECT `+metaCols+` FROM policy_revisions WHERE seq < $1 ORDER BY seq DESC LIMIT $2`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("policy pgstore: list: %w", err)
	}
	defer rows.Close()
	var out []policystore.Revision
	for rows.Next() {
		r, err := scanMeta(rows)
		if err != nil {
			return nil, fmt.Errorf("policy pgstore: list: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("policy pgstore: list: %w", err)
	}
	return out, nil
}
