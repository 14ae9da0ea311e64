// Package jobs runs Concelier's jobs (source:<id>:<stage>, merge:reconcile, export:<format>) with
// one lease per job kind, so a second trigger of a running kind is refused with a clear error, and
// a record of every run: who started it, with what parameters, when, how it ended, its counts and
// its error. The lease is renewed while the job runs and expires if the runner dies.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

// ErrBusy is returned when a run of the same kind holds the lease.
var ErrBusy = errors.New("a run of this job kind is already in progress")

// Runner runs jobs against a store.
type Runner struct {
	st store.Jobs
	// Holder names this process in leases ("host:pid" or a random id).
	Holder string
	// TTL is the lease length; it is renewed every TTL/3 while a job runs. Default 2 minutes.
	TTL time.Duration
}

// New returns a runner; holder may be empty for a random one.
func New(st store.Jobs, holder string) *Runner {
	if holder == "" {
		var b [8]byte
		rand.Read(b[:])
		holder = "runner-" + hex.EncodeToString(b[:])
	}
	return &Runner{st: st, Holder: holder, TTL: 2 * time.Minute}
}

// Run runs fn as a job of kind. counts, if fn returns any, are stored as JSON. The job record is
// returned whatever the outcome; err is fn's error (or ErrBusy).
func (r *Runner) Run(ctx context.Context, kind, trigger string, params any, fn func(ctx context.Context) (counts any, err error)) (store.Job, error) {
	var pj json.RawMessage
	if params != nil {
		var err error
		if pj, err = json.Marshal(params); err != nil {
			return store.Job{}, fmt.Errorf("job %s: parameters: %w", kind, err)
		}
	}
	ok, err := r.st.AcquireLock(ctx, kind, r.Holder, r.TTL)
	if err != nil {
		return store.Job{}, fmt.Errorf("job %s: %w", kind, err)
	}
	if !ok {
		return store.Job{}, fmt.Errorf("job %s: %w", kind, ErrBusy)
	}
	job, err := r.st.StartJob(ctx, store.Job{Kind: kind, Trigger: trigger, Params: pj})
	if err != nil {
		_ = r.st.ReleaseLock(context.WithoutCancel(ctx), kind, r.Holder)
		return store.Job{}, fmt.Errorf("job %s: %w", kind, err)
	}
	return r.runHeld(ctx, job, r.Holder, fn)
}

// runHeld runs fn as job while holder holds the kind's lease, renewing it (a lost lease stops
// fn), then frees the lease and records the outcome, in that order: a caller who sees the run
// finished may trigger the next run of the kind at once and must not find it still busy.
func (r *Runner) runHeld(ctx context.Context, job store.Job, holder string, fn func(ctx context.Context) (counts any, err error)) (store.Job, error) {
	released := false
	release := func() {
		if !released {
			released = true
			// A fresh context: a cancelled run must still free its kind.
			_ = r.st.ReleaseLock(context.WithoutCancel(ctx), job.Kind, holder)
		}
	}
	defer release() // when fn panics

	runCtx, cancel := context.WithCancelCause(ctx)
	renewed := make(chan struct{})
	go func() { // renews the lease until the job ends; if it is lost, the job is stopped
		defer close(renewed)
		t := time.NewTicker(max(r.TTL/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				if ok, err := r.st.AcquireLock(runCtx, job.Kind, holder, r.TTL); err == nil && !ok {
					cancel(fmt.Errorf("job %s: lease lost to another runner", job.Kind))
					return
				}
			}
		}
	}()
	counts, ferr := fn(runCtx)
	if ferr == nil {
		ferr = context.Cause(runCtx) // a lost lease
		if errors.Is(ferr, context.Canceled) && ctx.Err() == nil {
			ferr = nil
		}
	}
	cancel(nil)
	<-renewed
	release()
	return r.finish(ctx, job, counts, ferr)
}
