// Package sqlitestore is the embedded backend of the runtime event store: one SQLite file
// (pure Go modernc.org/sqlite) opened through sqlitedb, in WAL mode, with a single writer
// connection and a pool of read-only connections, so verdict queries never wait for a batch
// being written.
//
// It owns its schema (embedded, numbered migrations tracked in runtime_schema_migrations, so
// the file may be shared with other components) and nothing else; callers use runtime.Store.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/runtime"
	"github.com/stellaops/stellaops/internal/sqlitedb"
	"github.com/stellaops/stellaops/internal/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store implements runtime.Store on SQLite.
type Store struct {
	w *sql.DB // one connection: SQLite has one writer anyway
	r *sql.DB // read-only pool
	// insert is the full-chunk INSERT, prepared once on the writer: parsing a statement of
	// rowsPerInsert×15 parameters per chunk would cost more than running it.
	insert *sql.Stmt
}

var _ runtime.Store = (*Store)(nil)

// Option adjusts Open.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	synchronous string
}

// WithBusyTimeout sets how long a write waits for another process's write lock (default 30s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithSynchronousFull makes every commit survive power loss (SQLite synchronous=FULL), at the
// cost of an fsync per batch; the default NORMAL survives process crashes, not power loss
// in the middle of a checkpoint.
func WithSynchronousFull() Option { return func(o *options) { o.synchronous = "FULL" } }

// Open opens (creating if needed) the database file at path and applies pending migrations.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{busyTimeout: 30 * time.Second, synchronous: "NORMAL"}
	for _, opt := range opts {
		opt(&o)
	}
	ms, err := sqlmigrate.List(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{BusyTimeout: o.busyTimeout, Synchronous: o.synchronous,
		Migrations: sqlmigrate.Set{Table: "runtime_schema_migrations", Lock: "stellaops.runtime", Migrations: ms}, Now: time.Now})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	st, err := db.W.PrepareContext(ctx, insertSQL(rowsPerInsert))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlitestore: prepare: %w", err), db.Close())
	}
	return &Store{w: db.W, r: db.R, insert: st}, nil
}

// Close closes the prepared statement and both pools.
func (s *Store) Close() error {
	if err := errors.Join(s.insert.Close(), s.r.Close(), s.w.Close()); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(v int64) time.Time { return time.UnixMilli(v).UTC() }

// insertCols are the columns of an insert, in the order of record's values.
const insertCols = `tenant, event_id, node, kind, observed_at, image_digest, namespace, pod, container,
	image_signed, sbom_referrer, batch_id, received_at, expires_at, payload`

const nCols = 15

// rowsPerInsert bounds one multi-row INSERT: fewer statements are what makes bulk inserts
// fast, and 128 × 15 parameters stay far below SQLite's limit of 32766.
const rowsPerInsert = 128

func values(r *runtime.Record, dst []any) []any {
	var signed any
	if r.ImageSigned != nil {
		signed = *r.ImageSigned
	}
	return append(dst, r.Tenant, r.EventID, r.Node, string(r.Kind), millis(r.ObservedAt), r.ImageDigest, r.Namespace,
		r.Pod, r.Container, signed, r.SBOMReferrer, r.BatchID, millis(r.ReceivedAt), millis(r.ExpiresAt), r.Payload)
}

func insertSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO runtime_events (` + insertCols + `) VALUES `)
	row := "(" + strings.Repeat("?, ", nCols-1) + "?)"
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(` ON CONFLICT (tenant, event_id) DO NOTHING`)
	return b.String()
}

// Insert implements runtime.Store.
func (s *Store) Insert(ctx context.Context, recs []runtime.Record) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	var n int64
	err := sqlitedb.Tx(ctx, s.w, func(tx *sql.Tx) error {
		args := make([]any, 0, rowsPerInsert*nCols)
		for start := 0; start < len(recs); start += rowsPerInsert {
			chunk := recs[start:min(start+rowsPerInsert, len(recs))]
			args = args[:0]
			for i := range chunk {
				args = values(&chunk[i], args)
			}
			var res sql.Result
			var err error
			if len(chunk) == rowsPerInsert {
				res, err = tx.StmtContext(ctx, s.insert).ExecContext(ctx, args...)
			} else {
				res, err = tx.ExecContext(ctx, insertSQL(len(chunk)), args...)
			}
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: insert %d events: %w", len(recs), err)
	}
	return int(n), nil
}

// Get implements runtime.Store.
func (s *Store) Get(ctx context.Context, tenant, eventID string) (runtime.Record, error) {
	var (
		r                           runtime.Record
		kind                        string
		observed, received, expires int64
		signed                      sql.NullBool
	)
	err := s.r.QueryRowContext(ctx, `SELECT `+insertCols+` FROM runtime_events WHERE tenant = ? AND event_id = ?`, tenant, eventID).
		Scan(&r.Tenant, &r.EventID, &r.Node, &kind, &observed, &r.ImageDigest, &r.Namespace, &r.Pod, &r.Container,
			&signed, &r.SBOMReferrer, &r.BatchID, &received, &expires, &r.Payload)
	if errors.Is(err, sql.ErrNoRows) {
		return runtime.Record{}, runtime.ErrNotFound
	}
	if err != nil {
		return runtime.Record{}, fmt.Errorf("sqlitestore: get %q/%q: %w", tenant, eventID, err)
	}
	r.Kind = runtime.Kind(kind)
	r.ObservedAt, r.ReceivedAt, r.ExpiresAt = fromMillis(observed), fromMillis(received), fromMillis(expires)
	if signed.Valid {
		r.ImageSigned = &signed.Bool
	}
	return r, nil
}

// Count implements runtime.Store.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM runtime_events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: count: %w", err)
	}
	return n, nil
}

// Sweep implements runtime.Store.
func (s *Store) Sweep(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM runtime_events WHERE rowid IN
		(SELECT rowid FROM runtime_events WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`, millis(now), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: sweep: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: sweep: %w", err)
	}
	return int(n), nil
}

