package pgstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

var _ store.JobPager = (*Store)(nil)

// ListJobsBefore implements store.JobPager. The row comparison (started_at, id) < (…) is one
// range of the jobs_by_kind / jobs_by_start index; ids compare bytewise (COLLATE "C"), as on
// SQLite.
func (s *Store) ListJobsBefore(ctx context.Context, kind string, c store.JobCursor, limit int) ([]store.Job, error) {
	q := `SELECT ` + jobCols + ` FROM jobs WHERE true`
	var args []any
	if kind != "" {
		args = append(args, kind)
		q += ` AND kind = $` + strconv.Itoa(len(args))
	}
	if !c.IsZero() {
		args = append(args, ts(c.StartedAt), c.ID)
		q += ` AND (started_at, id) < ($` + strconv.Itoa(len(args)-1) + `, $` + strconv.Itoa(len(args)) + `)`
	}
	args = append(args, limit)
	rows, err := s.pool.Query(ctx, q+` ORDER BY started_at DESC, id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs %s: %w", kind, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Job, error) { return scanJob(row) })
	if err != nil {
		return nil, fmt.Errorf("list jobs %s: %w", kind, err)
	}
	return out, nil
}
