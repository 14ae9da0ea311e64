package queuetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/queue"
)

// testExactlyOnce runs consumers on two replicas while jobs are being enqueued. Two consumers
// die holding a job and one stalls past its lease and then acks (the Ack must fail); their
// leases run out while the others are still working. In the end every job must have been
// acked exactly once in total.
//
// The doomed deliveries are made before the consumers start, so that they happen whatever the
// scheduler does; everything after that runs concurrently.
func testExactlyOnce(t *testing.T, e *env) {
	const (
		jobs     = 200
		healthy  = 6
		leaseFor = 50 * time.Millisecond
		// work is each job's processing time: it spreads the jobs over all consumers and
		// makes the run outlast the doomed leases.
		work = 2 * time.Millisecond
	)
	// Enough attempts that a slow consumer losing a lease cannot kill a job.
	cfg := queue.Config{MaxAttempts: 100}
	replicas := []queue.Queue{e.real(t, cfg), e.real(t, cfg)}
	id := func(i int) string { return fmt.Sprintf("job-%03d", i) }

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var (
		mu          sync.Mutex
		acked       = make(map[string]int)
		total       int
		redelivered int // acked deliveries with Attempt > 1
		allDone     = make(chan struct{})
	)
	record := func(l queue.Lease) {
		mu.Lock()
		defer mu.Unlock()
		acked[l.ID]++
		total++
		if l.Attempt > 1 {
			redelivered++
		}
		if total == jobs {
			close(allDone)
		}
	}

	// The first jobs, and the doomed deliveries: two crashed workers, one stalled.
	for i := range 10 {
		mustEnqueue(t, replicas[i%2], id(i))
	}
	leaseID(t, replicas[0], "crashed-0", leaseFor, id(0), 1)
	leaseID(t, replicas[1], "crashed-1", leaseFor, id(1), 1)
	stalled := leaseID(t, replicas[1], "stalled", leaseFor, id(2), 1)

	var wg sync.WaitGroup
	consume := func(q queue.Queue, name string) {
		for {
			l, err := q.Lease(ctx, name, leaseFor)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("%s: Lease: %v", name, err)
				}
				return
			}
			time.Sleep(work)
			switch err := q.Ack(context.Background(), l); {
			case err == nil:
				record(l)
			case errors.Is(err, queue.ErrLeaseLost):
				// A healthy consumer descheduled past its lease (possible under -race): the
				// job is redelivered, which is what the test is about.
			default:
				t.Errorf("%s: Ack: %v", name, err)
				return
			}
		}
	}
	wg.Go(func() {
		time.Sleep(leaseFor + 250*time.Millisecond)
		if err := replicas[1].Ack(context.Background(), stalled); !errors.Is(err, queue.ErrLeaseLost) {
			t.Errorf("stalled: Ack after the lease ran out: %v; want ErrLeaseLost", err)
			if err == nil {
				record(stalled)
			}
		}
		consume(replicas[1], "stalled")
	})
	for c := range healthy {
		wg.Go(func() { consume(replicas[c%2], fmt.Sprintf("consumer-%d", c)) })
	}
	for p := range 2 { // producers, one per replica, on disjoint IDs
		wg.Go(func() {
			for i := 10 + p; i < jobs; i += 2 {
				if _, err := replicas[p].Enqueue(ctx, queue.Job{ID: id(i), Kind: "scan"}); err != nil {
					t.Errorf("Enqueue: %v", err)
					return
				}
			}
		})
	}
	select {
	case <-allDone:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	for i := range jobs {
		if n := acked[id(i)]; n != 1 {
			t.Errorf("%s acked %d times; want exactly once", id(i), n)
		}
	}
	// The three doomed jobs could only be completed by a redelivery.
	if redelivered < 3 {
		t.Errorf("%d acks of redelivered jobs; want at least 3", redelivered)
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, q := range replicas {
		wantDepth(t, q, queue.Stats{})
	}
}
