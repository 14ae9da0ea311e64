package sqlitestore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestQueryPlans keeps the hot lookups on indexes: a table scan would make every token check
// O(revocations), which no functional test notices on a small table.
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "authority.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	queries := map[string]struct {
		sql  string
		args []any
		want string // a step the plan must contain
	}{
		"is revoked": {isRevokedQuery, []any{"jti"}, "SEARCH authority_revocations USING PRIMARY KEY (jti=?)"},
		"client":     {`SELECT ` + clientCols + ` FROM authority_clients WHERE id = ?`, []any{"c"}, "SEARCH authority_clients USING PRIMARY KEY (id=?)"},
		"user":       {`SELECT ` + userCols + ` FROM authority_users WHERE username = ?`, []any{"u"}, "SEARCH authority_users USING PRIMARY KEY (username=?)"},
		"audit page": {`SELECT seq FROM authority_audit WHERE seq > ? ORDER BY seq LIMIT ?`, []any{0, 10}, "SEARCH authority_audit USING INTEGER PRIMARY KEY (rowid>?)"},
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
		found := false
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN authority_") {
				t.Errorf("%s scans a table:\n%s", name, strings.Join(plan, "\n"))
			}
			found = found || step == q.want
		}
		if !found {
			t.Errorf("%s: plan lacks %q:\n%s", name, q.want, strings.Join(plan, "\n"))
		}
	}
}
