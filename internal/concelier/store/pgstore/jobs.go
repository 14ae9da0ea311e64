package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

// StartJob implements store.Jobs.
func (s *Store) StartJob(ctx context.Context, j store.Job) (store.Job, error) {
	j, params, err := store.PrepareJob(j, s.now)
	if err == nil {
		var tag pgconn.CommandTag
		tag, err = s.pool.Exec(ctx, `INSERT INTO jobs (id, kind, trigger, params, started_at) VALUES ($1, $2, $3, $4::text::jsonb, $5)
			ON CONFLICT (id) DO NOTHING`, j.ID, j.Kind, j.Trigger, nullJSON(params), j.StartedAt)
		if err == nil && tag.RowsAffected() == 0 {
			err = fmt.Errorf("%w: job id %s exists", store.ErrConflict, j.ID)
		}
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
		var finished bool
		err = s.pool.QueryRow(ctx, `WITH u AS (
				UPDATE jobs SET finished_at = $2, outcome = $3, counts = $4::text::jsonb, error = $5
				WHERE id = $1 AND finished_at IS NULL RETURNING 1)
			SELECT EXISTS (SELECT 1 FROM u)`, id, s.now(), string(outcome), nullJSON(c), errText).Scan(&finished)
		if err == nil && !finished {
			// Not updated: unknown, or finished already.
			if _, gerr := s.GetJob(ctx, id); errors.Is(gerr, store.ErrNotFound) {
				err = store.ErrNotFound
			} else {
				err = fmt.Errorf("%w: already finished", store.ErrConflict)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	return nil
}

const jobCols = `id, kind, trigger, params::text, started_at, finished_at, outcome, counts::text, error`

func scanJob(row pgx.Row) (store.Job, error) {
	var j store.Job
	var params, counts, outcome *string
	var finished *time.Time
	if err := row.Scan(&j.ID, &j.Kind, &j.Trigger, &params, &j.StartedAt, &finished, &outcome, &counts, &j.Error); err != nil {
		return j, err
	}
	var err error
	if params != nil {
		if j.Params, err = store.CanonicalJSON([]byte(*params)); err != nil {
			return j, err
		}
	}
	if counts != nil {
		if j.Counts, err = store.CanonicalJSON([]byte(*counts)); err != nil {
			return j, err
		}
	}
	if outcome != nil {
		j.Outcome = store.JobOutcome(*outcome)
	}
	j.StartedAt = j.StartedAt.UTC()
	if finished != nil {
		j.FinishedAt = finished.UTC()
	}
	return j, nil
}

// GetJob implements store.Jobs.
func (s *Store) GetJob(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Job{}, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, nil
}

// ListJobs implements store.Jobs.
func (s *Store) ListJobs(ctx context.Context, kind string, limit int) ([]store.Job, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+jobCols+` FROM jobs WHERE $1 = '' OR kind = $1
		ORDER BY started_at DESC, id DESC LIMIT $2`, kind, limit)
	if err != nil {
		return nil, fmt.Errorf("list jobs %s: %w", kind, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Job, error) { return scanJob(row) })
	if err != nil {
		return nil, fmt.Errorf("list jobs %s: %w", kind, err)
	}
	return out, nil
}

// AcquireLock implements store.Jobs. One statement decides: the upsert's WHERE lets it replace
// only an expired lease or the caller's own, and ON CONFLICT serialises simultaneous callers.
func (s *Store) AcquireLock(ctx context.Context, kind, holder string, ttl time.Duration) (bool, error) {
	if holder == "" || ttl <= 0 {
		return false, fmt.Errorf("acquire lock %s: need a holder and a positive ttl", kind)
	}
	now := s.now()
	tag, err := s.pool.Exec(ctx, `INSERT INTO job_locks (kind, holder, acquired_at, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (kind) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
		WHERE job_locks.expires_at <= excluded.acquired_at OR job_locks.holder = excluded.holder`,
		kind, holder, now, ts(now.Add(ttl)))
	if err != nil {
		return false, fmt.Errorf("acquire lock %s: %w", kind, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseLock implements store.Jobs.
func (s *Store) ReleaseLock(ctx context.Context, kind, holder string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM job_locks WHERE kind = $1 AND holder = $2`, kind, holder)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("release lock %s by %s: %w", kind, holder, err)
	}
	return nil
}

// nullJSON passes absent JSON as NULL and present JSON as text.
func nullJSON(b []byte) *string {
	if b == nil {
		return nil
	}
	v := string(b)
	return &v
}
