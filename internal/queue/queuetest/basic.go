package queuetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/queue"
)

func testFIFO(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{})
	given := start.Add(-time.Hour).Add(123456789 * time.Nanosecond)
	jobs := []queue.Job{
		{ID: "j1", Kind: "scan", Payload: []byte(`{"image":"alpine:3.20"}`)},
		// Binary payloads must survive unchanged (NUL, invalid UTF-8).
		{ID: "j2", Kind: "sbom", Payload: []byte{0, 0xff, 0xfe, '\n', 0}},
		{ID: "j3", EnqueuedAt: given},
		{ID: "job with spaces/and:colons{}", Kind: "scan", Payload: []byte("x")},
		{ID: "j5", Kind: "scan", Payload: []byte("last")},
	}
	for _, j := range jobs {
		if !enqueue(t, q, j) {
			t.Fatalf("Enqueue %s: not created", j.ID)
		}
		e.clock.Add(time.Second)
	}
	wantDepth(t, q, queue.Stats{Ready: len(jobs)})
	tokens := make(map[string]bool)
	for i, want := range jobs {
		if want.EnqueuedAt.IsZero() {
			want.EnqueuedAt = start.Add(time.Duration(i) * time.Second)
		}
		l := lease(t, q, "worker-a", 30*time.Second)
		if !sameJob(l.Job, want) {
			t.Fatalf("lease %d: %+v; want %+v", i+1, l.Job, want)
		}
		if l.Attempt != 1 || l.Consumer != "worker-a" || !l.Until.Equal(e.clock.Now().Add(30*time.Second)) {
			t.Fatalf("lease %d: attempt %d, consumer %q, until %v", i+1, l.Attempt, l.Consumer, l.Until)
		}
		if l.Token == "" || tokens[l.Token] {
			t.Fatalf("lease %d: token %q empty or reused", i+1, l.Token)
		}
		tokens[l.Token] = true
	}
	wantDepth(t, q, queue.Stats{Leased: len(jobs)})
	noLease(t, q)
}

// Enqueue must copy the payload: a producer reusing its buffer cannot change a queued job.
func testPayloadCopied(t *testing.T, q queue.Queue) {
	buf := []byte("original")
	enqueue(t, q, queue.Job{ID: "copy", Payload: buf})
	copy(buf, "mutated!")
	l := lease(t, q, "w", time.Minute)
	if string(l.Payload) != "original" {
		t.Fatalf("payload %q; the queue kept the caller's buffer", l.Payload)
	}
	l.Payload[0] = 'X'
	ack(t, q, l)
}

func testIdempotent(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{})
	testPayloadCopied(t, q)
	j := queue.Job{ID: "scan-1", Kind: "scan", Payload: []byte("first")}
	dup := queue.Job{ID: "scan-1", Kind: "other", Payload: []byte("second")}
	if !enqueue(t, q, j) {
		t.Fatal("first Enqueue: not created")
	}
	if enqueue(t, q, dup) {
		t.Fatal("Enqueue of a ready ID: created")
	}
	wantDepth(t, q, queue.Stats{Ready: 1})
	l := leaseID(t, q, "w", time.Minute, "scan-1", 1)
	if l.Kind != "scan" || string(l.Payload) != "first" {
		t.Fatalf("leased %+v; the duplicate replaced the original", l.Job)
	}
	if enqueue(t, q, dup) {
		t.Fatal("Enqueue of a leased ID: created")
	}
	nack(t, q, l, time.Minute, "retry")
	if enqueue(t, q, dup) {
		t.Fatal("Enqueue of a delayed ID: created")
	}
	wantDepth(t, q, queue.Stats{Delayed: 1})
	e.clock.Add(time.Minute)
	l = leaseID(t, q, "w", time.Minute, "scan-1", 2)
	ack(t, q, l)
	// Completed jobs are forgotten: the same ID is a new job.
	if !enqueue(t, q, dup) {
		t.Fatal("Enqueue after Ack: not created")
	}
	l = leaseID(t, q, "w", time.Minute, "scan-1", 1)
	if string(l.Payload) != "second" {
		t.Fatalf("payload %q; want the new job's", l.Payload)
	}
}

