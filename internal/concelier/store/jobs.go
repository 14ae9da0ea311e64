package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// PrepareJob validates a job about to start and fills in what the caller left out (ID, start
// time); it returns the parameters as canonical JSON (nil when none). Backends share it so they
// accept and return the same things.
func PrepareJob(j Job, now func() time.Time) (Job, []byte, error) {
	if j.Kind == "" {
		return j, nil, fmt.Errorf("job: empty kind")
	}
	if j.ID == "" {
		j.ID = uuid.NewString()
	}
	if j.StartedAt.IsZero() {
		j.StartedAt = now()
	}
	j.StartedAt = Timestamp(j.StartedAt)
	j.FinishedAt, j.Outcome, j.Counts, j.Error = time.Time{}, "", nil, ""
	params, err := CanonicalJSON(j.Params)
	if err != nil {
		return j, nil, fmt.Errorf("job params: %w", err)
	}
	j.Params = params
	return j, params, nil
}

// PrepareFinish validates an outcome and returns the counts as canonical JSON (nil when none).
func PrepareFinish(o JobOutcome, counts json.RawMessage) ([]byte, error) {
	switch o {
	case OutcomeSucceeded, OutcomeFailed, OutcomeCancelled:
	default:
		return nil, fmt.Errorf("job: invalid outcome %q", o)
	}
	c, err := CanonicalJSON(counts)
	if err != nil {
		return nil, fmt.Errorf("job counts: %w", err)
	}
	return c, nil
}
