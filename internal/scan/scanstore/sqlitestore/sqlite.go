// Package sqlitestore is the embedded backend of the scan store: one SQLite file (pure Go
// modernc.org/sqlite) opened through sqlitedb in WAL mode, with one writer connection whose
// transactions begin IMMEDIATE — so every fenced write is a check and a change under the
// database's single write lock, across goroutines and processes — and a pool of read-only
// connections for status reads and event streams.
//
// It owns its schema (embedded migrations tracked in scanstore_schema_migrations) and nothing
// else; callers use scanstore.Store.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stellaops/stellaops/internal/scan/scanstore"
	"github.com/stellaops/stellaops/internal/sqlitedb"
	"github.com/stellaops/stellaops/internal/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store implements scanstore.Store on SQLite.
type Store struct {
	w, r *sql.DB
	// known is prepared once: /layers/missing runs it on every call and must stay fast.
	known *sql.Stmt
}

var _ scanstore.Store = (*Store)(nil)

const knownQuery = `SELECT DISTINCT name FROM scanstore_layer_names
	WHERE fingerprint = ? AND name IN (SELECT value FROM json_each(?)) ORDER BY name`

// Open opens (creating if needed) the database at path and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	ms, err := sqlmigrate.List(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("scanstore sqlite: %w", err)
	}
	// synchronous NORMAL: in WAL mode a commit survives a crash of the process, and only a
	// power loss may drop the newest transactions — a scan then runs again, nothing is
	// inconsistent, and scans do not wait for an fsync per progress event.
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{BusyTimeout: 30 * time.Second, Synchronous: "NORMAL", Readers: 8,
		Migrations: sqlmigrate.Set{Table: "scanstore_schema_migrations", Lock: "stellaops.scanstore", Migrations: ms}, Now: time.Now})
	if err != nil {
		return nil, fmt.Errorf("scanstore sqlite: %w", err)
	}
	st, err := db.R.PrepareContext(ctx, knownQuery)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("scanstore sqlite: prepare: %w", err), db.Close())
	}
	return &Store{w: db.W, r: db.R, known: st}, nil
}

