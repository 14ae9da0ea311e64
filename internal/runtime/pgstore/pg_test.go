package pgstore_test

import (
	"context"
	"testing"

	"github.com/stellaops/stellaops/internal/runtime"
	"github.com/stellaops/stellaops/internal/runtime/pgstore"
	"github.com/stellaops/stellaops/internal/runtime/storetest"
	"github.com/stellaops/stellaops/internal/testenv"
)

func open(tb testing.TB, dsn string) *pgstore.Store {
	tb.Helper()
	s, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) runtime.Store { return open(t, testenv.PostgresSchemaDSN(t, "runtime_test")) })
}

// TestReplicas opens one schema twice, each with its own pool, as two replicas would.
func TestReplicas(t *testing.T) {
	storetest.Replicas(t, func(t *testing.T) (runtime.Store, runtime.Store) {
		dsn := testenv.PostgresSchemaDSN(t, "runtime_test")
		return open(t, dsn), open(t, dsn)
	})
}

func BenchmarkInsert(b *testing.B) {
	s := open(b, testenv.PostgresSchemaDSN(b, "runtime_bench"))
	defer s.Close()
	storetest.BenchmarkInsert(b, s)
}

func BenchmarkInsertParallel(b *testing.B) {
	s := open(b, testenv.PostgresSchemaDSN(b, "runtime_bench"))
	defer s.Close()
	storetest.BenchmarkInsertParallel(b, s)
}
