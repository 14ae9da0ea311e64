package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

// An accepted job is one run in two steps, for triggers that answer before the job runs (the
// HTTP API): Accept records the run and takes its kind's lease on the run's behalf, so that a
// second trigger is refused with ErrBusy from that moment, on any replica; RunAccepted, later
// and possibly in another process, runs it under the same lease. The lease holder is the run
// itself (AcceptedHolder), not a process, so whichever runner picks the run up holds it.

// AcceptedHolder is the lease holder of an accepted run.
func AcceptedHolder(jobID string) string { return "job:" + jobID }

// Accept records a run of kind that starts later and holds the kind's lease for it for ttl:
// the longest the run may wait for a runner. ErrBusy when a run of kind holds the lease.
func (r *Runner) Accept(ctx context.Context, kind, trigger string, params any, ttl time.Duration) (store.Job, error) {
	var pj json.RawMessage
	if params != nil {
		var err error
		if pj, err = json.Marshal(params); err != nil {
			return store.Job{}, fmt.Errorf("job %s: parameters: %w", kind, err)
		}
	}
	id := uuid.NewString()
	ok, err := r.st.AcquireLock(ctx, kind, AcceptedHolder(id), ttl)
	if err != nil {
		return store.Job{}, fmt.Errorf("job %s: %w", kind, err)
	}
	if !ok {
		return store.Job{}, fmt.Errorf("job %s: %w", kind, ErrBusy)
	}
	job, err := r.st.StartJob(ctx, store.Job{ID: id, Kind: kind, Trigger: trigger, Params: pj})
	if err != nil {
		_ = r.st.ReleaseLock(context.WithoutCancel(ctx), kind, AcceptedHolder(id))
		return store.Job{}, fmt.Errorf("job %s: %w", kind, err)
	}
	return job, nil
}

// ErrLeaseExpired is the error of an accepted run whose lease ran out before a runner took it
// up and that another run of its kind took meanwhile: it is recorded as failed without running.
var ErrLeaseExpired = errors.New("the run waited longer than its lease and another run of its kind started")

// RunAccepted runs fn as the accepted run job: it renews the run's lease (recording the run as
// failed with ErrLeaseExpired if another run took the kind), runs fn while renewing, frees the
// lease and records the outcome, as Run does. A run that already finished is returned as it
// is. Running an unfinished run again (its first runner died) reuses its record.
func (r *Runner) RunAccepted(ctx context.Context, job store.Job, fn func(ctx context.Context) (counts any, err error)) (store.Job, error) {
	if job.Outcome != "" {
		return job, nil
	}
	holder := AcceptedHolder(job.ID)
	ok, err := r.st.AcquireLock(ctx, job.Kind, holder, r.TTL)
	if err != nil {
		return job, fmt.Errorf("job %s: %w", job.Kind, err)
	}
	if !ok {
		return r.finish(ctx, job, nil, fmt.Errorf("job %s: %w", job.Kind, ErrLeaseExpired))
	}
	return r.runHeld(ctx, job, holder, fn)
}

// Abandon records an accepted run that will not run as failed with reason, and frees its lease
// if the run still holds it.
func (r *Runner) Abandon(ctx context.Context, job store.Job, reason string) error {
	ctx = context.WithoutCancel(ctx)
	err := r.st.FinishJob(ctx, job.ID, store.OutcomeFailed, nil, reason)
	if rerr := r.st.ReleaseLock(ctx, job.Kind, AcceptedHolder(job.ID)); rerr != nil && !errors.Is(rerr, store.ErrNotFound) {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("job %s: abandon %s: %w", job.Kind, job.ID, err)
	}
	return nil
}

// finish records the outcome of job from fn's counts and error, as Run does, and returns the
// record as stored together with ferr.
func (r *Runner) finish(ctx context.Context, job store.Job, counts any, ferr error) (store.Job, error) {
	outcome, errText := store.OutcomeSucceeded, ""
	switch {
	case ferr != nil && ctx.Err() != nil:
		outcome, errText = store.OutcomeCancelled, ferr.Error()
	case ferr != nil:
		outcome, errText = store.OutcomeFailed, ferr.Error()
	}
	var cj json.RawMessage
	if counts != nil {
		if b, err := json.Marshal(counts); err == nil {
			cj = b
		}
	}
	fctx := context.WithoutCancel(ctx)
	if err := r.st.FinishJob(fctx, job.ID, outcome, cj, errText); err != nil {
		return job, errors.Join(ferr, fmt.Errorf("job %s: recording the outcome: %w", job.Kind, err))
	}
	if j, err := r.st.GetJob(fctx, job.ID); err == nil {
		job = j
	}
	return job, ferr
}