// Close closes the statement and both pools.
func (s *Store) Close() error {
	if err := errors.Join(s.known.Close(), s.r.Close(), s.w.Close()); err != nil {
		return fmt.Errorf("scanstore sqlite: close: %w", err)
	}
	return nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nullMicros stores the zero time as NULL.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromNull(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
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

const scanCols = `id, kind, image_reference, image_requested, request, status, run, attempt, fence, lease_until,
	created_at, updated_at, started_at, finished_at, failure_reason, image_digest, outcome, last_seq`

type scanner interface{ Scan(dest ...any) error }

func scanScan(row scanner) (scanstore.Scan, error) {
	var (
		sc                    scanstore.Scan
		kind, status, request string
		lease, created, upd   int64
		started, finished     sql.NullInt64
		outcome               sql.NullString
	)
	err := row.Scan(&sc.ID, &kind, &sc.Image.Reference, &sc.Image.Digest, &request, &status, &sc.Run, &sc.Attempt, &sc.Fence,
		&lease, &created, &upd, &started, &finished, &sc.FailureReason, &sc.ImageDigest, &outcome, &sc.LastSequence)
	if errors.Is(err, sql.ErrNoRows) {
		return sc, scanstore.ErrNotFound
	}
	if err != nil {
		return sc, err
	}
	sc.Kind, sc.Status, sc.Request = scanstore.Kind(kind), scanstore.Status(status), []byte(request)
	sc.LeaseUntil, sc.CreatedAt, sc.UpdatedAt = fromMicros(lease), fromMicros(created), fromMicros(upd)
	sc.StartedAt, sc.FinishedAt = fromNull(started), fromNull(finished)
	if outcome.Valid {
		sc.Outcome = []byte(outcome.String)
	}
	return sc, nil
}

func getScan(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (scanstore.Scan, error) {
	return scanScan(q.QueryRowContext(ctx, `SELECT `+scanCols+` FROM scanstore_scans WHERE id = ?`, id))
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE), committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return sqlitedb.Tx(ctx, s.w, fn)
}

// appendEvents numbers evs after the scan's last sequence and inserts them; the caller has
// checked the scan and holds the write lock.
func appendEvents(ctx context.Context, tx *sql.Tx, id string, evs []scanstore.Event) error {
	var last int64
	if err := tx.QueryRowContext(ctx, `UPDATE scanstore_scans SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq`,
		len(evs), id).Scan(&last); err != nil {
		return err
	}
	seq := last - int64(len(evs))
	for _, ev := range evs {
		seq++
		if _, err := tx.ExecContext(ctx, `INSERT INTO scanstore_events (scan_id, seq, state, message, ts, correlation_id, data)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, seq, string(ev.State), ev.Message, micros(ev.Time), ev.CorrelationID, data(ev.Data)); err != nil {
			return err
		}
	}
	return nil
}

func wrap(op, id string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("scanstore sqlite: %s %q: %w", op, id, err)
}

// Create implements scanstore.Store.
func (s *Store) Create(ctx context.Context, sc scanstore.Scan, ev scanstore.Event) (scanstore.Scan, bool, error) {
	var out scanstore.Scan
	created := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO scanstore_scans (`+scanCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (id) DO NOTHING`,
			sc.ID, string(sc.Kind), sc.Image.Reference, sc.Image.Digest, data(sc.Request), string(sc.Status), sc.Run, sc.Attempt,
			sc.Fence, micros(sc.LeaseUntil), micros(sc.CreatedAt), micros(sc.UpdatedAt), nullMicros(sc.StartedAt),
			nullMicros(sc.FinishedAt), sc.FailureReason, sc.ImageDigest, nullText(sc.Outcome))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
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
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE scanstore_scans SET status = 'Pending', run = run + 1, attempt = 0, fence = '',
			lease_until = ?, updated_at = ?, started_at = NULL, finished_at = NULL, failure_reason = '', image_digest = '', outcome = NULL
			WHERE id = ? AND status IN ('Succeeded', 'Failed', 'Cancelled')`, micros(leaseUntil), micros(now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			started = true
			if _, err := tx.ExecContext(ctx, `DELETE FROM scanstore_results WHERE scan_id = ?`, id); err != nil {
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
	sc, err := getScan(ctx, s.r, id)
	return sc, wrap("get", id, err)
}

// Result implements scanstore.Store.
func (s *Store) Result(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	err := s.r.QueryRowContext(ctx, `SELECT result FROM scanstore_results WHERE scan_id = ?`, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		err = scanstore.ErrNotFound
	}
	return b, wrap("result", id, err)
}

// LatestByImageDigest implements scanstore.Store.
func (s *Store) LatestByImageDigest(ctx context.Context, digest string) (scanstore.Scan, error) {
	sc, err := scanScan(s.r.QueryRowContext(ctx, `SELECT `+scanCols+` FROM scanstore_scans
		WHERE image_digest = ? AND status = 'Succeeded' ORDER BY finished_at DESC, id LIMIT 1`, digest))
	return sc, wrap("latest by digest", digest, err)
}

// Claim implements scanstore.Store.
func (s *Store) Claim(ctx context.Context, c scanstore.Claim, ev scanstore.Event) (scanstore.Scan, error) {
	var out scanstore.Scan
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE scanstore_scans SET status = 'Running', fence = ?, attempt = ?, lease_until = ?,
			started_at = coalesce(started_at, ?), updated_at = CASE WHEN status = 'Running' THEN updated_at ELSE ? END
			WHERE id = ? AND status IN ('Pending', 'Running') AND run = ? AND attempt < ?`,
			c.Fence, c.Attempt, micros(c.LeaseUntil), micros(c.Now), micros(c.Now), c.ID, c.Run, c.Attempt)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
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

// fenced runs change (an UPDATE whose WHERE ends in "AND id = ? AND fence = ? AND status =
// 'Running'", args before those three) and then appends evs, or reports ErrFenceLost.
func (s *Store) fenced(ctx context.Context, id, fence string, evs []scanstore.Event, change string, args ...any) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if fence == "" {
			return scanstore.ErrFenceLost
		}
		res, err := tx.ExecContext(ctx, change, append(args, id, fence)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
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
	err := s.fenced(ctx, id, fence, nil, `UPDATE scanstore_scans SET lease_until = ?
		WHERE id = ? AND fence = ? AND status = 'Running'`, micros(until))
	if err != nil && !errors.Is(err, scanstore.ErrFenceLost) {
		return scanstore.Scan{}, wrap("heartbeat", id, err)
	}
	sc, gerr := getScan(ctx, s.w, id)
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
	// A no-op UPDATE checks the fence under the write lock.
	return wrap("append", id, s.fenced(ctx, id, fence, evs, `UPDATE scanstore_scans SET fence = fence
		WHERE id = ? AND fence = ? AND status = 'Running'`))
}

// Release implements scanstore.Store.
func (s *Store) Release(ctx context.Context, id, fence string, now time.Time, ev scanstore.Event) error {
	return wrap("release", id, s.fenced(ctx, id, fence, []scanstore.Event{ev}, `UPDATE scanstore_scans
		SET status = 'Pending', fence = '', updated_at = ? WHERE id = ? AND fence = ? AND status = 'Running'`, micros(now)))
}

// Finish implements scanstore.Store.
func (s *Store) Finish(ctx context.Context, f scanstore.Finish, ev scanstore.Event) error {
	if f.Status != scanstore.StatusSucceeded && f.Status != scanstore.StatusFailed {
		return fmt.Errorf("scanstore sqlite: finish %q: status %q is not Succeeded or Failed", f.ID, f.Status)
	}
	return wrap("finish", f.ID, s.tx(ctx, func(tx *sql.Tx) error {
		if f.Fence == "" {
			return scanstore.ErrFenceLost
		}
		res, err := tx.ExecContext(ctx, `UPDATE scanstore_scans SET status = ?, fence = '', updated_at = ?, finished_at = ?,
			failure_reason = ?, image_digest = ?, outcome = ? WHERE id = ? AND fence = ? AND status = 'Running'`,
			string(f.Status), micros(f.Now), micros(f.Now), f.FailureReason, f.ImageDigest, nullText(f.Outcome), f.ID, f.Fence)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			if _, err := getScan(ctx, tx, f.ID); err != nil {
				return err
			}
			return scanstore.ErrFenceLost
		}
		if f.Status == scanstore.StatusSucceeded && f.Result != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO scanstore_results (scan_id, result) VALUES (?, ?)
				ON CONFLICT (scan_id) DO UPDATE SET result = excluded.result`, f.ID, f.Result); err != nil {
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
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE scanstore_scans SET status = 'Cancelled', fence = '', updated_at = ?, finished_at = ?
			WHERE id = ? AND status IN ('Pending', 'Running')`, micros(now), micros(now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
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
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q := `UPDATE scanstore_scans SET status = 'Failed', fence = '', updated_at = ?, finished_at = ?, failure_reason = ?
			WHERE id = ? AND status IN ('Pending', 'Running') AND run = ?`
		args := []any{micros(a.Now), micros(a.Now), a.Reason, a.ID, a.Run}
		if a.Expired {
			q += ` AND lease_until < ?`
			args = append(args, micros(a.Now))
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			done = true
			return appendEvents(ctx, tx, a.ID, []scanstore.Event{ev})
		}
		return nil
	})
	return done, wrap("abandon", a.ID, err)
}

// Expired implements scanstore.Store.
func (s *Store) Expired(ctx context.Context, kind scanstore.Kind, now time.Time, limit int) ([]scanstore.Scan, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+scanCols+` FROM scanstore_scans
		WHERE kind = ? AND status IN ('Pending', 'Running') AND lease_until < ? ORDER BY lease_until, id LIMIT ?`,
		string(kind), micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("scanstore sqlite: expired: %w", err)
	}
	defer rows.Close()
	var out []scanstore.Scan
	for rows.Next() {
		sc, err := scanScan(rows)
		if err != nil {
			return nil, fmt.Errorf("scanstore sqlite: expired: %w", err)
		}
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scanstore sqlite: expired: %w", err)
	}
	return out, nil
}

// Events implements scanstore.Store.
func (s *Store) Events(ctx context.Context, id string, after int64, limit int) ([]scanstore.Event, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, state, message, ts, correlation_id, data FROM scanstore_events
		WHERE scan_id = ? AND seq > ? ORDER BY seq LIMIT ?`, id, after, limit)
	if err != nil {
		return nil, wrap("events", id, err)
	}
	defer rows.Close()
	var out []scanstore.Event
	for rows.Next() {
		ev := scanstore.Event{ScanID: id}
		var state, d string
		var ts int64
		if err := rows.Scan(&ev.Sequence, &state, &ev.Message, &ts, &ev.CorrelationID, &d); err != nil {
			return nil, wrap("events", id, err)
		}
		ev.State, ev.Time, ev.Data = scanstore.Status(state), fromMicros(ts), []byte(d)
		out = append(out, ev)
	}
	return out, wrap("events", id, rows.Err())
}

// GetLayer implements scanstore.Store.
func (s *Store) GetLayer(ctx context.Context, fingerprint, diffID string, now time.Time) ([]byte, error) {
	var v []byte
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE scanstore_layers SET used_at = max(used_at, ?)
			WHERE fingerprint = ? AND diff_id = ? RETURNING value`, micros(now), fingerprint, diffID).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && v == nil) {
			return scanstore.ErrNotFound
		}
		return err
	})
	return v, wrap("get layer", diffID, err)
}

// PutLayer implements scanstore.Store.
func (s *Store) PutLayer(ctx context.Context, fingerprint, diffID string, value []byte, now time.Time) error {
	return wrap("put layer", diffID, s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO scanstore_layers (fingerprint, diff_id, value, used_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (fingerprint, diff_id) DO UPDATE SET value = coalesce(excluded.value, value), used_at = max(used_at, excluded.used_at)`,
			fingerprint, diffID, value, micros(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO scanstore_layer_names (fingerprint, name, diff_id) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, fingerprint, diffID, diffID)
		return err
	}))
}

// NameLayers implements scanstore.Store.
func (s *Store) NameLayers(ctx context.Context, fingerprint string, names []scanstore.LayerName, now time.Time) error {
	names = scanstore.SortedLayerNames(names)
	return wrap("name layers", fingerprint, s.tx(ctx, func(tx *sql.Tx) error {
		for _, n := range names {
			if n.DiffID == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO scanstore_layers (fingerprint, diff_id, value, used_at) VALUES (?, ?, NULL, ?)
				ON CONFLICT (fingerprint, diff_id) DO UPDATE SET used_at = max(used_at, excluded.used_at)`,
				fingerprint, n.DiffID, micros(now)); err != nil {
				return err
			}
			for _, name := range []string{n.DiffID, n.Digest} {
				if name == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO scanstore_layer_names (fingerprint, name, diff_id) VALUES (?, ?, ?)
					ON CONFLICT (fingerprint, name) DO UPDATE SET diff_id = excluded.diff_id`, fingerprint, name, n.DiffID); err != nil {
					return err
				}
			}
		}
		return nil
	}))
}

// KnownLayers implements scanstore.Store.
func (s *Store) KnownLayers(ctx context.Context, fingerprint string, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	arr, err := json.Marshal(names)
	if err != nil {
		return nil, fmt.Errorf("scanstore sqlite: known layers: %w", err)
	}
	rows, err := s.known.QueryContext(ctx, fingerprint, string(arr))
	if err != nil {
		return nil, fmt.Errorf("scanstore sqlite: known layers: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("scanstore sqlite: known layers: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scanstore sqlite: known layers: %w", err)
	}
	return out, nil
}

// PruneLayers implements scanstore.Store.
func (s *Store) PruneLayers(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM scanstore_layers WHERE used_at < ?`, micros(before))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `DELETE FROM scanstore_layer_names WHERE NOT EXISTS (SELECT 1 FROM scanstore_layers l
			WHERE l.fingerprint = scanstore_layer_names.fingerprint AND l.diff_id = scanstore_layer_names.diff_id)`)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("scanstore sqlite: prune layers: %w", err)
	}
	return int(n), nil
}
