// Package storetest is the conformance suite of the transparency log's stores: every backend
// runs Run and must pass it unchanged. The suite drives a tlog.Log on the backend and checks
// every root and proof against tlogtest's reference RFC 6962 implementation, which recomputes
// them from the leaves without the log's stored nodes.
package storetest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/tlog"
	"github.com/stellaops/stellaops/internal/tlog/tlogtest"
)

// Opener opens a backend at one location; called again it opens the same data, as a second
// handle (another process) or after the first was closed, which is how persistence and
// cross-process locking are tested. It registers the store's Close with t.Cleanup; closing
// twice must be harmless.
type Opener func(t testing.TB) tlog.Store

// Run runs the suite. fresh is called once per test and returns an Opener for a new, empty
// location (a temporary file, a new PostgreSQL schema).
func Run(t *testing.T, fresh func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"AppendAndRead", testAppendAndRead},
		{"DuplicateIsIdempotent", testDuplicate},
		{"RootsMatchReference", testRoots},
		{"InclusionProofsMatchReference", testInclusion},
		{"ConsistencyProofsMatchReference", testConsistency},
		{"SignedTreeHeads", testTreeHeads},
		{"BundlesVerifyOffline", testBundles},
		{"FailedAppendStoresNothing", testAtomic},
		{"ConcurrentAppends", testConcurrent},
		{"ConcurrentDuplicates", testConcurrentDuplicates},
		{"ConcurrentTreeHeads", testConcurrentTreeHeads},
		{"Reopen", testReopen},
		{"LargerTree", testLarger},
		{"Errors", testErrors},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{open: fresh(t), clock: tlogtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC))}
			e.s = e.open(t)
			e.log = e.newLog(t, e.s)
			tc.fn(t, e)
		})
	}
}

// env is one test's store, log and clock.
type env struct {
	s     tlog.Store
	log   *tlog.Log
	open  Opener
	clock *tlogtest.Clock
}

// Key returns the suite's fixed log key (deterministic, so failures reproduce).
func Key() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "stellaops tlog conformance key")
	return ed25519.NewKeyFromSeed(seed)
}

func (e *env) newLog(t testing.TB, s tlog.Store) *tlog.Log {
	t.Helper()
	cfg := tlog.DefaultConfig()
	cfg.Origin = "conformance.stellaops.test/tlog"
	cfg.Now = e.clock.Now
	l, err := tlog.New(s, Key(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (e *env) reopen(t *testing.T) {
	t.Helper()
	if err := e.s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	e.s = e.open(t)
	e.log = e.newLog(t, e.s)
}

// body is the i-th test entry: canonical JSON, as the log's real entries are.
func body(i int) []byte {
	return fmt.Appendf(nil, `{"kind":"conformance","n":%d}`, i)
}

// appendN appends bodies from..to-1 one at a time and returns their leaf hashes.
func (e *env) appendN(t testing.TB, from, to int) []tlog.Hash {
	t.Helper()
	var out []tlog.Hash
	for i := from; i < to; i++ {
		a, err := e.log.Append(context.Background(), body(i))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		out = append(out, a.LeafHash)
	}
	return out
}

// appendBatches appends bodies from..to-1 in batches of n.
func appendBatches(t testing.TB, l *tlog.Log, from, to, n int) []tlog.Hash {
	t.Helper()
	var out []tlog.Hash
	for start := from; start < to; start += n {
		var bodies [][]byte
		for i := start; i < min(start+n, to); i++ {
			bodies = append(bodies, body(i))
		}
		res, err := l.AppendBatch(context.Background(), bodies)
		if err != nil {
			t.Fatalf("append batch at %d: %v", start, err)
		}
		for _, a := range res {
			out = append(out, a.LeafHash)
		}
	}
	return out
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got %v, want %v", what, err, target)
	}
}
