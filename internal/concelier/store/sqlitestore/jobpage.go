package sqlitestore

import (
	"context"
	"fmt"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

var _ store.JobPager = (*Store)(nil)

// ListJobsBefore implements store.JobPager. The kind and cursor conditions are written out
// rather than made optional in one statement, so each form uses its index (jobs_by_kind,
// jobs_by_start).
func (s *Store) ListJobsBefore(ctx context.Context, kind string, c store.JobCursor, limit int) ([]store.Job, error) {
	var where []string
	var args []any
	if kind != "" {
		where, args = append(where, "kind = ?"), append(args, kind)
	}
	if !c.IsZero() {
		at := micros(c.StartedAt)
		where, args = append(where, "(started_at < ? OR (started_at = ? AND id < ?))"), append(args, at, at, c.ID)
	}
	q := `SELECT ` + jobCols + ` FROM jobs`
	for i, w := range where {
		if i == 0 {
			q += " WHERE " + w
		} else {
			q += " AND " + w
		}
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY started_at DESC, id DESC LIMIT ?`, append(args, limit)...)
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
