// Package pgstore is the PostgreSQL backend of the Authority's store (pgx/v5, pgxpool), for
// several Authority replicas sharing one database. Key rotations and audit appends each take a
// transaction-scoped advisory lock, so they queue across connections and replicas while reads
// (token checks, JWKS) go on; a partial unique index makes two active keys impossible anyway.
//
// It owns its schema (embedded, numbered migrations tracked in authority_schema_migrations and
// serialised across processes by an advisory lock) and nothing else; callers use
// authority.Store. The tables live in the connection's search_path, so one database can hold
// several Authorities and other components' tables.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store implements authority.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	// ownsPool is set by Open: Close then closes the pool, which New's caller keeps.
	ownsPool bool
}

var _ authority.Store = (*Store)(nil)

// Open connects to dsn (a postgres:// URL or key=value string; search_path may be set in it)
// and applies pending migrations. Close closes the pool.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s, err := sqlmigrate.OpenPostgres(ctx, dsn, "pgstore", New)
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
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	set := sqlmigrate.Set{Table: "authority_schema_migrations", Lock: "stellaops.authority", Migrations: ms}
	if err := set.ApplyPostgres(ctx, pool, time.Now); err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
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

// Advisory locks of the two serialised writes, scoped to the schema like the tables.
const (
	lockKeys  = "stellaops.authority.keys"
	lockAudit = "stellaops.authority.audit"
)

// lock takes the transaction-scoped advisory lock name in tx. An advisory lock rather than
// LOCK TABLE: a table lock strong enough to exclude other writers also conflicts with
// autovacuum's, and would stall behind it.
func lock(ctx context.Context, tx pgx.Tx, name string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1 || ':' || current_schema()))`, name); err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
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

// ts is a time as stored: PostgreSQL keeps microseconds.
func ts(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// list is s for a TEXT[] NOT NULL column: pgx sends a nil slice as NULL.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// sortedList is a sorted copy of s: the caller's slice stays as it was.
func sortedList(s []string) []string {
	c := slices.Clone(list(s))
	slices.Sort(c)
	return c
}

// PutClient implements authority.Store.
func (s *Store) PutClient(ctx context.Context, c authority.Client) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO authority_clients
		(id, secret_hash, display_name, scopes, grants, tenant, max_scans_per_day, disabled, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, display_name = EXCLUDED.display_name,
			scopes = EXCLUDED.scopes, grants = EXCLUDED.grants, tenant = EXCLUDED.tenant,
			max_scans_per_day = EXCLUDED.max_scans_per_day, disabled = EXCLUDED.disabled, created_at = EXCLUDED.created_at`,
		c.ID, c.SecretHash, c.DisplayName, sortedList(c.Scopes), sortedList(c.Grants), c.Tenant, c.MaxScansPerDay, c.Disabled, ts(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("pgstore: put client %q: %w", c.ID, err)
	}
	return nil
}

const clientCols = `id, secret_hash, display_name, scopes, grants, tenant, max_scans_per_day, disabled, created_at`

func scanClient(row pgx.Row) (authority.Client, error) {
	var c authority.Client
	err := row.Scan(&c.ID, &c.SecretHash, &c.DisplayName, &c.Scopes, &c.Grants, &c.Tenant, &c.MaxScansPerDay, &c.Disabled, &c.CreatedAt)
	c.CreatedAt = c.CreatedAt.UTC()
	return c, err
}

