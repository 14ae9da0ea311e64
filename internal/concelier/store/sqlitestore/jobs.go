package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

// StartJob implements store.Jobs.
func (s *Store) StartJob(ctx context.Context, j store.Job) (store.Job, error) {
	j, params, err := store.PrepareJob(j, s.now)
	if err == nil {
		err = s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE id = ?`, j.ID).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("%w: job id %s exists", store.ErrConflict, j.ID)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, kind, trigger, params, started_at) VALUES (?, ?, ?, ?, ?)`,
				j.ID, j.Kind, j.Trigger, nullJSON(params), micros(j.StartedAt))
			return err
		})
	}
	if err != nil {
		return store.Job{}, fmt.Errorf("start job %s: %w", j.Kind, err)
	}
	return j, nil
}

// FinishJob implements store.Jobs.
func (s *Store) FinishJob(ctx context.Context, id string, outcome store.JobOutcome, counts json.RawMessage, errText string) error {
	c, err := store.PrepareFinish(outcome, counts)
	if err == nil {
		err = s.tx(ctx, func(tx *sql.Tx) error {
			var finished sql.NullInt64
			switch err := tx.QueryRowContext(ctx, `SELECT finished_at FROM jobs WHERE id = ?`, id).Scan(&finished); {
			case errors.Is(err, sql.ErrNoRows):
				return store.ErrNotFound
			case err != nil:
				return err
			case finished.Valid:
				return fmt.Errorf("%w: already finished", store.ErrConflict)
			}
			_, err := tx.ExecContext(ctx, `UPDATE jobs SET finished_at = ?, outcome = ?, counts = ?, error = ? WHERE id = ?`,
				s.now().UnixMicro(), string(outcome), nullJSON(c), errText, id)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	return nil
}

const jobCols = `id, kind, trigger, params, started_at, finished_at, outcome, counts, error`

func scanJob(row interface{ Scan(...any) error }) (store.Job, error) {
	var j store.Job
	var params, counts, outcome sql.NullString
	var started int64
	var finished sql.NullInt64
	if err := row.Scan(&j.ID, &j.Kind, &j.Trigger, &params, &started, &finished, &outcome, &counts, &j.Error); err != nil {
		return j, err
	}
	if params.Valid {
		j.Params = json.RawMessage(params.String)
	}
	if counts.Valid {
		j.Counts = json.RawMessage(counts.String)
	}
	j.Outcome = store.JobOutcome(outcome.String)
	j.StartedAt = fromMicros(started)
	if finished.Valid {
		j.FinishedAt = fromMicros(finished.Int64)
	}
	return j, nil
}

// GetJob implements store.Jobs.
func (s *Store) GetJob(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(s.r.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Job{}, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, nil
}

// ListJobs implements store.Jobs.
func (s *Store) ListJobs(ctx context.Context, kind string, limit int) ([]store.Job, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE ? = '' OR kind = ?
		ORDER BY started_at DESC, id DESC LIMIT ?`, kind, kind, limit)
	if err != nil {
		return nil, fmt.Errorf("list jobs %s: %w", kind, err)
	}
	defer rows.Close()
	var out []store.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list jobs %s: %w", kind, err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list jobs %s: %w", kind, err)
	}
	return out, nil
}

// AcquireLock implements store.Jobs. One statement decides: the upsert's WHERE lets it replace
// only an expired lease or the caller's own.
func (s *Store) AcquireLock(ctx context.Context, kind, holder string, ttl time.Duration) (bool, error) {
	if holder == "" || ttl <= 0 {
		return false, fmt.Errorf("acquire lock %s: need a holder and a positive ttl", kind)
	}
	now := s.now()
	res, err := s.w.ExecContext(ctx, `INSERT INTO job_locks (kind, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (kind) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
		WHERE job_locks.expires_at <= excluded.acquired_at OR job_locks.holder = excluded.holder`,
		kind, holder, micros(now), micros(now.Add(ttl)))
	if err != nil {
		return false, fmt.Errorf("acquire lock %s: %w", kind, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("acquire lock %s: %w", kind, err)
	}
	return n == 1, nil
}

// ReleaseLock implements store.Jobs.
func (s *Store) ReleaseLock(ctx context.Context, kind, holder string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM job_locks WHERE kind = ? AND holder = ?`, kind, holder)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("release lock %s by %s: %w", kind, holder, err)
	}
	return nil
}

// nullJSON stores absent JSON as NULL and present JSON as TEXT.
func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}
