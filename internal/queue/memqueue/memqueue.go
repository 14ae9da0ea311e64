// Package memqueue is the in-process queue.Queue of embedded (single-process) mode.
//
// All state sits behind one mutex. Timers (lease expiry, retry delays) are applied lazily by
// whichever call runs next, and a blocked Lease sleeps until the next timer is due, so the
// queue owns no goroutine and Close has nothing to stop but the waiting Lease calls.
package memqueue

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/stellaops/stellaops/internal/queue"
)

var _ queue.Queue = (*Queue)(nil)

type state int

const (
	ready state = iota
	delayed
	leased
	dead
)

type entry struct {
	job      queue.Job
	state    state
	attempts int    // deliveries so far
	token    string // current delivery's token while leased
	due      time.Time
	reason   string
	diedAt   time.Time
	order    uint64 // when it entered its current state: heap tie-break and dead-list order
	index    int    // position in timers while delayed or leased
}

// Queue is an in-memory queue.Queue, safe for concurrent use.
type Queue struct {
	cfg queue.Config

	mu     sync.Mutex
	jobs   map[string]*entry // every job not yet acked, dead ones included
	ready  []*entry          // FIFO
	timers timerHeap         // delayed and leased jobs by due time
	nDead  int
	seq    uint64
	// changed is closed (and replaced) when a job becomes ready, to wake blocked Leases.
	changed chan struct{}
	closed  chan struct{}
}

// New returns an empty queue.
func New(cfg queue.Config) (*Queue, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Queue{
		cfg:     cfg,
		jobs:    make(map[string]*entry),
		changed: make(chan struct{}),
		closed:  make(chan struct{}),
	}, nil
}

// Enqueue implements queue.Queue.
func (q *Queue) Enqueue(ctx context.Context, job queue.Job) (bool, error) {
	if err := queue.ValidateJob(job); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("queue: enqueue %s: %w", job.ID, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.checkOpenLocked(); err != nil {
		return false, err
	}
	if e, ok := q.jobs[job.ID]; ok {
		if e.state != dead {
			return false, nil
		}
		q.nDead--
	}
	if job.EnqueuedAt.IsZero() {
		job.EnqueuedAt = q.cfg.Now()
	}
	job.EnqueuedAt = job.EnqueuedAt.Round(0)
	// Copied so that the caller may reuse its buffer.
	job.Payload = slices.Clone(job.Payload)
	e := &entry{job: job, index: -1}
	q.jobs[job.ID] = e
	q.makeReadyLocked(e)
	return true, nil
}

// Lease implements queue.Queue.
func (q *Queue) Lease(ctx context.Context, consumer string, d time.Duration) (queue.Lease, error) {
	if err := queue.ValidateDuration(d); err != nil {
		return queue.Lease{}, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return queue.Lease{}, fmt.Errorf("queue: lease: %w", err)
		}
		q.mu.Lock()
		if err := q.checkOpenLocked(); err != nil {
			q.mu.Unlock()
			return queue.Lease{}, err
		}
		now := q.cfg.Now()
		q.advanceLocked(now)
		if len(q.ready) > 0 {
			e := q.ready[0]
			q.ready[0] = nil
			q.ready = q.ready[1:]
			l := q.deliverLocked(e, consumer, now, d)
			q.mu.Unlock()
			return l, nil
		}
		wait := q.cfg.PollInterval
		if len(q.timers) > 0 {
			wait = min(wait, q.timers[0].due.Sub(now))
		}
		changed := q.changed
		q.mu.Unlock()

		t := time.NewTimer(wait)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
		case <-q.closed:
		}
		t.Stop()
	}
}