func testConcurrentEnqueue(t *testing.T, e *env) {
	a := e.fake(t, queue.Config{})
	b := e.fake(t, queue.Config{})
	var created atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		q := a
		if i%2 == 1 {
			q = b
		}
		wg.Go(func() {
			ok, err := q.Enqueue(context.Background(), queue.Job{ID: "same", Payload: fmt.Appendf(nil, "%d", i)})
			if err != nil {
				t.Error(err)
			}
			if ok {
				created.Add(1)
			}
		})
	}
	wg.Wait()
	if n := created.Load(); n != 1 {
		t.Fatalf("%d of 20 concurrent Enqueues of one ID created it; want 1", n)
	}
	wantDepth(t, a, queue.Stats{Ready: 1})
}

func testValidation(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{})
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, queue.Job{Kind: "scan"}); err == nil {
		t.Fatal("Enqueue without ID: no error")
	}
	if _, err := q.Lease(ctx, "w", 0); err == nil {
		t.Fatal("Lease for 0: no error")
	}
	mustEnqueue(t, q, "a")
	l := lease(t, q, "w", time.Minute)
	if _, err := q.Extend(ctx, l, -time.Second); err == nil {
		t.Fatal("Extend by -1s: no error")
	}
	// A forged lease is refused like a stale one.
	forged := l
	forged.Token += "x"
	allLost(t, q, forged)
	unknown := l
	unknown.ID = "never-enqueued"
	allLost(t, q, unknown)
	wantDepth(t, q, queue.Stats{Leased: 1})
	ack(t, q, l)
}

func testDepth(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{MaxAttempts: 2})
	wantDepth(t, q, queue.Stats{})
	mustEnqueue(t, q, "dead")
	nack(t, q, leaseID(t, q, "w", time.Minute, "dead", 1), 0, "boom")
	nack(t, q, leaseID(t, q, "w", time.Minute, "dead", 2), 0, "boom")
	mustEnqueue(t, q, "delayed", "leased", "ready1", "ready2")
	nack(t, q, leaseID(t, q, "w", time.Minute, "delayed", 1), time.Minute, "later")
	leaseID(t, q, "w", 10*time.Minute, "leased", 1)
	wantDepth(t, q, queue.Stats{Ready: 2, Leased: 1, Delayed: 1, Dead: 1})
	e.clock.Add(time.Minute)
	wantDepth(t, q, queue.Stats{Ready: 3, Leased: 1, Dead: 1})
	e.clock.Add(9 * time.Minute)
	wantDepth(t, q, queue.Stats{Ready: 4, Dead: 1})
}

func testReplicas(t *testing.T, e *env) {
	a := e.fake(t, queue.Config{})
	b := e.fake(t, queue.Config{})
	mustEnqueue(t, a, "r1", "r2")
	if enqueue(t, b, queue.Job{ID: "r1"}) {
		t.Fatal("Enqueue on replica b of an ID queued on a: created")
	}
	l := leaseID(t, b, "on-b", time.Minute, "r1", 1)
	wantDepth(t, a, queue.Stats{Ready: 1, Leased: 1})
	// The lease is the queue's, not the replica's: a can settle it.
	ack(t, a, l)
	lost(t, "Ack on b after Ack on a", b.Ack(context.Background(), l))
	l = leaseID(t, a, "on-a", time.Minute, "r2", 1)
	e.clock.Add(time.Minute)
	l2 := leaseID(t, b, "on-b", time.Minute, "r2", 2)
	allLost(t, a, l)
	ack(t, a, l2)
	wantDepth(t, b, queue.Stats{})
}
