// Package queue defines the job queue that scan workers lease from.
//
// A job is enqueued under a caller-chosen ID; enqueueing an ID that is already waiting or
// running is a no-op, so producers can retry freely. A worker leases a job for a duration and
// must Ack it (done), Nack it (retry later) or Extend the lease (heartbeat) before the lease
// runs out. A lease that runs out - the worker died or hung - returns the job to the queue and
// it is delivered again with Attempt+1. After MaxAttempts deliveries that all failed, the job
// moves to the dead-letter list.
//
// Every delivery carries a fencing token. Ack, Nack and Extend succeed only with the token of
// the current, unexpired delivery; any other token fails with ErrLeaseLost and changes nothing.
// That is what makes completion exactly-once: a worker that lost its lease (even one that
// merely paused past Until) can never ack or re-queue a job that another worker now holds, so
// of all deliveries of a job at most one Ack succeeds.
//
// Backends: memqueue (embedded mode, one process) and redisqueue (scale mode, several worker
// processes on one Redis). Both pass the conformance suite in queuetest.
package queue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

var (
	// ErrLeaseLost means the lease's token is no longer current: the lease expired (and the job
	// may have been delivered to someone else), or the delivery was already acked or nacked.
	// The call changed nothing; the worker must drop the job without reporting a result.
	ErrLeaseLost = errors.New("queue: lease lost")
	// ErrClosed is returned by every method of a closed queue, including Lease calls that were
	// blocked when Close was called.
	ErrClosed = errors.New("queue: closed")
)

// ReasonLeaseExpired is the failure reason recorded when a lease ran out without Ack or Nack.
const ReasonLeaseExpired = "lease expired"

// Job is a unit of work.
type Job struct {
	// ID is chosen by the caller and identifies the job while it is queued, leased or dead.
	ID string
	// Kind tells workers how to interpret Payload.
	Kind    string
	Payload []byte
	// EnqueuedAt is set by Enqueue to the queue's clock when zero.
	EnqueuedAt time.Time
}

// Lease is one delivery of a job to a consumer.
type Lease struct {
	Job
	// Consumer is the name passed to Queue.Lease, for logs.
	Consumer string
	// Attempt counts deliveries of the job: 1 for the first.
	Attempt int
	// Token is the fencing token of this delivery, unique per queue. It is opaque: compare it
	// only for equality.
	Token string
	// Until is when the lease runs out unless extended. With redisqueue on Redis' clock it is
	// Redis' time; schedule heartbeats from the lease duration rather than from Until.
	Until time.Time
}

// DeadJob is a job that failed MaxAttempts times.
type DeadJob struct {
	Job
	// Attempts is the number of deliveries made.
	Attempts int
	// Reason is the reason of the last Nack, or ReasonLeaseExpired.
	Reason string
	DiedAt time.Time
}

// Stats counts jobs by state, for the queue-depth gauge.
type Stats struct {
	Ready   int // waiting for a consumer
	Leased  int // delivered, neither acked nor expired
	Delayed int // nacked with a retry delay that has not passed yet
	Dead    int // in the dead-letter list
}

// Queue is a job queue. Implementations are safe for concurrent use.
//
// The order of ready jobs is FIFO: jobs are delivered in the order they became ready, where a
// nacked or expired job becomes ready again (at the tail) when its retry delay or lease runs
// out. Jobs that became ready at the same instant are delivered in unspecified order.
type Queue interface {
	// Enqueue adds job as ready. If a job with the same ID is ready, delayed or leased it does
	// nothing and returns created=false (the existing job is kept as it is). A dead job with
	// that ID is replaced: it leaves the dead-letter list and starts again at attempt 1.
	Enqueue(ctx context.Context, job Job) (created bool, err error)
	// Lease delivers the oldest ready job to consumer for d, blocking until a job is ready,
	// ctx ends (the error then wraps ctx.Err()), the queue is closed (ErrClosed) or the backend
	// fails. An ended ctx never takes a job, even if one is ready.
	Lease(ctx context.Context, consumer string, d time.Duration) (Lease, error)
	// Extend renews l for d from now and returns the renewed lease (same token).
	Extend(ctx context.Context, l Lease, d time.Duration) (Lease, error)
	// Ack completes the job of l and forgets it. After a transport error the outcome is
	// unknown: a retried Ack that gets ErrLeaseLost may mean the first one went through.
	Ack(ctx context.Context, l Lease) error
	// Nack returns the job of l to the queue, ready again after retryAfter (0: at once), and
	// records reason. If this was attempt MaxAttempts, the job goes to the dead-letter list.
	Nack(ctx context.Context, l Lease, retryAfter time.Duration, reason string) error
	// Dead lists the dead-letter jobs, oldest death first.
	Dead(ctx context.Context) ([]DeadJob, error)
	// Depth counts jobs by state. Expired leases and passed delays are accounted first, so an
	// abandoned job counts as Ready (or Dead), not Leased.
	Depth(ctx context.Context) (Stats, error)
	// Close releases the queue's resources and wakes blocked Lease calls with ErrClosed. Jobs
	// stay where they are (a closed Redis queue's jobs remain in Redis). Close is idempotent.
	Close() error
}

// Defaults for Config.
const (
	DefaultMaxAttempts  = 5
	DefaultPollInterval = time.Second
)

// Config tunes a queue backend. Zero values take the defaults.
type Config struct {
	// MaxAttempts is the number of deliveries after which a failing job is dead. Every
	// replica sharing a Redis queue must use the same value.
	MaxAttempts int
	// Now is the clock of leases and retry delays; nil means the real clock (for redisqueue,
	// Redis' own clock, so that replicas with skewed clocks agree on expiry). Tests inject a
	// fake one.
	Now func() time.Time
	// PollInterval bounds how long a blocked Lease sleeps without re-checking the queue. Lease
	// is woken by new jobs and by the next timer anyway; the poll is a backstop for missed
	// notifications (a Redis reconnect) and for fake clocks, which wake no one when moved.
	PollInterval time.Duration
}

// WithDefaults validates c and fills in its zero fields.
func (c Config) WithDefaults() (Config, error) {
	if c.MaxAttempts < 0 {
		return c, fmt.Errorf("queue: MaxAttempts %d is negative", c.MaxAttempts)
	}
	if c.PollInterval < 0 {
		return c, fmt.Errorf("queue: PollInterval %v is negative", c.PollInterval)
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	return c, nil
}

// Backoff is the retry delay after failed attempt n (1-based): base doubled per attempt,
// capped at max (max <= 0: no cap). Workers pass it to Nack.
func Backoff(n int, base, max time.Duration) time.Duration {
	if n < 1 || base <= 0 {
		return 0
	}
	if max <= 0 {
		max = math.MaxInt64
	}
	d := min(base, max)
	for i := 1; i < n && d < max; i++ {
		if d > max/2 {
			return max
		}
		d *= 2
	}
	return d
}

// ValidateJob checks what every backend requires of a job.
func ValidateJob(j Job) error {
	if j.ID == "" {
		return errors.New("queue: job has no ID")
	}
	return nil
}

// ValidateDuration checks a lease duration.
func ValidateDuration(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("queue: lease duration %v is not positive", d)
	}
	return nil
}
