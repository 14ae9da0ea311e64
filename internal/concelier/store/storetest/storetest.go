// Package storetest is the conformance suite of the Concelier store: every backend runs Run and
// must pass it unchanged. Fixtures are real OSV records from the bundled corpora.
package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// Opener opens a backend at one location; called again with the same location it must reopen
// the same data (Close, then Open), which is how persistence is tested. It registers the
// store's Close with t.Cleanup.
type Opener func(t *testing.T, opts store.Options) store.Store

// Run runs the suite. fresh is called once per test and returns an Opener for a new, empty
// location (a temporary file, a new PostgreSQL schema). Options carry the suite's fake clock.
func Run(t *testing.T, fresh func(t *testing.T) Opener) {
	fx := loadFixtures(t)
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"DocumentRoundTrip", testDocumentRoundTrip},
		{"DocumentIdenticalDigestIsNoop", testDocumentNoop},
		{"DocumentReplacedOnChange", testDocumentReplace},
		{"DocumentStatusTransitions", testDocumentStatus},
		{"DocumentListByStatus", testDocumentList},
		{"DocumentBatches", testDocumentBatches},
		{"DocumentPages", testDocumentPages},
		{"Cursors", testCursors},
		{"MappedRoundTripInIDOrder", testMappedRoundTrip},
		{"MappedUpsertReplaces", testMappedUpsertReplaces},
		{"MappedUpsertIsAtomic", testMappedAtomic},
		{"MappedDeleteByDocument", testMappedDelete},
		{"IterateWhileWriting", testIterateWhileWriting},
		{"MergedReplace", testMergedReplace},
		{"MergedFailedReplaceKeepsPrevious", testMergedFailedReplace},
		{"MergeEvents", testMergeEvents},
		{"JobRecords", testJobRecords},
		{"ListJobs", testListJobs},
		{"LockExclusive", testLockExclusive},
		{"LockExpiry", testLockExpiry},
		{"LockConcurrent", testLockConcurrent},
		{"Reopen", testReopen},
		{"BulkUpsert14k", testBulk},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &Clock{t: time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)}
			e := &env{fx: fx, clock: clk, open: fresh(t)}
			e.s = e.open(t, store.Options{Now: clk.Now})
			tc.fn(t, e)
		})
	}
}

// env is one test's store, clock and fixtures.
type env struct {
	s     store.Store
	open  Opener
	clock *Clock
	fx    *fixtures
}

func (e *env) reopen(t *testing.T) {
	t.Helper()
	if err := e.s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	e.s = e.open(t, store.Options{Now: e.clock.Now})
}

// Clock is a settable fake clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tripCtx is a context that cancels itself after n checks of Err: a cancellation that arrives in
// the middle of a write, wherever the backend looks.
type tripCtx struct {
	context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	n      int
}

func newTripCtx(n int) *tripCtx {
	ctx, cancel := context.WithCancel(context.Background())
	return &tripCtx{Context: ctx, cancel: cancel, n: n}
}

func (c *tripCtx) Err() error {
	c.mu.Lock()
	c.n--
	if c.n < 0 {
		c.cancel()
	}
	c.mu.Unlock()
	return c.Context.Err()
}

// decode checks stored bytes decode back to the advisory they were encoded from.
func decode(t *testing.T, b []byte) *advisory.Advisory {
	t.Helper()
	var a advisory.Advisory
	if err := jsonUnmarshal(b, &a); err != nil {
		t.Fatalf("stored advisory does not decode: %v", err)
	}
	return &a
}
