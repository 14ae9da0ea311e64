package pgstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stellaops/stellaops/internal/concelier/store"
	concelier "github.com/stellaops/stellaops/internal/concelier/store/pgstore"
	"github.com/stellaops/stellaops/internal/testenv"
	"github.com/stellaops/stellaops/internal/tlog"
	"github.com/stellaops/stellaops/internal/tlog/pgstore"
	"github.com/stellaops/stellaops/internal/tlog/storetest"
)

// schemaDSN is a schema of this test's own, on every pooled connection's search_path.
func schemaDSN(tb testing.TB) string {
	tb.Helper()
	return testenv.PostgresSchemaDSN(tb, "tlog_test")
}

func open(tb testing.TB, dsn string) tlog.Store {
	tb.Helper()
	s, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		dsn := schemaDSN(t)
		return func(tb testing.TB) tlog.Store { return open(tb, dsn) }
	})
}

func BenchmarkAppend(b *testing.B) {
	storetest.BenchmarkAppend(b, func(b *testing.B) tlog.Store { return open(b, schemaDSN(b)) })
}

func BenchmarkAppendBatch100(b *testing.B) {
	storetest.BenchmarkAppendBatch(b, func(b *testing.B) tlog.Store { return open(b, schemaDSN(b)) }, 100)
}

func BenchmarkProofs100k(b *testing.B) {
	storetest.BenchmarkProofs(b, func(b *testing.B) tlog.Store { return open(b, schemaDSN(b)) }, 100_000)
}

// TestMultiProcess appends from several processes (each its own pool) at once to one schema.
func TestMultiProcess(t *testing.T) {
	if storetest.ProcessHelper(t, open) {
		return
	}
	storetest.MultiProcess(t, "TestMultiProcess", schemaDSN(t), open, 4)
}

// TestAppendOnly: the schema itself refuses to change or remove what was logged.
func TestAppendOnly(t *testing.T) {
	dsn := schemaDSN(t)
	l, err := tlog.New(open(t, dsn), storetest.Key(), tlog.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := l.Append(ctx, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SignTreeHead(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		`UPDATE tlog_entries SET body = '\x00'`,
		`DELETE FROM tlog_entries`,
		`TRUNCATE tlog_entries CASCADE`,
		`UPDATE tlog_nodes SET hash = hash`,
		`DELETE FROM tlog_nodes`,
		`TRUNCATE tlog_nodes`,
		`UPDATE tlog_tree_heads SET tree_size = 5`,
		`DELETE FROM tlog_tree_heads`,
		`TRUNCATE tlog_tree_heads`,
	} {
		if _, err := conn.Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want an append-only refusal", stmt, err)
		}
	}
}

// TestSharesSchemaWithConcelier: the log's tables and migration records live beside
// Concelier's in one schema without either noticing the other.
func TestSharesSchemaWithConcelier(t *testing.T) {
	dsn := schemaDSN(t)
	ctx := context.Background()
	c, err := concelier.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	s := open(t, dsn)
	l, err := tlog.New(s, storetest.Key(), tlog.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	c, err = concelier.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n, err := open(t, dsn).Size(ctx); err != nil || n != 1 {
		t.Errorf("reopened log: size %d, %v", n, err)
	}
}
