package jobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/concelier/jobs"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/sqlitestore"
)

// An accepted run holds its kind from the moment it is accepted: a second Accept and a CLI-style
// Run are refused until it has run, and any runner (another process) can run it.
func TestAcceptThenRunElsewhere(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	api, worker, cli := jobs.New(st, "api-replica"), jobs.New(st, "worker-replica"), jobs.New(st, "cli")
	job, err := api.Accept(ctx, "merge:reconcile", "api/ci-bot", map[string]bool{"delta": true}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if job.ID == "" || job.Outcome != "" || !jsonEq(job.Params, `{"delta":true}`) || job.Trigger != "api/ci-bot" {
		t.Fatalf("accepted %+v", job)
	}
	if _, err := api.Accept(ctx, "merge:reconcile", "api/ci-bot", nil, time.Hour); !errors.Is(err, jobs.ErrBusy) {
		t.Errorf("second accept: %v", err)
	}
	if _, err := cli.Run(ctx, "merge:reconcile", "cli", nil, func(context.Context) (any, error) { return nil, nil }); !errors.Is(err, jobs.ErrBusy) {
		t.Errorf("CLI run while accepted: %v", err)
	}
	if _, err := api.Accept(ctx, "export:json", "api/ci-bot", nil, time.Hour); err != nil {
		t.Errorf("another kind: %v", err)
	}
	ran := false
	done, err := worker.RunAccepted(ctx, job, func(context.Context) (any, error) {
		ran = true
		return map[string]int{"advisories": 1372}, nil
	})
	if err != nil || !ran || done.Outcome != store.OutcomeSucceeded || done.FinishedAt.IsZero() || !jsonEq(done.Counts, `{"advisories":1372}`) {
		t.Fatalf("run: %+v %v", done, err)
	}
	// Finished: running it again does nothing; the kind is free.
	if again, err := worker.RunAccepted(ctx, done, func(context.Context) (any, error) { t.Error("ran twice"); return nil, nil }); err != nil || again.ID != done.ID {
		t.Errorf("rerun of a finished run: %+v %v", again, err)
	}
	if _, err := cli.Run(ctx, "merge:reconcile", "cli", nil, func(context.Context) (any, error) { return nil, nil }); err != nil {
		t.Errorf("after the accepted run: %v", err)
	}
}

// A run whose lease ran out and whose kind another run took is failed without running; an
// abandoned run frees its kind.
func TestAcceptedLeaseExpiryAndAbandon(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "c.db"), store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := jobs.New(st, "r")
	stale, err := r.Accept(ctx, "source:osv:fetch", "api", nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	fresh, err := r.Accept(ctx, "source:osv:fetch", "api", nil, time.Minute)
	if err != nil {
		t.Fatalf("accept after the first lease expired: %v", err)
	}
	got, err := r.RunAccepted(ctx, stale, func(context.Context) (any, error) { t.Error("the stale run ran"); return nil, nil })
	if !errors.Is(err, jobs.ErrLeaseExpired) || got.Outcome != store.OutcomeFailed || got.Error == "" {
		t.Errorf("stale run: %+v %v", got, err)
	}
	if err := r.Abandon(ctx, fresh, "the server stopped before it ran"); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GetJob(ctx, fresh.ID); got.Outcome != store.OutcomeFailed || got.Error != "the server stopped before it ran" {
		t.Errorf("abandoned: %+v", got)
	}
	if _, err := r.Accept(ctx, "source:osv:fetch", "api", nil, time.Minute); err != nil {
		t.Errorf("kind still held after abandon: %v", err)
	}
	// A cancelled run is recorded as cancelled.
	other, err := r.Accept(ctx, "export:json", "api", nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	got, err = r.RunAccepted(cctx, other, func(ctx context.Context) (any, error) { cancel(); <-ctx.Done(); return nil, ctx.Err() })
	if !errors.Is(err, context.Canceled) || got.Outcome != store.OutcomeCancelled {
		t.Errorf("cancelled: %+v %v", got, err)
	}
}