// Client implements authority.Store.
func (s *Store) Client(ctx context.Context, id string) (authority.Client, error) {
	c, err := scanClient(s.pool.QueryRow(ctx, `SELECT `+clientCols+` FROM authority_clients WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = authority.ErrNotFound
	}
	if err != nil {
		return authority.Client{}, fmt.Errorf("pgstore: client %q: %w", id, err)
	}
	return c, nil
}

// Clients implements authority.Store.
func (s *Store) Clients(ctx context.Context) ([]authority.Client, error) {
	out, err := queryAll(ctx, s.pool, scanClient, `SELECT `+clientCols+` FROM authority_clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: clients: %w", err)
	}
	return out, nil
}

// PutUser implements authority.Store.
func (s *Store) PutUser(ctx context.Context, u authority.User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO authority_users (username, password_hash, roles, tenant, disabled, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, roles = EXCLUDED.roles,
			tenant = EXCLUDED.tenant, disabled = EXCLUDED.disabled, created_at = EXCLUDED.created_at`,
		u.Username, u.PasswordHash, sortedList(u.Roles), u.Tenant, u.Disabled, ts(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("pgstore: put user %q: %w", u.Username, err)
	}
	return nil
}

const userCols = `username, password_hash, roles, tenant, disabled, created_at`

func scanUser(row pgx.Row) (authority.User, error) {
	var u authority.User
	err := row.Scan(&u.Username, &u.PasswordHash, &u.Roles, &u.Tenant, &u.Disabled, &u.CreatedAt)
	u.CreatedAt = u.CreatedAt.UTC()
	return u, err
}

// User implements authority.Store.
func (s *Store) User(ctx context.Context, username string) (authority.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM authority_users WHERE username = $1`, username))
	if errors.Is(err, pgx.ErrNoRows) {
		err = authority.ErrNotFound
	}
	if err != nil {
		return authority.User{}, fmt.Errorf("pgstore: user %q: %w", username, err)
	}
	return u, nil
}

// Users implements authority.Store.
func (s *Store) Users(ctx context.Context) ([]authority.User, error) {
	out, err := queryAll(ctx, s.pool, scanUser, `SELECT `+userCols+` FROM authority_users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: users: %w", err)
	}
	return out, nil
}

// DeleteClient implements authority.Store.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM authority_clients WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("pgstore: delete client %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: delete client %q: %w", id, authority.ErrNotFound)
	}
	return nil
}

// DeleteUser implements authority.Store.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM authority_users WHERE username = $1`, username)
	if err != nil {
		return fmt.Errorf("pgstore: delete user %q: %w", username, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: delete user %q: %w", username, authority.ErrNotFound)
	}
	return nil
}

// Revoke implements authority.Store. Of concurrent inserts of one jti, the later ones wait on
// the first's index entry and then do nothing, so exactly one reports created.
func (s *Store) Revoke(ctx context.Context, r authority.Revocation) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO authority_revocations (jti, subject, client_id, reason, revoked_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (jti) DO NOTHING`,
		r.JTI, r.Subject, r.ClientID, r.Reason, ts(r.RevokedAt), ts(r.ExpiresAt))
	if err != nil {
		return false, fmt.Errorf("pgstore: revoke %q: %w", r.JTI, err)
	}
	return tag.RowsAffected() == 1, nil
}

// isRevokedQuery probes the primary key's index; pgx prepares it once per connection and
// reuses it (the pool's default statement cache).
const isRevokedQuery = `SELECT EXISTS (SELECT 1 FROM authority_revocations WHERE jti = $1)`

// IsRevoked implements authority.Store.
func (s *Store) IsRevoked(ctx context.Context, jti string) (bool, error) {
	var revoked bool
	if err := s.pool.QueryRow(ctx, isRevokedQuery, jti).Scan(&revoked); err != nil {
		return false, fmt.Errorf("pgstore: is revoked %q: %w", jti, err)
	}
	return revoked, nil
}

// Revocations implements authority.Store.
func (s *Store) Revocations(ctx context.Context, notExpiredAt time.Time) ([]authority.Revocation, error) {
	out, err := queryAll(ctx, s.pool, func(row pgx.Row) (authority.Revocation, error) {
		var r authority.Revocation
		err := row.Scan(&r.JTI, &r.Subject, &r.ClientID, &r.Reason, &r.RevokedAt, &r.ExpiresAt)
		r.RevokedAt, r.ExpiresAt = r.RevokedAt.UTC(), r.ExpiresAt.UTC()
		return r, err
	}, `SELECT jti, subject, client_id, reason, revoked_at, expires_at FROM authority_revocations
		WHERE expires_at > $1 ORDER BY jti`, ts(notExpiredAt))
	if err != nil {
		return nil, fmt.Errorf("pgstore: revocations: %w", err)
	}
	return out, nil
}

// Keys implements authority.Store.
func (s *Store) Keys(ctx context.Context) ([]authority.KeyRecord, error) {
	out, err := queryAll(ctx, s.pool, func(row pgx.Row) (authority.KeyRecord, error) {
		var (
			k       authority.KeyRecord
			retired *time.Time
		)
		err := row.Scan(&k.KID, &k.Algorithm, &k.PublicJWK, &k.Source, &k.Provider, &k.Location, &k.Status, &k.CreatedAt, &retired)
		k.CreatedAt = k.CreatedAt.UTC()
		if retired != nil {
			k.RetiredAt = retired.UTC()
		}
		return k, err
	}, `SELECT kid, algorithm, public_jwk, source, provider, location, status, created_at, retired_at
		FROM authority_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: keys: %w", err)
	}
	return out, nil
}

