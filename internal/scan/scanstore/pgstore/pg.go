// Package pgstore is the PostgreSQL backend of the scan store (pgx/v5), for replicas sharing
// one database. Every fenced write is a single conditional UPDATE on the scan's row, so the
// row lock orders competing deliveries and the loser's WHERE no longer matches; event numbers
// are taken from the same row inside the same transaction, so they never repeat or skip.
//
// It owns its schema (embedded migrations tracked in scanstore_schema_migrations, serialised
// across processes by an advisory lock) and nothing else; callers use scanstore.Store. Tables
// live in the connection's search_path.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stellaops/stellaops/internal/scan/scanstore"
	"github.com/stellaops/stellaops/internal/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store implements scanstore.Store on PostgreSQL.
type Store struct {
	pool     *pgxpool.Pool
	ownsPool bool
}

var _ scanstore.Store = (*Store)(nil)

// Open connects to dsn and applies pending migrations. Close closes the pool.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s, err := sqlmigrate.OpenPostgres(ctx, dsn, "scanstore pg", New)
	if err != nil {
		return nil, err
	}
	s.ownsPool = true
	return s, nil
}

// New uses pool (which stays the caller's) and applies pending migrations.
func New(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	ms, err := sqlmigrate.List(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("scanstore pg: %w", err)
	}
	set := sqlmigrate.Set{Table: "scanstore_schema_migrations", Lock: "stellaops.scanstore", Migrations: ms}
	if err := set.ApplyPostgres(ctx, pool, time.Now); err != nil {
		return nil, fmt.Errorf("scanstore pg: %w", err)
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

func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func nullText(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

func data(b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	return string(b)
}

func wrap(op, id string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("scanstore pg: %s %q: %w", op, id, err)
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

const scanCols = `id, kind, image_reference, image_requested, request, status, run, attempt, fence, lease_until,
	created_at, updated_at, started_at, finished_at, failure_reason, image_digest, outcome, last_seq`

func scanScan(row pgx.Row) (scanstore.Scan, error) {
	var (
		sc                    scanstore.Scan
		kind, status, request string
		started, finished     *time.Time
		outcome               *string
	)
	err := row.Scan(&sc.ID, &kind, &sc.Image.Reference, &sc.Image.Digest, &request, &status, &sc.Run, &sc.Attempt, &sc.Fence,
		&sc.LeaseUntil, &sc.CreatedAt, &sc.UpdatedAt, &started, &finished, &sc.FailureReason, &sc.ImageDigest, &outcome, &sc.LastSequence)
	if errors.Is(err, pgx.ErrNoRows) {
		return sc, scanstore.ErrNotFound
	}
	if err != nil {
		return sc, err
	}
	sc.Kind, sc.Status, sc.Request = scanstore.Kind(kind), scanstore.Status(status), []byte(request)
	sc.LeaseUntil, sc.CreatedAt, sc.UpdatedAt = sc.LeaseUntil.UTC(), sc.CreatedAt.UTC(), sc.UpdatedAt.UTC()
	sc.StartedAt, sc.FinishedAt = fromNull(started), fromNull(finished)
	if outcome != nil {
		sc.Outcome = []byte(*outcome)
	}
	return sc, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func getScan(ctx context.Context, q querier, id string) (scanstore.Scan, error) {
	return scanScan(q.QueryRow(ctx, `SELECT `+scanCols+` FROM scanstore_scans WHERE id = $1`, id))
}

// appendEvents numbers evs after the scan's last sequence, taken from the scan's row, which
// the transaction locks until it ends.
func appendEvents(ctx context.Context, tx pgx.Tx, id string, evs []scanstore.Event) error {
	var last int64
	if err := tx.QueryRow(ctx, `UPDATE scanstore_scans SET last_seq = last_seq + $1 WHERE id = $2 RETURNING last_seq`,
		len(evs), id).Scan(&last); err != nil {
		return err
	}
	seq := last - int64(len(evs))
	b := &pgx.Batch{}
	for _, ev := range evs {
		seq++
		b.Queue(`INSERT INTO scanstore_events (scan_id, seq, state, message, ts, correlation_id, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, seq, string(ev.State), ev.Message, ts(ev.Time), ev.CorrelationID, data(ev.Data))
	}
	return tx.SendBatch(ctx, b).Close()
}

// Create implements scanstore.Store.
func (s *Store) Create(ctx context.Context, sc scanstore.Scan, ev scanstore.Event) (scanstore.Scan, bool, error) {
	var out scanstore.Scan
	created := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO scanstore_scans (`+scanCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 0) ON CONFLICT (id) DO NOTHING`,
			sc.ID, string(sc.Kind), sc.Image.Reference, sc.Image.Digest, data(sc.Request), string(sc.Status), sc.Run, sc.Attempt,
			sc.Fence, ts(sc.LeaseUntil), ts(sc.CreatedAt), ts(sc.UpdatedAt), nullTS(sc.StartedAt), nullTS(sc.FinishedAt),
			sc.FailureReason, sc.ImageDigest, nullText(sc.Outcome))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			created = true
			if err := appendEvents(ctx, tx, sc.ID, []scanstore.Event{ev}); err != nil {
				return err
			}
		}
		out, err = getScan(ctx, tx, sc.ID)
		return err
	})
	return out, created, wrap("create", sc.ID, err)
}

// Rerun implements scanstore.Store.
func (s *Store) Rerun(ctx context.Context, id string, now, leaseUntil time.Time, ev scanstore.Event) (scanstore.Scan, bool, error) {
	var out scanstore.Scan
	started := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE scanstore_scans SET status = 'Pending', run = run + 1, attempt = 0, fence = '',
			lease_until = $1, updated_at = $2, started_at = NULL, finished_at = NULL, failure_reason = '', image_digest = '', outcome = NULL
			WHERE id = $3 AND status IN ('Succeeded', 'Failed', 'Cancelled')`, ts(leaseUntil), ts(now), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			started = true
			if _, err := tx.Exec(ctx, `DELETE FROM scanstore_results WHERE scan_id = $1`, id); err != nil {
				return err
			}
			if err := appendEvents(ctx, tx, id, []scanstore.Event{ev}); err != nil {
				return err
			}
		}
		out, err = getScan(ctx, tx, id)
		return err
	})
	return out, started, wrap("rerun", id, err)
}

// Get implements scanstore.Store.
func (s *Store) Get(ctx context.Context, id string) (scanstore.Scan, error) {
	sc, err := getScan(ctx, s.pool, id)
	return sc, wrap("get", id, err)
}

// Result implements scanstore.Store.
func (s *Store) Result(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT result FROM scanstore_results WHERE scan_id = $1`, id).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		err = scanstore.ErrNotFound
	}
	return b, wrap("result", id, err)
}

// LatestByImageDigest implements scanstore.Store.
func (s *Store) LatestByImageDigest(ctx context.Context, digest string) (scanstore.Scan, error) {
	sc, err := scanScan(s.pool.QueryRow(ctx, `SELECT `+scanCols+` FROM scanstore_scans
		WHERE image_digest = $1 AND status = 'Succeeded' ORDER BY finished_at DESC, id LIMIT 1`, digest))
	return sc, wrap("latest by digest", digest, err)
}

// Claim implements scanstore.Store.
func (s *Store) Claim(ctx context.Context, c scanstore.Claim, ev scanstore.Event) (scanstore.Scan, error) {
	var out scanstore.Scan
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE scanstore_scans SET status = 'Running', fence = $1, attempt = $2, lease_until = $3,
			started_at = coalesce(started_at, $4), updated_at = CASE WHEN status = 'Running' THEN updated_at ELSE $4 END
			WHERE id = $5 AND status IN ('Pending', 'Running') AND run = $6 AND attempt < $2`,
			c.Fence, c.Attempt, ts(c.LeaseUntil), ts(c.Now), c.ID, c.Run)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			if _, err := getScan(ctx, tx, c.ID); err != nil {
				return err
			}
			return scanstore.ErrNotClaimable
		}
		if err := appendEvents(ctx, tx, c.ID, []scanstore.Event{ev}); err != nil {
			return err
		}
		out, err = getScan(ctx, tx, c.ID)
		return err
	})
	return out, wrap("claim", c.ID, err)
}

