// Package queuetest is the conformance suite of queue.Queue backends: every backend runs Run
// and must pass it unchanged.
//
// Most tests run on a fake clock, so lease expiry and retry delays are exact and instant. The
// tests about blocking, and the exactly-once stress test, run on the real clock (for Redis:
// Redis' clock) with short leases; their assertions do not depend on timing, only their
// duration does.
package queuetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/queue"
)

// Opener opens a client of one queue location with cfg. Every call for the same location must
// see the same jobs, as two replicas sharing a Redis do; cfg is the same on every call. The
// opener registers cleanup (Close) with t.Cleanup.
type Opener func(t *testing.T, cfg queue.Config) queue.Queue

// Fresh prepares a new, empty location for one test (a new key prefix, a new queue) and
// returns its Opener.
type Fresh func(t *testing.T) Opener

// start is the fake clock's initial time, on a whole second so millisecond backends are exact.
var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Run runs the suite against the backend made by fresh.
func Run(t *testing.T, fresh Fresh) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"FIFOAndFields", testFIFO},
		{"IdempotentEnqueue", testIdempotent},
		{"ConcurrentEnqueueSameID", testConcurrentEnqueue},
		{"Validation", testValidation},
		{"LeaseExpiryRedelivers", testExpiry},
		{"ExpiredLeaseIsLostEvenIfNotReleased", testLateAck},
		{"AckTwiceFails", testAckTwice},
		{"ManyExpiredLeasesAllLost", testManyExpired},
		{"ExtendKeepsLease", testExtend},
		{"NackDelay", testNackDelay},
		{"NackWithoutDelayGoesToTail", testNackTail},
		{"MaxAttemptsToDead", testMaxAttempts},
		{"DefaultMaxAttempts", testDefaultMaxAttempts},
		{"ExpiryAtMaxAttemptsToDead", testExpiryDead},
		{"EnqueueRevivesDead", testRevive},
		{"DepthCounts", testDepth},
		{"ReplicasShareQueue", testReplicas},
		{"BlockingLeaseWokenByEnqueue", testWokenByEnqueue},
		{"BlockingLeaseWokenByNack", testWokenByNack},
		{"BlockingLeasesNoLostWakeup", testNoLostWakeup},
		{"ContextEndsLease", testContextEndsLease},
		{"CloseWakesLease", testCloseWakesLease},
		{"RealClockExpiry", testRealClockExpiry},
		{"ExactlyOnce", testExactlyOnce},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &env{clock: NewClock(start), open: fresh(t)})
		})
	}
}

type env struct {
	clock *Clock
	open  Opener
}

// fake opens a replica on the fake clock; cfg.Now is overwritten.
func (e *env) fake(t *testing.T, cfg queue.Config) queue.Queue {
	t.Helper()
	cfg.Now = e.clock.Now
	return e.open(t, cfg)
}

// real opens a replica on the real clock. The poll interval is long so that only a wake-up
// or the next timer can end a blocked Lease within a test's time.
func (e *env) real(t *testing.T, cfg queue.Config) queue.Queue {
	t.Helper()
	cfg.Now = nil
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Minute
	}
	return e.open(t, cfg)
}

// waitLimit bounds every wait that should end promptly, so that a bug fails instead of hanging.
const waitLimit = 5 * time.Second

// quiet is how long a Lease must find nothing to show that no job is visible.
const quiet = 30 * time.Millisecond

func enqueue(t *testing.T, q queue.Queue, j queue.Job) bool {
	t.Helper()
	created, err := q.Enqueue(context.Background(), j)
	if err != nil {
		t.Fatalf("Enqueue %s: %v", j.ID, err)
	}
	return created
}

func mustEnqueue(t *testing.T, q queue.Queue, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if !enqueue(t, q, queue.Job{ID: id, Kind: "scan", Payload: []byte("p-" + id)}) {
			t.Fatalf("Enqueue %s: not created", id)
		}
	}
}

func lease(t *testing.T, q queue.Queue, consumer string, d time.Duration) queue.Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	l, err := q.Lease(ctx, consumer, d)
	if err != nil {
		t.Fatalf("Lease by %s: %v", consumer, err)
	}
	return l
}

// leaseID leases and checks the job and attempt delivered.
func leaseID(t *testing.T, q queue.Queue, consumer string, d time.Duration, id string, attempt int) queue.Lease {
	t.Helper()
	l := lease(t, q, consumer, d)
	if l.ID != id || l.Attempt != attempt {
		t.Fatalf("leased %s attempt %d; want %s attempt %d", l.ID, l.Attempt, id, attempt)
	}
	return l
}

// noLease checks that no job can be leased now.
func noLease(t *testing.T, q queue.Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), quiet)
	defer cancel()
	l, err := q.Lease(ctx, "probe", time.Minute)
	if err == nil {
		t.Fatalf("leased %s (attempt %d); want no job visible", l.ID, l.Attempt)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lease on empty queue: %v; want context.DeadlineExceeded", err)
	}
}

func ack(t *testing.T, q queue.Queue, l queue.Lease) {
	t.Helper()
	if err := q.Ack(context.Background(), l); err != nil {
		t.Fatalf("Ack %s: %v", l.ID, err)
	}
}

func nack(t *testing.T, q queue.Queue, l queue.Lease, after time.Duration, reason string) {
	t.Helper()
	if err := q.Nack(context.Background(), l, after, reason); err != nil {
		t.Fatalf("Nack %s: %v", l.ID, err)
	}
}

func lost(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, queue.ErrLeaseLost) {
		t.Fatalf("%s: %v; want ErrLeaseLost", what, err)
	}
}

// allLost checks that every settling call with l fails with ErrLeaseLost.
func allLost(t *testing.T, q queue.Queue, l queue.Lease) {
	t.Helper()
	ctx := context.Background()
	_, err := q.Extend(ctx, l, time.Minute)
	lost(t, "stale Extend", err)
	lost(t, "stale Nack", q.Nack(ctx, l, 0, "stale"))
	lost(t, "stale Ack", q.Ack(ctx, l))
}

func wantDepth(t *testing.T, q queue.Queue, want queue.Stats) {
	t.Helper()
	got, err := q.Depth(context.Background())
	if err != nil {
		t.Fatalf("Depth: %v", err)
	}
	if got != want {
		t.Fatalf("Depth = %+v; want %+v", got, want)
	}
}

func dead(t *testing.T, q queue.Queue) []queue.DeadJob {
	t.Helper()
	d, err := q.Dead(context.Background())
	if err != nil {
		t.Fatalf("Dead: %v", err)
	}
	return d
}

func sameJob(a, b queue.Job) bool {
	return a.ID == b.ID && a.Kind == b.Kind && bytes.Equal(a.Payload, b.Payload) && a.EnqueuedAt.Equal(b.EnqueuedAt)
}

// Clock is a settable fake clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the current fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
