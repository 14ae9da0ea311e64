// Package sqlitestore is the embedded backend of the Authority's store: one SQLite file (pure Go
// modernc.org/sqlite) opened through sqlitedb, in WAL mode, with a single writer connection whose
// transactions start with BEGIN IMMEDIATE (so a key rotation is serialised across goroutines and
// processes alike) and a pool of read-only connections, so token checks never wait for a write.
//
// It owns its schema (embedded, numbered migrations tracked in authority_schema_migrations, so
// the Authority can share a database file with other components) and nothing else; callers use
// authority.Store.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/sqlitedb"
	"github.com/stellaops/stellaops/internal/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store implements authority.Store on SQLite.
type Store struct {
	w *sql.DB // one connection: SQLite has one writer anyway, and BEGIN IMMEDIATE serialises it
	r *sql.DB // read-only pool
	// isRevoked is prepared once: it runs on every authenticated request.
	isRevoked *sql.Stmt
}

var _ authority.Store = (*Store)(nil)

// Option adjusts Open.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	readers     int
}

// WithBusyTimeout sets how long a write waits for another process's write lock (default 30s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithReaders bounds the read-only pool (default 4).
func WithReaders(n int) Option { return func(o *options) { o.readers = n } }

// isRevokedQuery is a lookup of the primary key of a WITHOUT ROWID table: one b-tree seek.
const isRevokedQuery = `SELECT EXISTS (SELECT 1 FROM authority_revocations WHERE jti = ?)`

// Open opens (creating if needed) the database file at path and applies pending migrations.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{busyTimeout: 30 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	ms, err := sqlmigrate.List(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	// synchronous FULL, not NORMAL: a revocation or a rotation that was acknowledged must survive
	// power loss, or a revoked token would be accepted again after a crash.
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{BusyTimeout: o.busyTimeout, Synchronous: "FULL", Readers: o.readers,
		Migrations: sqlmigrate.Set{Table: "authority_schema_migrations", Lock: "stellaops.authority", Migrations: ms}, Now: time.Now})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	st, err := db.R.PrepareContext(ctx, isRevokedQuery)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlitestore: prepare: %w", err), db.Close())
	}
	return &Store{w: db.W, r: db.R, isRevoked: st}, nil
}

// Close closes the prepared statement and both pools.
func (s *Store) Close() error {
	if err := errors.Join(s.isRevoked.Close(), s.r.Close(), s.w.Close()); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

// micros is how times are stored: Unix microseconds, which is also what the interface keeps.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// list encodes a string list as a JSON array ([] for nil, never NULL).
func list(s []string) string {
	if s == nil {
		s = []string{}
	}
	b, _ := json.Marshal(s) // a []string always marshals
	return string(b)
}

// sortedList is list of a sorted copy: the caller's slice stays as it was.
func sortedList(s []string) string {
	c := slices.Clone(s)
	slices.Sort(c)
	return list(c)
}

func parseList(what, v string) ([]string, error) {
	var s []string
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return nil, fmt.Errorf("stored %s: %w", what, err)
	}
	return s, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// PutClient implements authority.Store.
func (s *Store) PutClient(ctx context.Context, c authority.Client) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO authority_clients
		(id, secret_hash, display_name, scopes, grants, tenant, max_scans_per_day, disabled, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash, display_name = excluded.display_name,
			scopes = excluded.scopes, grants = excluded.grants, tenant = excluded.tenant,
			max_scans_per_day = excluded.max_scans_per_day, disabled = excluded.disabled, created_at = excluded.created_at`,
		c.ID, c.SecretHash, c.DisplayName, sortedList(c.Scopes), sortedList(c.Grants), c.Tenant, c.MaxScansPerDay, c.Disabled, micros(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlitestore: put client %q: %w", c.ID, err)
	}
	return nil
}

const clientCols = `id, secret_hash, display_name, scopes, grants, tenant, max_scans_per_day, disabled, created_at`

func scanClient(row scanner) (authority.Client, error) {
	var (
		c              authority.Client
		scopes, grants string
		created        int64
	)
	if err := row.Scan(&c.ID, &c.SecretHash, &c.DisplayName, &scopes, &grants, &c.Tenant, &c.MaxScansPerDay, &c.Disabled, &created); err != nil {
		return c, err
	}
	var err1, err2 error
	c.Scopes, err1 = parseList("scopes", scopes)
	c.Grants, err2 = parseList("grants", grants)
	c.CreatedAt = fromMicros(created)
	return c, errors.Join(err1, err2)
}

// Client implements authority.Store.
func (s *Store) Client(ctx context.Context, id string) (authority.Client, error) {
	c, err := scanClient(s.r.QueryRowContext(ctx, `SELECT `+clientCols+` FROM authority_clients WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = authority.ErrNotFound
	}
	if err != nil {
		return authority.Client{}, fmt.Errorf("sqlitestore: client %q: %w", id, err)
	}
	return c, nil
}

