package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/storetest"
)

func TestJobPager(t *testing.T) {
	storetest.RunJobPager(t, func(t *testing.T, opts store.Options) store.Store {
		return open(t, filepath.Join(t.TempDir(), "concelier.db"), opts)
	})
}
