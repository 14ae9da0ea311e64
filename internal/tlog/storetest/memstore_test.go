package storetest_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/tlog"
	"github.com/stellaops/stellaops/internal/tlog/storetest"
	"github.com/stellaops/stellaops/internal/tlog/tlogtest"
)

// TestMemStore holds the in-memory test store to the same contract as the real backends.
func TestMemStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		s := tlogtest.NewMemStore()
		return func(testing.TB) tlog.Store { return s }
	})
}