// Image implements runtime.Store. Its queries run in one read transaction, so the parts of
// the summary agree with each other.
func (s *Store) Image(ctx context.Context, q runtime.ImageQuery) (act runtime.ImageActivity, err error) {
	if q.MaxNames <= 0 {
		q.MaxNames = runtime.DefaultMaxNames
	}
	where := `image_digest = ? AND expires_at > ?`
	args := []any{q.Digest, millis(q.Now)}
	if q.Tenant != "" {
		where += ` AND tenant = ?`
		args = append(args, q.Tenant)
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return act, fmt.Errorf("sqlitestore: image %s: %w", q.Digest, err)
	}
	defer func() { _ = tx.Rollback() }()
	wrap := func(err error) error { return fmt.Errorf("sqlitestore: image %s: %w", q.Digest, err) }

	var first, last int64
	err = tx.QueryRowContext(ctx, `SELECT count(*), coalesce(min(observed_at), 0), coalesce(max(observed_at), 0),
		count(DISTINCT nullif(namespace, '')), count(DISTINCT node), coalesce(sum(namespace = ?), 0)
		FROM runtime_events WHERE `+where, append([]any{q.Namespace}, args...)...).
		Scan(&act.Events, &first, &last, &act.NamespaceCount, &act.NodeCount, &act.InNamespace)
	if err != nil {
		return act, wrap(err)
	}
	if q.Namespace == "" {
		act.InNamespace = 0
	}
	if act.Events == 0 {
		return runtime.ImageActivity{}, nil
	}
	act.FirstSeen, act.LastSeen = fromMillis(first), fromMillis(last)

	rows, err := tx.QueryContext(ctx, `SELECT kind, count(*) FROM runtime_events WHERE `+where+` GROUP BY kind`, args...)
	if err != nil {
		return act, wrap(err)
	}
	act.ByKind = map[runtime.Kind]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			rows.Close()
			return act, wrap(err)
		}
		act.ByKind[runtime.Kind(k)] = n
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return act, wrap(err)
	}
	if act.Namespaces, err = names(ctx, tx, `SELECT DISTINCT namespace FROM runtime_events WHERE `+where+
		` AND namespace <> '' ORDER BY namespace LIMIT ?`, append(args, q.MaxNames)); err != nil {
		return act, wrap(err)
	}
	if act.Nodes, err = names(ctx, tx, `SELECT DISTINCT node FROM runtime_events WHERE `+where+
		` ORDER BY node LIMIT ?`, append(args, q.MaxNames)); err != nil {
		return act, wrap(err)
	}
	var (
		signed   sql.NullBool
		p        runtime.ObservedPosture
		observed int64
	)
	err = tx.QueryRowContext(ctx, `SELECT image_signed, sbom_referrer, observed_at, node FROM runtime_events WHERE `+where+`
		AND (image_signed IS NOT NULL OR sbom_referrer <> '')
		ORDER BY observed_at DESC, received_at DESC, tenant DESC, event_id DESC LIMIT 1`, args...).
		Scan(&signed, &p.SBOMReferrer, &observed, &p.Node)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return act, wrap(err)
	default:
		if signed.Valid {
			p.ImageSigned = &signed.Bool
		}
		p.ObservedAt = fromMillis(observed)
		act.Posture = &p
	}
	return act, nil
}

func names(ctx context.Context, tx *sql.Tx, q string, args []any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