// fenced runs change, an UPDATE whose parameters are args followed by the id and the fence
// (the last two placeholders), then appends evs; or reports ErrFenceLost.
func (s *Store) fenced(ctx context.Context, id, fence string, evs []scanstore.Event, change string, args ...any) error {
	if fence == "" {
		return scanstore.ErrFenceLost
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, change, append(args, id, fence)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			if _, err := getScan(ctx, tx, id); err != nil {
				return err
			}
			return scanstore.ErrFenceLost
		}
		if len(evs) == 0 {
			return nil
		}
		return appendEvents(ctx, tx, id, evs)
	})
}

// Heartbeat implements scanstore.Store.
func (s *Store) Heartbeat(ctx context.Context, id, fence string, until time.Time) (scanstore.Scan, error) {
	err := s.fenced(ctx, id, fence, nil, `UPDATE scanstore_scans SET lease_until = $1
		WHERE id = $2 AND fence = $3 AND status = 'Running'`, ts(until))
	if err != nil && !errors.Is(err, scanstore.ErrFenceLost) {
		return scanstore.Scan{}, wrap("heartbeat", id, err)
	}
	sc, gerr := getScan(ctx, s.pool, id)
	if gerr != nil {
		return sc, wrap("heartbeat", id, gerr)
	}
	return sc, wrap("heartbeat", id, err)
}