// Clients implements authority.Store.
func (s *Store) Clients(ctx context.Context) ([]authority.Client, error) {
	out, err := queryAll(ctx, s.r, scanClient, `SELECT `+clientCols+` FROM authority_clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: clients: %w", err)
	}
	return out, nil
}

// PutUser implements authority.Store.
func (s *Store) PutUser(ctx context.Context, u authority.User) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO authority_users (username, password_hash, roles, tenant, disabled, created_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, roles = excluded.roles,
			tenant = excluded.tenant, disabled = excluded.disabled, created_at = excluded.created_at`,
		u.Username, u.PasswordHash, sortedList(u.Roles), u.Tenant, u.Disabled, micros(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlitestore: put user %q: %w", u.Username, err)
	}
	return nil
}

const userCols = `username, password_hash, roles, tenant, disabled, created_at`

func scanUser(row scanner) (authority.User, error) {
	var (
		u       authority.User
		roles   string
		created int64
	)
	if err := row.Scan(&u.Username, &u.PasswordHash, &roles, &u.Tenant, &u.Disabled, &created); err != nil {
		return u, err
	}
	var err error
	u.Roles, err = parseList("roles", roles)
	u.CreatedAt = fromMicros(created)
	return u, err
}

// User implements authority.Store.
func (s *Store) User(ctx context.Context, username string) (authority.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM authority_users WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		err = authority.ErrNotFound
	}
	if err != nil {
		return authority.User{}, fmt.Errorf("sqlitestore: user %q: %w", username, err)
	}
	return u, nil
}

// Users implements authority.Store.
func (s *Store) Users(ctx context.Context) ([]authority.User, error) {
	out, err := queryAll(ctx, s.r, scanUser, `SELECT `+userCols+` FROM authority_users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: users: %w", err)
	}
	return out, nil
}

// DeleteClient implements authority.Store.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM authority_clients WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlitestore: delete client %q: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlitestore: delete client %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlitestore: delete client %q: %w", id, authority.ErrNotFound)
	}
	return nil
}

// DeleteUser implements authority.Store.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM authority_users WHERE username = ?`, username)
	if err != nil {
		return fmt.Errorf("sqlitestore: delete user %q: %w", username, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlitestore: delete user %q: %w", username, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlitestore: delete user %q: %w", username, authority.ErrNotFound)
	}
	return nil
}

// Revoke implements authority.Store. DO NOTHING keeps the first record; the single writer
// means exactly one of several concurrent calls inserts.
func (s *Store) Revoke(ctx context.Context, r authority.Revocation) (bool, error) {
	res, err := s.w.ExecContext(ctx, `INSERT INTO authority_revocations (jti, subject, client_id, reason, revoked_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING`,
		r.JTI, r.Subject, r.ClientID, r.Reason, micros(r.RevokedAt), micros(r.ExpiresAt))
	if err != nil {
		return false, fmt.Errorf("sqlitestore: revoke %q: %w", r.JTI, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlitestore: revoke %q: %w", r.JTI, err)
	}
	return n == 1, nil
}

// IsRevoked implements authority.Store.
func (s *Store) IsRevoked(ctx context.Context, jti string) (bool, error) {
	var revoked bool
	if err := s.isRevoked.QueryRowContext(ctx, jti).Scan(&revoked); err != nil {
		return false, fmt.Errorf("sqlitestore: is revoked %q: %w", jti, err)
	}
	return revoked, nil
}

// Revocations implements authority.Store.
func (s *Store) Revocations(ctx context.Context, notExpiredAt time.Time) ([]authority.Revocation, error) {
	out, err := queryAll(ctx, s.r, func(row scanner) (authority.Revocation, error) {
		var (
			r                authority.Revocation
			revoked, expires int64
		)
		err := row.Scan(&r.JTI, &r.Subject, &r.ClientID, &r.Reason, &revoked, &expires)
		r.RevokedAt, r.ExpiresAt = fromMicros(revoked), fromMicros(expires)
		return r, err
	}, `SELECT jti, subject, client_id, reason, revoked_at, expires_at FROM authority_revocations
		WHERE expires_at > ? ORDER BY jti`, micros(notExpiredAt))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: revocations: %w", err)
	}
	return out, nil
}

