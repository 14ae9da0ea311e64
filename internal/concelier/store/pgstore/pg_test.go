package pgstore_test

import (
	"context"
	"testing"

	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/pgstore"
	"github.com/stellaops/stellaops/internal/concelier/store/storetest"
	"github.com/stellaops/stellaops/internal/testenv"
)

// schemaDSN is a schema of this test's own, on every pooled connection's search_path.
func schemaDSN(tb testing.TB) string {
	tb.Helper()
	return testenv.PostgresSchemaDSN(tb, "concelier_test")
}

func open(tb testing.TB, dsn string, opts store.Options) store.Store {
	tb.Helper()
	s, err := pgstore.Open(context.Background(), dsn, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		dsn := schemaDSN(t)
		return func(t *testing.T, opts store.Options) store.Store { return open(t, dsn, opts) }
	})
}

func BenchmarkUpsert14k(b *testing.B) {
	storetest.BenchmarkUpsert(b, func(b *testing.B) store.Store { return open(b, schemaDSN(b), store.Options{}) })
}

func BenchmarkReplaceMerged14k(b *testing.B) {
	storetest.BenchmarkReplaceMerged(b, func(b *testing.B) store.Store { return open(b, schemaDSN(b), store.Options{}) })
}