// Append implements scanstore.Store.
func (s *Store) Append(ctx context.Context, id, fence string, evs []scanstore.Event) error {
	if len(evs) == 0 {
		return nil
	}
	// The no-op UPDATE checks the fence and locks the row for the numbering.
	return wrap("append", id, s.fenced(ctx, id, fence, evs, `UPDATE scanstore_scans SET fence = fence
		WHERE id = $1 AND fence = $2 AND status = 'Running'`))
}

// Release implements scanstore.Store.
func (s *Store) Release(ctx context.Context, id, fence string, now time.Time, ev scanstore.Event) error {
	return wrap("release", id, s.fenced(ctx, id, fence, []scanstore.Event{ev}, `UPDATE scanstore_scans
		SET status = 'Pending', fence = '', updated_at = $1 WHERE id = $2 AND fence = $3 AND status = 'Running'`, ts(now)))
}

// Finish implements scanstore.Store.
func (s *Store) Finish(ctx context.Context, f scanstore.Finish, ev scanstore.Event) error {
	if f.Status != scanstore.StatusSucceeded && f.Status != scanstore.StatusFailed {
		return fmt.Errorf("scanstore pg: finish %q: status %q is not Succeeded or Failed", f.ID, f.Status)
	}
	if f.Fence == "" {
		return wrap("finish", f.ID, scanstore.ErrFenceLost)
	}
	return wrap("finish", f.ID, s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE scanstore_scans SET status = $1, fence = '', updated_at = $2, finished_at = $2,
			failure_reason = $3, image_digest = $4, outcome = $5 WHERE id = $6 AND fence = $7 AND status = 'Running'`,
			string(f.Status), ts(f.Now), f.FailureReason, f.ImageDigest, nullText(f.Outcome), f.ID, f.Fence)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			if _, err := getScan(ctx, tx, f.ID); err != nil {
				return err
			}
			return scanstore.ErrFenceLost
		}
		if f.Status == scanstore.StatusSucceeded && f.Result != nil {
			if _, err := tx.Exec(ctx, `INSERT INTO scanstore_results (scan_id, result) VALUES ($1, $2)
				ON CONFLICT (scan_id) DO UPDATE SET result = EXCLUDED.result`, f.ID, f.Result); err != nil {
				return err
			}
		}
		return appendEvents(ctx, tx, f.ID, []scanstore.Event{ev})
	}))
}

// Cancel implements scanstore.Store.
func (s *Store) Cancel(ctx context.Context, id string, now time.Time, ev scanstore.Event) (scanstore.Scan, bool, error) {
	var out scanstore.Scan
	cancelled := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE scanstore_scans SET status = 'Cancelled', fence = '', updated_at = $1, finished_at = $1
			WHERE id = $2 AND status IN ('Pending', 'Running')`, ts(now), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			cancelled = true
			if err := appendEvents(ctx, tx, id, []scanstore.Event{ev}); err != nil {
				return err
			}
		}
		out, err = getScan(ctx, tx, id)
		return err
	})
	return out, cancelled, wrap("cancel", id, err)
}