// Keys implements authority.Store.
func (s *Store) Keys(ctx context.Context) ([]authority.KeyRecord, error) {
	out, err := queryAll(ctx, s.r, func(row scanner) (authority.KeyRecord, error) {
		var (
			k       authority.KeyRecord
			created int64
			retired sql.NullInt64
		)
		err := row.Scan(&k.KID, &k.Algorithm, &k.PublicJWK, &k.Source, &k.Provider, &k.Location, &k.Status, &created, &retired)
		k.CreatedAt = fromMicros(created)
		if retired.Valid {
			k.RetiredAt = fromMicros(retired.Int64)
		}
		return k, err
	}, `SELECT kid, algorithm, public_jwk, source, provider, location, status, created_at, retired_at
		FROM authority_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: keys: %w", err)
	}
	return out, nil
}

// RotateKey implements authority.Store. The transaction begins with the write lock (BEGIN
// IMMEDIATE), so the existence check, the retirement and the insert see no other writer, in
// this process or another.
func (s *Store) RotateKey(ctx context.Context, next authority.KeyRecord) (string, error) {
	var prev string
	err := sqlitedb.Tx(ctx, s.w, func(tx *sql.Tx) error {
		prev = ""
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM authority_keys WHERE kid = ?`, next.KID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("kid already stored: %w", authority.ErrConflict)
		}
		// At most one row: the partial unique index allows one active key.
		err := tx.QueryRowContext(ctx, `UPDATE authority_keys SET status = 'retired', retired_at = ?
			WHERE status = 'active' RETURNING kid`, micros(next.CreatedAt)).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		jwk := next.PublicJWK
		if jwk == nil {
			jwk = []byte{} // nil would bind as NULL
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO authority_keys
			(kid, algorithm, public_jwk, source, provider, location, status, created_at, retired_at)
			VALUES (?, ?, ?, ?, ?, ?, 'active', ?, NULL)`,
			next.KID, next.Algorithm, jwk, next.Source, next.Provider, next.Location, micros(next.CreatedAt))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("sqlitestore: rotate to key %q: %w", next.KID, err)
	}
	return prev, nil
}

// AppendAudit implements authority.Store.
func (s *Store) AppendAudit(ctx context.Context, e authority.AuditEvent) (int64, error) {
	var seq int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO authority_audit
		(time, type, outcome, subject, client_id, scopes, status, trace_id, remote_ip, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		micros(e.Time), e.Type, e.Outcome, e.Subject, e.ClientID, list(e.Scopes), e.Status, e.TraceID, e.RemoteIP, e.Detail).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: append audit %s: %w", e.Type, err)
	}
	return seq, nil
}

// Audit implements authority.Store.
func (s *Store) Audit(ctx context.Context, after int64, limit int) ([]authority.AuditEvent, error) {
	if limit <= 0 { // SQLite would read a negative LIMIT as no limit at all
		return nil, nil
	}
	out, err := queryAll(ctx, s.r, func(row scanner) (authority.AuditEvent, error) {
		var (
			e      authority.AuditEvent
			at     int64
			scopes string
		)
		if err := row.Scan(&e.Seq, &at, &e.Type, &e.Outcome, &e.Subject, &e.ClientID, &scopes, &e.Status, &e.TraceID, &e.RemoteIP, &e.Detail); err != nil {
			return e, err
		}
		var err error
		e.Time = fromMicros(at)
		e.Scopes, err = parseList("scopes", scopes)
		return e, err
	}, `SELECT seq, time, type, outcome, subject, client_id, scopes, status, trace_id, remote_ip, detail
		FROM authority_audit WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: audit after %d: %w", after, err)
	}
	return out, nil
}

// queryAll runs query on db and scans every row with scan.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
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