// RotateKey implements authority.Store. The advisory lock queues rotations from every
// replica; each statement after it (READ COMMITTED) sees the rotations committed before, so
// the key it retires is the one that is active now.
func (s *Store) RotateKey(ctx context.Context, next authority.KeyRecord) (string, error) {
	var prev string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		prev = ""
		if err := lock(ctx, tx, lockKeys); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM authority_keys WHERE kid = $1)`, next.KID).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("kid already stored: %w", authority.ErrConflict)
		}
		// At most one row: the partial unique index allows one active key.
		err := tx.QueryRow(ctx, `UPDATE authority_keys SET status = 'retired', retired_at = $1
			WHERE status = 'active' RETURNING kid`, ts(next.CreatedAt)).Scan(&prev)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		jwk := next.PublicJWK
		if jwk == nil {
			jwk = []byte{} // nil would be sent as NULL
		}
		_, err = tx.Exec(ctx, `INSERT INTO authority_keys
			(kid, algorithm, public_jwk, source, provider, location, status, created_at, retired_at)
			VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, NULL)`,
			next.KID, next.Algorithm, jwk, next.Source, next.Provider, next.Location, ts(next.CreatedAt))
		return err
	})
	// A unique violation means a writer that bypassed the lock got there first: still a conflict.
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "23505" {
		err = fmt.Errorf("%w: %w", authority.ErrConflict, err)
	}
	if err != nil {
		return "", fmt.Errorf("pgstore: rotate to key %q: %w", next.KID, err)
	}
	return prev, nil
}

// AppendAudit implements authority.Store. Sequence values are handed out in call order but
// committed in any order, so without the lock a reader paging by seq could read seq n+1, then
// never see n. Holding the lock from nextval to commit makes seq order commit order.
func (s *Store) AppendAudit(ctx context.Context, e authority.AuditEvent) (int64, error) {
	var seq int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lock(ctx, tx, lockAudit); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO authority_audit
			(time, type, outcome, subject, client_id, scopes, status, trace_id, remote_ip, detail)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING seq`,
			ts(e.Time), e.Type, e.Outcome, e.Subject, e.ClientID, list(e.Scopes), e.Status, e.TraceID, e.RemoteIP, e.Detail).Scan(&seq)
	})
	if err != nil {
		return 0, fmt.Errorf("pgstore: append audit %s: %w", e.Type, err)
	}
	return seq, nil
}

// Audit implements authority.Store.
func (s *Store) Audit(ctx context.Context, after int64, limit int) ([]authority.AuditEvent, error) {
	if limit <= 0 { // PostgreSQL refuses a negative LIMIT
		return nil, nil
	}
	out, err := queryAll(ctx, s.pool, func(row pgx.Row) (authority.AuditEvent, error) {
		var e authority.AuditEvent
		err := row.Scan(&e.Seq, &e.Time, &e.Type, &e.Outcome, &e.Subject, &e.ClientID, &e.Scopes, &e.Status, &e.TraceID, &e.RemoteIP, &e.Detail)
		e.Time = e.Time.UTC()
		return e, err
	}, `SELECT seq, time, type, outcome, subject, client_id, scopes, status, trace_id, remote_ip, detail
		FROM authority_audit WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: audit after %d: %w", after, err)
	}
	return out, nil
}

// queryAll runs query on the pool and scans every row with scan.
func queryAll[T any](ctx context.Context, pool *pgxpool.Pool, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