// Abandon implements scanstore.Store.
func (s *Store) Abandon(ctx context.Context, a scanstore.Abandon, ev scanstore.Event) (bool, error) {
	done := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE scanstore_scans SET status = 'Failed', fence = '', updated_at = $1, finished_at = $1,
			failure_reason = $2 WHERE id = $3 AND status IN ('Pending', 'Running') AND run = $4 AND (NOT $5 OR lease_until < $1)`,
			ts(a.Now), a.Reason, a.ID, a.Run, a.Expired)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			done = true
			return appendEvents(ctx, tx, a.ID, []scanstore.Event{ev})
		}
		return nil
	})
	return done, wrap("abandon", a.ID, err)
}

// Expired implements scanstore.Store.
func (s *Store) Expired(ctx context.Context, kind scanstore.Kind, now time.Time, limit int) ([]scanstore.Scan, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+scanCols+` FROM scanstore_scans
		WHERE kind = $1 AND status IN ('Pending', 'Running') AND lease_until < $2 ORDER BY lease_until, id LIMIT $3`,
		string(kind), ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("scanstore pg: expired: %w", err)
	}
	defer rows.Close()
	var out []scanstore.Scan
	for rows.Next() {
		sc, err := scanScan(rows)
		if err != nil {
			return nil, fmt.Errorf("scanstore pg: expired: %w", err)
		}
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scanstore pg: expired: %w", err)
	}
	return out, nil
}

// Events implements scanstore.Store.
func (s *Store) Events(ctx context.Context, id string, after int64, limit int) ([]scanstore.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, state, message, ts, correlation_id, data FROM scanstore_events
		WHERE scan_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, id, after, limit)
	if err != nil {
		return nil, wrap("events", id, err)
	}
	defer rows.Close()
	var out []scanstore.Event
	for rows.Next() {
		ev := scanstore.Event{ScanID: id}
		var state, d string
		if err := rows.Scan(&ev.Sequence, &state, &ev.Message, &ev.Time, &ev.CorrelationID, &d); err != nil {
			return nil, wrap("events", id, err)
		}
		ev.State, ev.Time, ev.Data = scanstore.Status(state), ev.Time.UTC(), []byte(d)
		out = append(out, ev)
	}
	return out, wrap("events", id, rows.Err())
}

// GetLayer implements scanstore.Store.
func (s *Store) GetLayer(ctx context.Context, fingerprint, diffID string, now time.Time) ([]byte, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `UPDATE scanstore_layers SET used_at = greatest(used_at, $1)
		WHERE fingerprint = $2 AND diff_id = $3 RETURNING value`, ts(now), fingerprint, diffID).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && v == nil) {
		err = scanstore.ErrNotFound
	}
	return v, wrap("get layer", diffID, err)
}

// PutLayer implements scanstore.Store.
func (s *Store) PutLayer(ctx context.Context, fingerprint, diffID string, value []byte, now time.Time) error {
	return wrap("put layer", diffID, s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO scanstore_layers (fingerprint, diff_id, value, used_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (fingerprint, diff_id) DO UPDATE SET value = coalesce(EXCLUDED.value, scanstore_layers.value),
				used_at = greatest(scanstore_layers.used_at, EXCLUDED.used_at)`, fingerprint, diffID, value, ts(now)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO scanstore_layer_names (fingerprint, name, diff_id) VALUES ($1, $2, $2)
			ON CONFLICT DO NOTHING`, fingerprint, diffID)
		return err
	}))
}

// NameLayers implements scanstore.Store.
func (s *Store) NameLayers(ctx context.Context, fingerprint string, names []scanstore.LayerName, now time.Time) error {
	// One order for every writer, so two replicas naming the same layers cannot deadlock.
	names = scanstore.SortedLayerNames(names)
	return wrap("name layers", fingerprint, s.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, n := range names {
			if n.DiffID == "" {
				continue
			}
			b.Queue(`INSERT INTO scanstore_layers (fingerprint, diff_id, value, used_at) VALUES ($1, $2, NULL, $3)
				ON CONFLICT (fingerprint, diff_id) DO UPDATE SET used_at = greatest(scanstore_layers.used_at, EXCLUDED.used_at)`,
				fingerprint, n.DiffID, ts(now))
			for _, name := range []string{n.DiffID, n.Digest} {
				if name != "" {
					b.Queue(`INSERT INTO scanstore_layer_names (fingerprint, name, diff_id) VALUES ($1, $2, $3)
						ON CONFLICT (fingerprint, name) DO UPDATE SET diff_id = EXCLUDED.diff_id`, fingerprint, name, n.DiffID)
				}
			}
		}
		return tx.SendBatch(ctx, b).Close()
	}))
}

// KnownLayers implements scanstore.Store.
func (s *Store) KnownLayers(ctx context.Context, fingerprint string, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT name FROM scanstore_layer_names
		WHERE fingerprint = $1 AND name = ANY($2) ORDER BY name`, fingerprint, names)
	if err != nil {
		return nil, fmt.Errorf("scanstore pg: known layers: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("scanstore pg: known layers: %w", err)
	}
	return out, nil
}

// PruneLayers implements scanstore.Store.
func (s *Store) PruneLayers(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM scanstore_layers WHERE used_at < $1`, ts(before))
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM scanstore_layer_names n WHERE NOT EXISTS (SELECT 1 FROM scanstore_layers l
			WHERE l.fingerprint = n.fingerprint AND l.diff_id = n.diff_id)`)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("scanstore pg: prune layers: %w", err)
	}
	return int(n), nil
}
