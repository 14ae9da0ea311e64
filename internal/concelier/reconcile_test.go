package concelier_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/concelier"
	"github.com/stellaops/stellaops/internal/concelier/jobs"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/scan"
)

// TestMergeWithNothingKeepsTheSnapshot: merge:reconcile on a store with no mapped advisory
// fails and leaves the current snapshot (here the bundled one) in place.
func TestMergeWithNothingKeepsTheSnapshot(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	snaps, err := snapshot.OpenStore(filepath.Join(data, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	snap, _, err := scan.EnsureSnapshot(ctx, snaps)
	if err != nil {
		t.Fatal(err)
	}
	before := snap.Digest()
	snap.Close()
	clock := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	st, err := concelier.OpenStore(ctx, data, "", store.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := &concelier.Service{Store: st, DataDir: data, Now: func() time.Time { return clock }, Runner: jobs.New(st, "test")}
	job, err := svc.Run(ctx, "merge:reconcile", concelier.Options{})
	if !errors.Is(err, concelier.ErrNothingToMerge) || job.Outcome != store.OutcomeFailed {
		t.Fatalf("merge of nothing: %v, %+v", err, job)
	}
	cur, err := snaps.Current()
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if cur.Digest() != before {
		t.Fatalf("the snapshot changed from %s to %s", before, cur.Digest())
	}
}
