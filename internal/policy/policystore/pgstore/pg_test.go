package pgstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/policy/policystore"
	"github.com/stellaops/stellaops/internal/policy/policystore/pgstore"
	"github.com/stellaops/stellaops/internal/policy/policystore/storetest"
	"github.com/stellaops/stellaops/internal/testenv"
)

func schemaDSN(tb testing.TB) string {
	tb.Helper()
	return testenv.PostgresSchemaDSN(tb, "policystore_test")
}

func open(tb testing.TB, dsn string) *pgstore.Store {
	tb.Helper()
	s, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) policystore.Store { return open(t, schemaDSN(t)) })
}

// TestReplicas opens the schema twice, each with its own pool, as two replicas would; the
// second opens concurrently with the first's migrations.
func TestReplicas(t *testing.T) {
	storetest.Replicas(t, func(t *testing.T) (policystore.Store, policystore.Store) {
		dsn := schemaDSN(t)
		type result struct {
			s   *pgstore.Store
			err error
		}
		ch := make(chan result, 2)
		for range 2 {
			go func() {
				s, err := pgstore.Open(context.Background(), dsn)
				ch <- result{s, err}
			}()
		}
		var got []*pgstore.Store
		var firstErr error
		for range 2 {
			r := <-ch
			if r.err != nil && firstErr == nil {
				firstErr = r.err
			}
			if r.s != nil {
				got = append(got, r.s)
			}
		}
		if firstErr != nil {
			for _, s := range got {
				s.Close()
			}
			t.Fatal(firstErr)
		}
		return got[0], got[1]
	})
}

var digest = strings.Repeat("ab", 32)

// TestNewSharesPool: a store made by New leaves the caller's pool open when it closes.
func TestNewSharesPool(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, schemaDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := pgstore.New(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Append(ctx, policystore.NewRevision{Digest: digest, Format: policy.FormatYAML, Content: "c", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := pgstore.New(ctx, pool) // migrations already applied: nothing to do
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s2.Active(ctx); err != nil || r.Seq != 1 {
		t.Errorf("Active through a second store = %+v, %v", r, err)
	}
}

// TestAppendOnly: the schema itself refuses changes to the history and rows the store would
// not write.
func TestAppendOnly(t *testing.T) {
	ctx := context.Background()
	dsn := schemaDSN(t)
	s := open(t, dsn)
	defer s.Close()
	if _, _, err := s.Append(ctx, policystore.NewRevision{Digest: digest, Format: policy.FormatRego, Content: "package stella.policy\n", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for stmt, want := range map[string]string{
		`UPDATE policy_revisions SET content = 'x'`: "append-only",
		`DELETE FROM policy_revisions`:              "append-only",
		`TRUNCATE policy_revisions`:                 "append-only",
		`INSERT INTO policy_revisions (seq, digest, format, actor, description, created_at, content)
			VALUES (2, '` + strings.Repeat("AB", 32) + `', 'yaml', '', '', now(), '')`: "check constraint",
		`INSERT INTO policy_revisions (seq, digest, format, actor, description, created_at, content)
			VALUES (2, '` + digest + `', 'json', '', '', now(), '')`: "check constraint",
		`INSERT INTO policy_revisions (seq, digest, format, actor, description, created_at, content)
			VALUES (1, '` + digest + `', 'yaml', '', '', now(), '')`: "duplicate key",
	} {
		if _, err := conn.Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a refusal mentioning %q", stmt, err, want)
		}
	}
}

// TestActivePlan: Active, run on every evaluation, is a backward probe of the primary key's
// index, not a scan and sort of the history.
func TestActivePlan(t *testing.T) {
	ctx := context.Background()
	dsn := schemaDSN(t)
	open(t, dsn).Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `EXPLAIN SELECT seq, digest, format, actor, description, created_at FROM policy_revisions ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "Index Scan Backward using policy_revisions_pkey") || strings.Contains(text, "Sort") {
		t.Errorf("Active plan:\n%s", text)
	}
}
