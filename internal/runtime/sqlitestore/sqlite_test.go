package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stellaops/stellaops/internal/runtime"
	"github.com/stellaops/stellaops/internal/runtime/sqlitestore"
	"github.com/stellaops/stellaops/internal/runtime/storetest"
)

func open(t testing.TB, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) runtime.Store {
		return open(t, filepath.Join(t.TempDir(), "runtime.db"))
	})
}

// TestReplicas opens the file twice, as two processes on one host would.
func TestReplicas(t *testing.T) {
	storetest.Replicas(t, func(t *testing.T) (runtime.Store, runtime.Store) {
		path := filepath.Join(t.TempDir(), "runtime.db")
		return open(t, path), open(t, path)
	})
}

func BenchmarkInsert(b *testing.B) {
	storetest.BenchmarkInsert(b, open(b, filepath.Join(b.TempDir(), "runtime.db")))
}

func BenchmarkInsertParallel(b *testing.B) {
	storetest.BenchmarkInsertParallel(b, open(b, filepath.Join(b.TempDir(), "runtime.db")))
}
