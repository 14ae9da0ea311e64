package queuetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/queue"
)

// settle is how long a test lets a goroutine reach its blocking Lease. The assertions hold
// whether or not it got there; the pause only makes the blocking path the one exercised.
const settle = 30 * time.Millisecond

type leaseResult struct {
	l   queue.Lease
	err error
}

// leaseAsync starts a Lease bounded by waitLimit and returns where its result will arrive.
func leaseAsync(q queue.Queue, consumer string, d time.Duration) <-chan leaseResult {
	ch := make(chan leaseResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		l, err := q.Lease(ctx, consumer, d)
		ch <- leaseResult{l, err}
	}()
	return ch
}

func receive(t *testing.T, ch <-chan leaseResult) queue.Lease {
	t.Helper()
	r := <-ch
	if r.err != nil {
		t.Fatalf("blocked Lease: %v", r.err)
	}
	return r.l
}

// The poll interval is a minute and waitLimit 5 s, so only the wake-up can deliver in time.
func testWokenByEnqueue(t *testing.T, e *env) {
	a := e.real(t, queue.Config{})
	b := e.real(t, queue.Config{})
	ch := leaseAsync(b, "on-b", time.Minute)
	time.Sleep(settle)
	mustEnqueue(t, a, "j")
	if l := receive(t, ch); l.ID != "j" || l.Attempt != 1 {
		t.Fatalf("woken Lease got %s attempt %d", l.ID, l.Attempt)
	}
}

func testWokenByNack(t *testing.T, e *env) {
	a := e.real(t, queue.Config{})
	b := e.real(t, queue.Config{})
	mustEnqueue(t, a, "j")
	l := leaseID(t, a, "on-a", time.Minute, "j", 1)
	ch := leaseAsync(b, "on-b", time.Minute)
	time.Sleep(settle)
	nack(t, a, l, 0, "handing over")
	if l := receive(t, ch); l.ID != "j" || l.Attempt != 2 {
		t.Fatalf("woken Lease got %s attempt %d", l.ID, l.Attempt)
	}
}

// Several blocked consumers and a burst of jobs: every consumer must get one, none may sleep
// through a wake-up that came while another consumer was busy.
func testNoLostWakeup(t *testing.T, e *env) {
	const n = 6
	qs := []queue.Queue{e.real(t, queue.Config{}), e.real(t, queue.Config{})}
	var chs []<-chan leaseResult
	for i := range n {
		chs = append(chs, leaseAsync(qs[i%2], "c", time.Minute))
	}
	time.Sleep(settle)
	for i := range n {
		mustEnqueue(t, qs[i%2], string(rune('a'+i)))
	}
	got := make(map[string]bool)
	for _, ch := range chs {
		l := receive(t, ch)
		if got[l.ID] {
			t.Fatalf("job %s delivered twice", l.ID)
		}
		got[l.ID] = true
	}
	wantDepth(t, qs[0], queue.Stats{Leased: n})
}

func testContextEndsLease(t *testing.T, e *env) {
	q := e.real(t, queue.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := q.Lease(ctx, "w", time.Minute)
		done <- err
	}()
	time.Sleep(settle)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Lease after cancel: %v; want context.Canceled", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("cancel did not unblock Lease")
	}

	ctx, cancel = context.WithTimeout(context.Background(), settle)
	defer cancel()
	if _, err := q.Lease(ctx, "w", time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lease past deadline: %v; want context.DeadlineExceeded", err)
	}

	// A consumer that is already shutting down must not take a job it cannot run.
	mustEnqueue(t, q, "j")
	if _, err := q.Lease(ctx, "w", time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lease with ended ctx: %v; want context.DeadlineExceeded", err)
	}
	wantDepth(t, q, queue.Stats{Ready: 1})
}

func testCloseWakesLease(t *testing.T, e *env) {
	q := e.real(t, queue.Config{})
	ch := leaseAsync(q, "w", time.Minute)
	time.Sleep(settle)
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r := <-ch; !errors.Is(r.err, queue.ErrClosed) {
		t.Fatalf("blocked Lease after Close: %+v; want ErrClosed", r)
	}
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, queue.Job{ID: "j"}); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Enqueue after Close: %v; want ErrClosed", err)
	}
	if _, err := q.Lease(ctx, "w", time.Minute); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Lease after Close: %v; want ErrClosed", err)
	}
	if _, err := q.Depth(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Depth after Close: %v; want ErrClosed", err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// On the real clock a blocked Lease must wake when a lease runs out, with no enqueue to
// wake it, and a heartbeat must hold a lease past its first term.
func testRealClockExpiry(t *testing.T, e *env) {
	a := e.real(t, queue.Config{})
	b := e.real(t, queue.Config{})
	mustEnqueue(t, a, "dies")
	la := leaseID(t, a, "a", 100*time.Millisecond, "dies", 1)
	lb := receive(t, leaseAsync(b, "b", time.Minute))
	if lb.ID != "dies" || lb.Attempt != 2 || lb.Consumer != "b" {
		t.Fatalf("after expiry b got %s attempt %d", lb.ID, lb.Attempt)
	}
	allLost(t, a, la)
	ack(t, b, lb)

	// A heartbeat right after leasing carries the lease past its first term. (Sleeping
	// between several heartbeats would make the test depend on the scheduler.)
	mustEnqueue(t, a, "beats")
	l := leaseID(t, a, "a", 300*time.Millisecond, "beats", 1)
	l, err := a.Extend(context.Background(), l, time.Minute)
	if err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	time.Sleep(350 * time.Millisecond)
	wantDepth(t, b, queue.Stats{Leased: 1})
	ack(t, a, l)
}
