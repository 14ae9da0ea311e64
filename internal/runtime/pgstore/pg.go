// Package pgstore is the PostgreSQL backend of the runtime event store (pgx/v5, pgxpool), for
// several Scanner.WebService replicas sharing one database. A batch is one INSERT … SELECT
// FROM unnest(…) ON CONFLICT DO NOTHING: one round trip whatever its size, idempotent by
// (tenant, event_id) across replicas, with rows in key order so that concurrent batches lock
// them in the same order and cannot deadlock.
//
// It owns its schema (embedded, numbered migrations tracked in runtime_schema_migrations) and
// nothing else; callers use runtime.Store. The table lives in the connection's search_path.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stellaops/stellaops/internal/runtime"
	"github.com/stellaops/stellaops/internal/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store implements runtime.Store on PostgreSQL.
type Store struct {
	pool     *pgxpool.Pool
	ownsPool bool
}

var _ runtime.Store = (*Store)(nil)

// Open connects to dsn (search_path may be set in it) and applies pending migrations. Close
// closes the pool.
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
	set := sqlmigrate.Set{Table: "runtime_schema_migrations", Lock: "stellaops.runtime", Migrations: ms}
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

const cols = `tenant, event_id, node, kind, observed_at, image_digest, namespace, pod, container,
	image_signed, sbom_referrer, batch_id, received_at, expires_at, payload`

const insertSQL = `INSERT INTO runtime_events (` + cols + `)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::boolean[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[], $15::bytea[])
	ON CONFLICT (tenant, event_id) DO NOTHING`

// Insert implements runtime.Store.
func (s *Store) Insert(ctx context.Context, recs []runtime.Record) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	order := make([]int, len(recs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := strings.Compare(recs[a].Tenant, recs[b].Tenant); c != 0 {
			return c
		}
		return strings.Compare(recs[a].EventID, recs[b].EventID)
	})
	n := len(recs)
	var (
		tenant, id, node, kind, digest, ns, pod, ctr, sbom, batch = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		observed, received, expires = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		signed                      = make([]*bool, n)
		payload                     = make([][]byte, n)
	)
	for i, j := range order {
		r := &recs[j]
		tenant[i], id[i], node[i], kind[i], digest[i], ns[i], pod[i], ctr[i], sbom[i], batch[i] =
			r.Tenant, r.EventID, r.Node, string(r.Kind), r.ImageDigest, r.Namespace, r.Pod, r.Container, r.SBOMReferrer, r.BatchID
		observed[i], received[i], expires[i] = r.ObservedAt, r.ReceivedAt, r.ExpiresAt
		signed[i], payload[i] = r.ImageSigned, r.Payload
	}
	tag, err := s.pool.Exec(ctx, insertSQL, tenant, id, node, kind, observed, digest, ns, pod, ctr, signed, sbom, batch,
		received, expires, payload)
	if err != nil {
		return 0, fmt.Errorf("pgstore: insert %d events: %w", len(recs), err)
	}
	return int(tag.RowsAffected()), nil
}

// Get implements runtime.Store.
func (s *Store) Get(ctx context.Context, tenant, eventID string) (runtime.Record, error) {
	var (
		r    runtime.Record
		kind string
	)
	err := s.pool.QueryRow(ctx, `SELECT `+cols+` FROM runtime_events WHERE tenant = $1 AND event_id = $2`, tenant, eventID).
		Scan(&r.Tenant, &r.EventID, &r.Node, &kind, &r.ObservedAt, &r.ImageDigest, &r.Namespace, &r.Pod, &r.Container,
			&r.ImageSigned, &r.SBOMReferrer, &r.BatchID, &r.ReceivedAt, &r.ExpiresAt, &r.Payload)
	if errors.Is(err, pgx.ErrNoRows) {
		return runtime.Record{}, runtime.ErrNotFound
	}
	if err != nil {
		return runtime.Record{}, fmt.Errorf("pgstore: get %q/%q: %w", tenant, eventID, err)
	}
	r.Kind = runtime.Kind(kind)
	r.ObservedAt, r.ReceivedAt, r.ExpiresAt = r.ObservedAt.UTC(), r.ReceivedAt.UTC(), r.ExpiresAt.UTC()
	return r, nil
}