// Extend implements queue.Queue.
func (q *Queue) Extend(ctx context.Context, l queue.Lease, d time.Duration) (queue.Lease, error) {
	if err := queue.ValidateDuration(d); err != nil {
		return queue.Lease{}, err
	}
	if err := ctx.Err(); err != nil {
		return queue.Lease{}, fmt.Errorf("queue: extend %s: %w", l.ID, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now, e, err := q.holderLocked(l)
	if err != nil {
		return queue.Lease{}, err
	}
	e.due = now.Add(d)
	heap.Fix(&q.timers, e.index)
	l.Until = e.due
	return l, nil
}

// Ack implements queue.Queue.
func (q *Queue) Ack(ctx context.Context, l queue.Lease) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("queue: ack %s: %w", l.ID, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	_, e, err := q.holderLocked(l)
	if err != nil {
		return err
	}
	heap.Remove(&q.timers, e.index)
	delete(q.jobs, e.job.ID)
	return nil
}

// Nack implements queue.Queue.
func (q *Queue) Nack(ctx context.Context, l queue.Lease, retryAfter time.Duration, reason string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("queue: nack %s: %w", l.ID, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now, e, err := q.holderLocked(l)
	if err != nil {
		return err
	}
	heap.Remove(&q.timers, e.index)
	q.failLocked(e, now, reason, retryAfter)
	return nil
}

// Dead implements queue.Queue.
func (q *Queue) Dead(ctx context.Context) ([]queue.DeadJob, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("queue: dead: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.checkOpenLocked(); err != nil {
		return nil, err
	}
	q.advanceLocked(q.cfg.Now())
	var es []*entry
	for _, e := range q.jobs {
		if e.state == dead {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b *entry) int { return cmp.Compare(a.order, b.order) })
	out := make([]queue.DeadJob, len(es))
	for i, e := range es {
		j := e.job
		j.Payload = slices.Clone(j.Payload)
		out[i] = queue.DeadJob{Job: j, Attempts: e.attempts, Reason: e.reason, DiedAt: e.diedAt}
	}
	return out, nil
}

// Depth implements queue.Queue.
func (q *Queue) Depth(ctx context.Context) (queue.Stats, error) {
	if err := ctx.Err(); err != nil {
		return queue.Stats{}, fmt.Errorf("queue: depth: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.checkOpenLocked(); err != nil {
		return queue.Stats{}, err
	}
	q.advanceLocked(q.cfg.Now())
	s := queue.Stats{Ready: len(q.ready), Dead: q.nDead}
	for _, e := range q.timers {
		if e.state == leased {
			s.Leased++
		} else {
			s.Delayed++
		}
	}
	return s, nil
}

// Close implements queue.Queue.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	select {
	case <-q.closed:
	default:
		close(q.closed)
	}
	return nil
}

func (q *Queue) checkOpenLocked() error {
	select {
	case <-q.closed:
		return queue.ErrClosed
	default:
		return nil
	}
}

// holderLocked applies due timers and returns the entry l holds; ErrLeaseLost if l's token is
// not the current one or the lease ran out (even if nobody has taken the job yet).
func (q *Queue) holderLocked(l queue.Lease) (time.Time, *entry, error) {
	if err := q.checkOpenLocked(); err != nil {
		return time.Time{}, nil, err
	}
	now := q.cfg.Now()
	q.advanceLocked(now)
	e, ok := q.jobs[l.ID]
	if !ok || e.state != leased || e.token != l.Token {
		return now, nil, fmt.Errorf("queue: job %s: %w", l.ID, queue.ErrLeaseLost)
	}
	return now, e, nil
}

func (q *Queue) deliverLocked(e *entry, consumer string, now time.Time, d time.Duration) queue.Lease {
	q.seq++
	e.attempts++
	e.token = strconv.FormatUint(q.seq, 10)
	e.state = leased
	e.due = now.Add(d)
	e.order = q.seq
	heap.Push(&q.timers, e)
	j := e.job
	j.Payload = slices.Clone(j.Payload)
	return queue.Lease{Job: j, Consumer: consumer, Attempt: e.attempts, Token: e.token, Until: e.due}
}

// advanceLocked moves every job whose lease or delay ran out by now, in due order.
func (q *Queue) advanceLocked(now time.Time) {
	for len(q.timers) > 0 && !now.Before(q.timers[0].due) {
		e := heap.Pop(&q.timers).(*entry)
		if e.state == delayed {
			q.makeReadyLocked(e)
		} else {
			// It failed when the lease ran out, not when this call noticed.
			q.failLocked(e, e.due, queue.ReasonLeaseExpired, 0)
		}
	}
}

// failLocked ends a delivery of e (no longer in timers) that failed at now: dead after
// MaxAttempts, else ready again after retryAfter.
func (q *Queue) failLocked(e *entry, now time.Time, reason string, retryAfter time.Duration) {
	e.token = ""
	e.reason = reason
	q.seq++
	e.order = q.seq
	switch {
	case e.attempts >= q.cfg.MaxAttempts:
		e.state = dead
		e.diedAt = now
		q.nDead++
	case retryAfter > 0:
		e.state = delayed
		e.due = now.Add(retryAfter)
		heap.Push(&q.timers, e)
	default:
		q.makeReadyLocked(e)
	}
}

func (q *Queue) makeReadyLocked(e *entry) {
	e.state = ready
	q.ready = append(q.ready, e)
	close(q.changed)
	q.changed = make(chan struct{})
}

// timerHeap orders delayed and leased entries by due time, then by when they got there.
type timerHeap []*entry

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].order < h[j].order
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	return e
}
