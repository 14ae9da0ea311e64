package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/concelier/jobs"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/sqlitestore"
)

func openStore(t *testing.T) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestRecordsAndOutcomes(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	r := jobs.New(st, "test-runner")
	job, err := r.Run(ctx, "source:osv:fetch", "user:alice", map[string]string{"mode": "init"}, func(context.Context) (any, error) {
		return map[string]int{"records": 13970}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if job.Outcome != store.OutcomeSucceeded || job.Trigger != "user:alice" || job.FinishedAt.IsZero() ||
		!jsonEq(job.Params, `{"mode":"init"}`) || !jsonEq(job.Counts, `{"records":13970}`) {
		t.Errorf("job %+v (params %s counts %s)", job, job.Params, job.Counts)
	}
	boom := errors.New("upstream said 500")
	job, err = r.Run(ctx, "source:osv:fetch", "scheduler", nil, func(context.Context) (any, error) { return nil, boom })
	if !errors.Is(err, boom) || job.Outcome != store.OutcomeFailed || job.Error != boom.Error() {
		t.Errorf("failed job: %+v %v", job, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	job, err = r.Run(cctx, "merge:reconcile", "user:bob", nil, func(ctx context.Context) (any, error) {
		cancel()
		<-ctx.Done()
		return nil, ctx.Err()
	})
	if !errors.Is(err, context.Canceled) || job.Outcome != store.OutcomeCancelled {
		t.Errorf("cancelled job: %+v %v", job, err)
	}
	list, _ := st.ListJobs(ctx, "", 10)
	if len(list) != 3 {
		t.Errorf("%d job records", len(list))
	}
	// Every run released its lease: the kinds run again at once.
	if _, err := r.Run(ctx, "merge:reconcile", "user:bob", nil, func(context.Context) (any, error) { return nil, nil }); err != nil {
		t.Errorf("lease not released after cancellation: %v", err)
	}
}

// A second trigger of a running kind is refused; another kind runs; the lease is renewed while
// the job outlives its TTL.
func TestOneRunPerKind(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	a, b := jobs.New(st, "runner-a"), jobs.New(st, "runner-b")
	a.TTL, b.TTL = 150*time.Millisecond, 150*time.Millisecond
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := a.Run(ctx, "export:trivy-db", "user:alice", nil, func(context.Context) (any, error) {
			close(started)
			<-release
			return nil, nil
		})
		done <- err
	}()
	<-started
	time.Sleep(400 * time.Millisecond) // well past one TTL: only renewal keeps the lease
	if _, err := b.Run(ctx, "export:trivy-db", "user:bob", nil, func(context.Context) (any, error) { return nil, nil }); !errors.Is(err, jobs.ErrBusy) {
		t.Errorf("second run of a running kind: %v", err)
	}
	if _, err := b.Run(ctx, "export:json", "user:bob", nil, func(context.Context) (any, error) { return nil, nil }); err != nil {
		t.Errorf("another kind: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := b.Run(ctx, "export:trivy-db", "user:bob", nil, func(context.Context) (any, error) { return nil, nil }); err != nil {
		t.Errorf("after the first run ended: %v", err)
	}
}

func jsonEq(raw json.RawMessage, want string) bool {
	var a, b any
	if json.Unmarshal(raw, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	return string(ab) == string(bb)
}

// finishObserver records, when a job's outcome is written, whether its kind could be taken by
// another holder at that moment.
type finishObserver struct {
	*sqlitestore.Store
	kindFree []bool
}

func (o *finishObserver) FinishJob(ctx context.Context, id string, outcome store.JobOutcome, counts json.RawMessage, errText string) error {
	j, err := o.GetJob(ctx, id)
	if err != nil {
		return err
	}
	free, err := o.AcquireLock(ctx, j.Kind, "observer", time.Second)
	if err != nil {
		return err
	}
	if free {
		_ = o.ReleaseLock(ctx, j.Kind, "observer")
	}
	o.kindFree = append(o.kindFree, free)
	return o.Store.FinishJob(ctx, id, outcome, counts, errText)
}

// TestKindFreeOnceFinished: by the time a run's outcome is recorded (what a client polling
// the job sees), its kind's lease is free, so the next trigger is not refused as busy.
// (Over two replicas, a client that saw a trivy-db export succeed and at once asked for a
// delta run was answered 409.)
func TestKindFreeOnceFinished(t *testing.T) {
	ctx := context.Background()
	obs := &finishObserver{Store: openStore(t)}
	r := jobs.New(obs, "runner")
	if _, err := r.Run(ctx, "export:json", "cli", nil, func(context.Context) (any, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	job, err := r.Accept(ctx, "export:trivy-db", "api", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.New(obs, "worker").RunAccepted(ctx, job, func(context.Context) (any, error) { return nil, errors.New("boom") }); err == nil {
		t.Fatal("the run's error was lost")
	}
	if len(obs.kindFree) != 2 || !obs.kindFree[0] || !obs.kindFree[1] {
		t.Fatalf("kind free when the outcome was recorded (Run, RunAccepted): %v", obs.kindFree)
	}
}
