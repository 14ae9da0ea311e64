package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ConcelierTrigger is the body of POST /jobs/<kind>.
type ConcelierTrigger struct {
	// Trigger labels who asked ("cli", "scheduler"); the server adds the caller's subject.
	Trigger    string              `json:"trigger,omitempty"`
	Parameters ConcelierParameters `json:"parameters,omitzero"`
}

// ConcelierParameters are a run's parameters; unset ones take the server's configuration.
type ConcelierParameters struct {
	// Mode of source jobs: init, resume or cursor.
	Mode string `json:"mode,omitempty"`
	// Mirror of source jobs: a path relative to the server's concelier.mirrorRoot.
	Mirror string `json:"mirror,omitempty"`
	// Ecosystems of source:osv jobs.
	Ecosystems []string `json:"ecosystems,omitempty"`
	// Delta of exports.
	Delta *bool `json:"delta,omitempty"`
	// Per-run overrides of export:trivy-db's ORAS and offline bundle switches.
	PublishFull  *bool `json:"publishFull,omitempty"`
	PublishDelta *bool `json:"publishDelta,omitempty"`
	IncludeFull  *bool `json:"includeFull,omitempty"`
	IncludeDelta *bool `json:"includeDelta,omitempty"`
}

// JobFlag returns a pointer to v, for ConcelierParameters' switches.
func JobFlag(v bool) *bool { return &v }

// Statuses of a Concelier job run.
const (
	ConcelierJobRunning   = "running"
	ConcelierJobSucceeded = "succeeded"
	ConcelierJobFailed    = "failed"
	ConcelierJobCancelled = "cancelled"
)

// ConcelierJob is one run of a Concelier job kind.
type ConcelierJob struct {
	JobID string `json:"jobId"`
	Kind  string `json:"kind"`
	// Status is running (queued or running), succeeded, failed or cancelled.
	Status     string          `json:"status"`
	Trigger    string          `json:"trigger"`
	Parameters json.RawMessage `json:"parameters"`
	StartedAt  time.Time       `json:"startedAt"`
	FinishedAt time.Time       `json:"finishedAt,omitzero"`
	DurationMs *int64          `json:"durationMs,omitempty"`
	// Counts are the kind's own (see the API reference); decode them with DecodeCounts.
	Counts json.RawMessage `json:"counts,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Done reports whether the run has ended.
func (j ConcelierJob) Done() bool { return j.Status != "" && j.Status != ConcelierJobRunning }

// DecodeCounts decodes the run's counts into v.
func (j ConcelierJob) DecodeCounts(v any) error {
	if len(j.Counts) == 0 {
		return fmt.Errorf("client: job %s has no counts", j.JobID)
	}
	return json.Unmarshal(j.Counts, v)
}

// TriggerConcelierJob runs POST /jobs/<kind> (source:osv:fetch, merge:reconcile, export:json,
// export:trivy-db) and returns the accepted run. A kind with a run queued or running answers
// 409 (*Error).
func (c *Client) TriggerConcelierJob(ctx context.Context, kind string, t ConcelierTrigger) (ConcelierJob, error) {
	var j ConcelierJob
	_, err := c.sendJSON(ctx, http.MethodPost, "/jobs/"+url.PathEscape(kind), t, true, false, &j)
	return j, err
}

// ConcelierJob reads GET /jobs/<jobId>.
func (c *Client) ConcelierJob(ctx context.Context, jobID string) (ConcelierJob, error) {
	var j ConcelierJob
	_, err := c.getJSON(ctx, "/jobs/"+url.PathEscape(jobID), nil, true, false, &j)
	return j, err
}

// ConcelierJobPage is a page of GET /jobs.
type ConcelierJobPage struct {
	Jobs       []ConcelierJob `json:"jobs"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

// ConcelierJobs reads a page of GET /jobs, newest first: of one kind when kind is not empty, at most
// limit runs (0: the server's default), after cursor (a previous page's NextCursor).
func (c *Client) ConcelierJobs(ctx context.Context, kind string, limit int, cursor string) (ConcelierJobPage, error) {
	q := url.Values{}
	if kind != "" {
		q.Set("kind", kind)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var p ConcelierJobPage
	_, err := c.getJSON(ctx, "/jobs", q, true, false, &p)
	return p, err
}

// WaitConcelierJob polls GET /jobs/<jobId> every interval (default 1s) until the run ends or ctx does,
// and returns its last state. A run that ended failed or cancelled is returned without error:
// the caller reads its Status and Error. A 429 waits its Retry-After and polls on.
func (c *Client) WaitConcelierJob(ctx context.Context, jobID string, interval time.Duration) (ConcelierJob, error) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var last ConcelierJob
	for {
		j, err := c.ConcelierJob(ctx, jobID)
		var e *Error
		switch {
		case errors.As(err, &e) && e.StatusCode == http.StatusTooManyRequests:
			// Polling counts against the caller's rate limit: wait as told, then go on.
			t.Reset(max(interval, e.RetryAfter))
		case err != nil || j.Done():
			return j, err
		default:
			last = j
		}
		select {
		case <-ctx.Done():
			return last, errors.Join(ctx.Err(), fmt.Errorf("client: job %s still %s", jobID, last.Status))
		case <-t.C:
			t.Reset(interval)
		}
	}
}
