package sqlitestore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/concelier/store"
	concelier "github.com/stellaops/stellaops/internal/concelier/store/sqlitestore"
	"github.com/stellaops/stellaops/internal/tlog"
	"github.com/stellaops/stellaops/internal/tlog/sqlitestore"
	"github.com/stellaops/stellaops/internal/tlog/storetest"
)

func open(tb testing.TB, path string) tlog.Store {
	tb.Helper()
	s, err := sqlitestore.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "tlog.db")
		return func(tb testing.TB) tlog.Store { return open(tb, path) }
	})
}

func BenchmarkAppend(b *testing.B) {
	storetest.BenchmarkAppend(b, func(b *testing.B) tlog.Store { return open(b, filepath.Join(b.TempDir(), "tlog.db")) })
}

func BenchmarkAppendBatch100(b *testing.B) {
	storetest.BenchmarkAppendBatch(b, func(b *testing.B) tlog.Store { return open(b, filepath.Join(b.TempDir(), "tlog.db")) }, 100)
}

func BenchmarkProofs100k(b *testing.B) {
	storetest.BenchmarkProofs(b, func(b *testing.B) tlog.Store { return open(b, filepath.Join(b.TempDir(), "tlog.db")) }, 100_000)
}

// TestMultiProcess appends from several processes at once to one database file.
func TestMultiProcess(t *testing.T) {
	if storetest.ProcessHelper(t, open) {
		return
	}
	storetest.MultiProcess(t, "TestMultiProcess", filepath.Join(t.TempDir(), "tlog.db"), open, 4)
}

// TestAppendOnly: the schema itself refuses to change or remove what was logged.
func TestAppendOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tlog.db")
	s := open(t, path)
	l, err := tlog.New(s, storetest.Key(), tlog.DefaultConfig())
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
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{
		`UPDATE tlog_entries SET body = x'00'`,
		`DELETE FROM tlog_entries`,
		`UPDATE tlog_nodes SET hash = zeroblob(32)`,
		`DELETE FROM tlog_nodes`,
		`UPDATE tlog_tree_heads SET tree_size = 5`,
		`DELETE FROM tlog_tree_heads`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want an append-only refusal", stmt, err)
		}
	}
}

// TestSharesDatabaseWithConcelier: the log's tables and migration records live beside
// Concelier's in one file without either noticing the other.
func TestSharesDatabaseWithConcelier(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stellaops.db")
	ctx := context.Background()
	c, err := concelier.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := open(t, path)
	l, err := tlog.New(s, storetest.Key(), tlog.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c2, err := concelier.Open(ctx, path, store.Options{}) // Concelier's migrations still apply cleanly
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if n, err := open(t, path).Size(ctx); err != nil || n != 1 {
		t.Errorf("reopened log: size %d, %v", n, err)
	}
}
