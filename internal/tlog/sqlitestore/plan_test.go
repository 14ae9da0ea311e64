package sqlitestore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/tlog"
)

// TestQueryPlans keeps the log's hot queries on indexes: a table scan would make every proof
// O(N), which no functional test notices on a small log.
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "tlog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	queries := map[string]struct {
		sql  string
		args []any
	}{
		"nodes":  {nodesQuery(3), []any{0, 1, 1, 0, 2, 0}},
		"lookup": {lookupQuery(2), []any{make([]byte, tlog.HashSize), make([]byte, tlog.HashSize)}},
		"size":   {sizeQuery, nil},
		"entry":  {`SELECT ` + entryCols + ` FROM tlog_entries WHERE log_index = ?`, []any{1}},
		"latest": {`SELECT * FROM tlog_tree_heads WHERE key_id = ? ORDER BY tree_size DESC LIMIT 1`, []any{"k"}},
	}
	for name, q := range queries {
		rows, err := s.r.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			// Scanning the VALUES list is fine; scanning a table (or its alias t) is not.
			if strings.HasPrefix(step, "SCAN tlog_") || step == "SCAN t" || strings.HasPrefix(step, "SCAN t ") {
				t.Errorf("%s scans a table:\n%s", name, strings.Join(plan, "\n"))
			}
		}
	}
}
