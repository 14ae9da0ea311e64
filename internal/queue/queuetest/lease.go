package queuetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/queue"
)

func testExpiry(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{})
	mustEnqueue(t, q, "j")
	la := leaseID(t, q, "a", 10*time.Second, "j", 1)
	e.clock.Add(9 * time.Second)
	noLease(t, q)
	e.clock.Add(time.Second) // a died: its lease runs out
	lb := leaseID(t, q, "b", 10*time.Second, "j", 2)
	if lb.Consumer != "b" || lb.Token == la.Token || !sameJob(lb.Job, la.Job) {
		t.Fatalf("redelivery %+v; want the same job to b with a new token (old %q)", lb, la.Token)
	}
	// a comes back: everything it tries fails and b's lease is untouched.
	allLost(t, q, la)
	wantDepth(t, q, queue.Stats{Leased: 1})
	e.clock.Add(9 * time.Second)
	ack(t, q, lb)
	wantDepth(t, q, queue.Stats{})
	if d := dead(t, q); len(d) != 0 {
		t.Fatalf("Dead = %+v; want none", d)
	}
}

// A lease is lost when it runs out, even if no one else has leased the job yet: the outcome
// must not depend on whether another consumer happened to poll first.
func testLateAck(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{})
	mustEnqueue(t, q, "j")
	l := leaseID(t, q, "a", 10*time.Second, "j", 1)
	e.clock.Add(10*time.Second - time.Millisecond)
	l, err := q.Extend(context.Background(), l, 10*time.Second)
	if err != nil {
		t.Fatalf("Extend 1ms before Until: %v", err)
	}
	e.clock.Add(10 * time.Second)
	lost(t, "Ack at Until", q.Ack(context.Background(), l))
	wantDepth(t, q, queue.Stats{Ready: 1})
	leaseID(t, q, "a", time.Second, "j", 2)
}

func testAckTwice(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{})
	mustEnqueue(t, q, "j", "k")
	l := leaseID(t, q, "a", time.Minute, "j", 1)
	ack(t, q, l)
	allLost(t, q, l)
	l = leaseID(t, q, "a", time.Minute, "k", 1)
	nack(t, q, l, 0, "retry")
	allLost(t, q, l)
	wantDepth(t, q, queue.Stats{Ready: 1})
}

func testExtend(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{})
	mustEnqueue(t, q, "j")
	l := leaseID(t, q, "a", 10*time.Second, "j", 1)
	orig := l
	for range 5 { // heartbeats keep the job for 40 s on a 10 s lease
		e.clock.Add(8 * time.Second)
		nl, err := q.Extend(context.Background(), l, 10*time.Second)
		if err != nil {
			t.Fatalf("Extend: %v", err)
		}
		if nl.Token != l.Token || nl.Attempt != 1 || !nl.Until.Equal(e.clock.Now().Add(10*time.Second)) {
			t.Fatalf("Extend = %+v; want same token, Until now+10s", nl)
		}
		l = nl
		noLease(t, q)
	}
	e.clock.Add(9 * time.Second)
	wantDepth(t, q, queue.Stats{Leased: 1})
	// The first Lease value is still good: the token, not Until, identifies the delivery.
	ack(t, q, orig)
	wantDepth(t, q, queue.Stats{})
}

func testNackDelay(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{})
	mustEnqueue(t, q, "j")
	l := leaseID(t, q, "a", time.Minute, "j", 1)
	nack(t, q, l, 5*time.Second, "registry timeout")
	wantDepth(t, q, queue.Stats{Delayed: 1})
	noLease(t, q)
	e.clock.Add(5*time.Second - time.Millisecond)
	noLease(t, q)
	e.clock.Add(time.Millisecond)
	l = leaseID(t, q, "b", time.Minute, "j", 2)
	// Negative delays mean "now".
	nack(t, q, l, -time.Second, "again")
	leaseID(t, q, "b", time.Minute, "j", 3)
}

func testNackTail(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{})
	mustEnqueue(t, q, "a", "b")
	la := leaseID(t, q, "w", time.Minute, "a", 1)
	mustEnqueue(t, q, "c")
	nack(t, q, la, 0, "retry")
	for _, id := range []string{"b", "c"} {
		leaseID(t, q, "w", time.Minute, id, 1)
	}
	leaseID(t, q, "w", time.Minute, "a", 2)
}

