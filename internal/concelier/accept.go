package concelier

import (
	"context"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

// Check refuses what Run would refuse before the job starts (an unknown job, options it cannot
// take), for triggers that accept a job now and run it later (jobs.Runner.Accept).
func (s *Service) Check(kind string, o Options) error {
	_, err := s.handler(kind, o)
	return err
}

// RunAccepted runs an accepted job with options o (jobs.Runner.RunAccepted). Options the job
// cannot take, which Check should have refused, fail the run without starting it.
func (s *Service) RunAccepted(ctx context.Context, job store.Job, o Options) (store.Job, error) {
	fn, err := s.handler(job.Kind, o)
	if err != nil {
		if aerr := s.Runner.Abandon(ctx, job, err.Error()); aerr != nil {
			return job, aerr
		}
		if j, gerr := s.Store.GetJob(context.WithoutCancel(ctx), job.ID); gerr == nil {
			job = j
		}
		return job, err
	}
	return s.Runner.RunAccepted(ctx, job, fn)
}