// Count implements runtime.Store.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM runtime_events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count: %w", err)
	}
	return n, nil
}

// Sweep implements runtime.Store. Rows another replica's sweep holds are skipped, not waited
// for: that sweep deletes them.
func (s *Store) Sweep(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM runtime_events WHERE (tenant, event_id) IN
		(SELECT tenant, event_id FROM runtime_events WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		now, limit)
	if err != nil {
		return 0, fmt.Errorf("pgstore: sweep: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Image implements runtime.Store. Its queries run in one read-only repeatable-read
// transaction, so the parts of the summary agree with each other.
func (s *Store) Image(ctx context.Context, q runtime.ImageQuery) (act runtime.ImageActivity, err error) {
	if q.MaxNames <= 0 {
		q.MaxNames = runtime.DefaultMaxNames
	}
	where := `image_digest = $1 AND expires_at > $2`
	args := []any{q.Digest, q.Now}
	if q.Tenant != "" {
		where += ` AND tenant = $3`
		args = append(args, q.Tenant)
	}
	next := fmt.Sprintf("$%d", len(args)+1)
	wrap := func(err error) error { return fmt.Errorf("pgstore: image %s: %w", q.Digest, err) }
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var first, last *time.Time
		err := tx.QueryRow(ctx, `SELECT count(*), min(observed_at), max(observed_at),
			count(DISTINCT nullif(namespace, '')), count(DISTINCT node), coalesce(sum((namespace = `+next+`)::int), 0)
			FROM runtime_events WHERE `+where, append(args, q.Namespace)...).
			Scan(&act.Events, &first, &last, &act.NamespaceCount, &act.NodeCount, &act.InNamespace)
		if err != nil || act.Events == 0 {
			return err
		}
		act.FirstSeen, act.LastSeen = first.UTC(), last.UTC()
		rows, err := tx.Query(ctx, `SELECT kind, count(*) FROM runtime_events WHERE `+where+` GROUP BY kind`, args...)
		if err != nil {
			return err
		}
		type kc struct {
			Kind  string
			Count int
		}
		kinds, err := pgx.CollectRows(rows, pgx.RowToStructByPos[kc])
		if err != nil {
			return err
		}
		act.ByKind = make(map[runtime.Kind]int, len(kinds))
		for _, k := range kinds {
			act.ByKind[runtime.Kind(k.Kind)] = k.Count
		}
		if act.Namespaces, err = names(ctx, tx, `SELECT DISTINCT namespace FROM runtime_events WHERE `+where+
			` AND namespace <> '' ORDER BY namespace LIMIT `+next, append(args, q.MaxNames)); err != nil {
			return err
		}
		if act.Nodes, err = names(ctx, tx, `SELECT DISTINCT node FROM runtime_events WHERE `+where+
			` ORDER BY node LIMIT `+next, append(args, q.MaxNames)); err != nil {
			return err
		}
		var p runtime.ObservedPosture
		err = tx.QueryRow(ctx, `SELECT image_signed, sbom_referrer, observed_at, node FROM runtime_events WHERE `+where+`
			AND (image_signed IS NOT NULL OR sbom_referrer <> '')
			ORDER BY observed_at DESC, received_at DESC, tenant DESC, event_id DESC LIMIT 1`, args...).
			Scan(&p.ImageSigned, &p.SBOMReferrer, &p.ObservedAt, &p.Node)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return nil
		case err != nil:
			return err
		}
		p.ObservedAt = p.ObservedAt.UTC()
		act.Posture = &p
		return nil
	})
	if err != nil {
		return runtime.ImageActivity{}, wrap(err)
	}
	if q.Namespace == "" {
		act.InNamespace = 0
	}
	if act.Events == 0 {
		return runtime.ImageActivity{}, nil
	}
	return act, nil
}

func names(ctx context.Context, tx pgx.Tx, q string, args []any) ([]string, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if out == nil {
		out = []string{}
	}
	return out, err
}
