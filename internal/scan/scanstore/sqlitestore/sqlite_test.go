package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stellaops/stellaops/internal/scan/scanstore"
	"github.com/stellaops/stellaops/internal/scan/scanstore/sqlitestore"
	"github.com/stellaops/stellaops/internal/scan/scanstore/storetest"
)

func open(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) scanstore.Store { return open(t, filepath.Join(t.TempDir(), "scans.db")) })
}

// TestReplicas opens one file twice, as two processes sharing a data directory would.
func TestReplicas(t *testing.T) {
	storetest.Replicas(t, func(t *testing.T) (scanstore.Store, scanstore.Store) {
		p := filepath.Join(t.TempDir(), "scans.db")
		return open(t, p), open(t, p)
	})
}