func testMaxAttempts(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{MaxAttempts: 3})
	j := queue.Job{ID: "poison", Kind: "scan", Payload: []byte{1, 2, 3}}
	enqueue(t, q, j)
	j.EnqueuedAt = start
	for n := 1; n <= 3; n++ {
		l := leaseID(t, q, "w", time.Minute, "poison", n)
		e.clock.Add(time.Second)
		nack(t, q, l, time.Second, "failure "+string(rune('0'+n)))
		e.clock.Add(time.Second)
	}
	noLease(t, q)
	wantDepth(t, q, queue.Stats{Dead: 1})
	d := dead(t, q)
	if len(d) != 1 {
		t.Fatalf("Dead = %+v; want the poison job", d)
	}
	died := start.Add(5 * time.Second) // third Nack: 2 s per round, 1 s into the third
	if !sameJob(d[0].Job, j) || d[0].Attempts != 3 || d[0].Reason != "failure 3" || !d[0].DiedAt.Equal(died) {
		t.Fatalf("dead job %+v; want %+v, 3 attempts, reason %q, died %v", d[0], j, "failure 3", died)
	}
}

func testDefaultMaxAttempts(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{})
	mustEnqueue(t, q, "j")
	for n := 1; n <= queue.DefaultMaxAttempts; n++ {
		nack(t, q, leaseID(t, q, "w", time.Minute, "j", n), 0, "fail")
	}
	wantDepth(t, q, queue.Stats{Dead: 1})
	if d := dead(t, q); len(d) != 1 || d[0].Attempts != queue.DefaultMaxAttempts {
		t.Fatalf("Dead = %+v; want j after %d attempts", d, queue.DefaultMaxAttempts)
	}
}

// Workers that keep dying on a job (it crashes them) kill it too.
func testExpiryDead(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{MaxAttempts: 2})
	mustEnqueue(t, q, "crasher", "other")
	l := leaseID(t, q, "a", 10*time.Second, "crasher", 1)
	leaseID(t, q, "a", time.Hour, "other", 1)
	e.clock.Add(10 * time.Second)
	leaseID(t, q, "b", 10*time.Second, "crasher", 2)
	allLost(t, q, l)
	e.clock.Add(15 * time.Second) // noticed 5 s late
	wantDepth(t, q, queue.Stats{Leased: 1, Dead: 1})
	d := dead(t, q)
	if len(d) != 1 || d[0].ID != "crasher" || d[0].Attempts != 2 || d[0].Reason != queue.ReasonLeaseExpired {
		t.Fatalf("Dead = %+v; want crasher, 2 attempts, %q", d, queue.ReasonLeaseExpired)
	}
	if !d[0].DiedAt.Equal(start.Add(20 * time.Second)) {
		t.Fatalf("DiedAt %v; want when the lease ran out, %v", d[0].DiedAt, start.Add(20*time.Second))
	}
}

func testRevive(t *testing.T, e *env) {
	q := e.fake(t, queue.Config{MaxAttempts: 1})
	mustEnqueue(t, q, "a", "b", "c")
	for _, id := range []string{"a", "b", "c"} {
		nack(t, q, leaseID(t, q, "w", time.Minute, id, 1), 0, "fail "+id)
		e.clock.Add(time.Second)
	}
	d := dead(t, q)
	if len(d) != 3 || d[0].ID != "a" || d[1].ID != "b" || d[2].ID != "c" {
		t.Fatalf("Dead = %+v; want a, b, c in order of death", d)
	}
	// Re-enqueueing a dead ID is an explicit retry: it leaves the dead list, starts over.
	if !enqueue(t, q, queue.Job{ID: "b", Kind: "scan", Payload: []byte("v2")}) {
		t.Fatal("Enqueue of a dead ID: not created")
	}
	wantDepth(t, q, queue.Stats{Ready: 1, Dead: 2})
	if d := dead(t, q); len(d) != 2 || d[0].ID != "a" || d[1].ID != "c" {
		t.Fatalf("Dead = %+v; want a, c", d)
	}
	l := leaseID(t, q, "w", time.Minute, "b", 1)
	if string(l.Payload) != "v2" || !l.EnqueuedAt.Equal(e.clock.Now()) {
		t.Fatalf("revived job %+v; want the new payload and enqueue time", l.Job)
	}
	ack(t, q, l)
	wantDepth(t, q, queue.Stats{Dead: 2})
}

// Backends may apply expired leases in batches; a lease past its deadline must be lost even
// if its batch has not been applied yet. Acks go newest first, so the first ones hit the
// leases a batch would reach last.
func testManyExpired(t *testing.T, e *env) {
	const n = 150
	q := e.fake(t, queue.Config{})
	var ls []queue.Lease
	for i := range n {
		mustEnqueue(t, q, fmt.Sprintf("job-%03d", i))
	}
	for range n {
		ls = append(ls, lease(t, q, "w", time.Minute))
	}
	e.clock.Add(time.Minute)
	for i := n - 1; i >= 0; i-- {
		lost(t, "Ack of "+ls[i].ID, q.Ack(context.Background(), ls[i]))
	}
	wantDepth(t, q, queue.Stats{Ready: n})
}
