package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/sqlitestore"
	"github.com/stellaops/stellaops/internal/concelier/store/storetest"
)

func open(tb testing.TB, path string, opts store.Options) store.Store {
	tb.Helper()
	s, err := sqlitestore.Open(context.Background(), path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "concelier.db")
		return func(t *testing.T, opts store.Options) store.Store { return open(t, path, opts) }
	})
}

func BenchmarkUpsert14k(b *testing.B) {
	storetest.BenchmarkUpsert(b, func(b *testing.B) store.Store {
		return open(b, filepath.Join(b.TempDir(), "concelier.db"), store.Options{})
	})
}

func BenchmarkReplaceMerged14k(b *testing.B) {
	storetest.BenchmarkReplaceMerged(b, func(b *testing.B) store.Store {
		return open(b, filepath.Join(b.TempDir(), "concelier.db"), store.Options{})
	})
}
