// Package redisqueue is the Redis queue.Queue of scale mode: several worker processes (and
// API replicas enqueueing) share one queue in Redis.
//
// Ready jobs are a list; delayed and leased jobs are sorted sets scored by due time; job
// attributes are hashes keyed by job ID. Every operation is one Lua script, so each state
// transition - including the fencing-token check of Ack, Nack and Extend - is atomic on the
// server. Redis Streams were not used: XACK does not check which delivery acks, so a worker
// whose entry was XAUTOCLAIMed could still ack it, and streams have no delayed retry.
//
// Expired leases and due retries are applied lazily by the next script, so there is no
// sweeper process. A blocked Lease sleeps until the next due time and is woken early by a
// pub/sub message that every script making a job ready publishes. A message wakes every
// blocked Lease of every replica; one takes the job and the others sleep again, which costs
// little at the scale of a worker pool.
//
// All keys of a queue share one hash tag, so the scripts also run on Redis Cluster. Redis 5
// or newer is required (scripts read TIME before writing).
package redisqueue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stellaops/stellaops/internal/queue"
)

// DefaultPrefix is the key prefix used when New is given none.
const DefaultPrefix = "stellaops:queue:scan"

var _ queue.Queue = (*Queue)(nil)

// Queue is a queue.Queue on Redis, safe for concurrent use. Instances on the same Redis and
// prefix are replicas of one queue.
type Queue struct {
	c       redis.UniversalClient
	cfg     queue.Config
	base    string
	keys    []string
	channel string

	// subMu serialises subscribing, which is done by the first Lease: instances that only
	// enqueue never hold a pub/sub connection.
	subMu   sync.Mutex
	subDone chan struct{} // closed when the listener goroutine has ended

	mu      sync.Mutex
	closed  bool
	done    chan struct{} // closed by Close
	sub     *redis.PubSub
	changed chan struct{} // closed and replaced on every wake-up message
}

// New returns a queue on c under prefix (DefaultPrefix if empty). A prefix without a hash tag
// is wrapped in one ("{prefix}"), so all keys of the queue land in one Cluster slot. c is not
// closed by Close.
func New(c redis.UniversalClient, prefix string, cfg queue.Config) (*Queue, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	base := prefix
	if !hasHashTag(prefix) {
		base = "{" + prefix + "}"
	}
	keys := make([]string, len(keyNames))
	for i, n := range keyNames {
		keys[i] = base + ":" + n
	}
	return &Queue{
		c:       c,
		cfg:     cfg,
		base:    base,
		keys:    keys,
		channel: base + ":wake",
		subDone: make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}, nil
}

// hasHashTag reports whether keys starting with prefix hash by a tag in prefix: Redis uses
// what lies between the first '{' and the next '}', if that is not empty.
func hasHashTag(prefix string) bool {
	i := strings.IndexByte(prefix, '{')
	return i >= 0 && strings.IndexByte(prefix[i+1:], '}') > 0
}

// Prefix is the start of every key of q, for cleanup and inspection.
func (q *Queue) Prefix() string { return q.base }

// Enqueue implements queue.Queue.
func (q *Queue) Enqueue(ctx context.Context, job queue.Job) (bool, error) {
	if err := queue.ValidateJob(job); err != nil {
		return false, err
	}
	if job.EnqueuedAt.IsZero() {
		job.EnqueuedAt = q.localNow()
	}
	r, err := q.run(ctx, enqueueScript, job.ID, job.Kind, job.Payload, strconv.FormatInt(job.EnqueuedAt.UnixNano(), 10))
	if err != nil {
		return false, fmt.Errorf("queue: enqueue %s: %w", job.ID, err)
	}
	n, err := asInt(r)
	if err != nil {
		return false, fmt.Errorf("queue: enqueue %s: %w", job.ID, err)
	}
	return n == 1, nil
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
		if err := q.listen(ctx); err != nil {
			return queue.Lease{}, err
		}
		// Taken before the script runs, so that a job enqueued after the script looked
		// closes this channel and cannot be missed.
		changed, err := q.changedCh()
		if err != nil {
			return queue.Lease{}, err
		}
		r, err := q.run(ctx, leaseScript, millis(d))
		if err != nil {
			return queue.Lease{}, fmt.Errorf("queue: lease: %w", err)
		}
		l, wait, err := decodeLease(r)
		if err != nil {
			return queue.Lease{}, fmt.Errorf("queue: lease: %w", err)
		}
		if l != nil {
			l.Consumer = consumer
			return *l, nil
		}
		if wait < 0 || wait > q.cfg.PollInterval {
			wait = q.cfg.PollInterval
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
		case <-q.done:
		}
		t.Stop()
	}
}

// Extend implements queue.Queue.
func (q *Queue) Extend(ctx context.Context, l queue.Lease, d time.Duration) (queue.Lease, error) {
	if err := queue.ValidateDuration(d); err != nil {
		return queue.Lease{}, err
	}
	r, err := q.run(ctx, extendScript, l.ID, l.Token, millis(d))
	if err != nil {
		return queue.Lease{}, fmt.Errorf("queue: extend %s: %w", l.ID, err)
	}
	ms, err := asInt(r)
	if err != nil {
		return queue.Lease{}, fmt.Errorf("queue: extend %s: %w", l.ID, err)
	}
	if ms < 0 {
		return queue.Lease{}, fmt.Errorf("queue: extend %s: %w", l.ID, queue.ErrLeaseLost)
	}
	l.Until = time.UnixMilli(ms)
	return l, nil
}

// Ack implements queue.Queue.
func (q *Queue) Ack(ctx context.Context, l queue.Lease) error {
	return q.settle(ctx, "ack", l, ackScript, l.ID, l.Token)
}

// Nack implements queue.Queue.
func (q *Queue) Nack(ctx context.Context, l queue.Lease, retryAfter time.Duration, reason string) error {
	var ms int64
	if retryAfter > 0 {
		ms = millis(retryAfter)
	}
	return q.settle(ctx, "nack", l, nackScript, l.ID, l.Token, ms, reason)
}

func (q *Queue) settle(ctx context.Context, op string, l queue.Lease, s *redis.Script, args ...any) error {
	r, err := q.run(ctx, s, args...)
	if err != nil {
		return fmt.Errorf("queue: %s %s: %w", op, l.ID, err)
	}
	n, err := asInt(r)
	if err != nil {
		return fmt.Errorf("queue: %s %s: %w", op, l.ID, err)
	}
	if n != 1 {
		return fmt.Errorf("queue: %s %s: %w", op, l.ID, queue.ErrLeaseLost)
	}
	return nil
}

// Dead implements queue.Queue.
func (q *Queue) Dead(ctx context.Context) ([]queue.DeadJob, error) {
	r, err := q.run(ctx, deadScript)
	if err != nil {
		return nil, fmt.Errorf("queue: dead: %w", err)
	}
	rows, ok := r.([]any)
	if !ok {
		return nil, fmt.Errorf("queue: dead: unexpected reply %T", r)
	}
	out := make([]queue.DeadJob, 0, len(rows))
	for _, row := range rows {
		f, ok := row.([]any)
		if !ok || len(f) != 7 {
			return nil, fmt.Errorf("queue: dead: unexpected row %v", row)
		}
		j, err := decodeJob(f[0], f[1], f[2], f[3])
		if err != nil {
			return nil, fmt.Errorf("queue: dead: %w", err)
		}
		attempts, err1 := asInt(f[4])
		died, err2 := asInt(f[6])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("queue: dead: %w", err)
		}
		reason, _ := f[5].(string)
		out = append(out, queue.DeadJob{Job: j, Attempts: int(attempts), Reason: reason, DiedAt: time.UnixMilli(died)})
	}
	return out, nil
}

// Depth implements queue.Queue.
func (q *Queue) Depth(ctx context.Context) (queue.Stats, error) {
	r, err := q.run(ctx, depthScript)
	if err != nil {
		return queue.Stats{}, fmt.Errorf("queue: depth: %w", err)
	}
	f, ok := r.([]any)
	if !ok || len(f) != 4 {
		return queue.Stats{}, fmt.Errorf("queue: depth: unexpected reply %v", r)
	}
	var n [4]int64
	for i := range n {
		if n[i], err = asInt(f[i]); err != nil {
			return queue.Stats{}, fmt.Errorf("queue: depth: %w", err)
		}
	}
	return queue.Stats{Ready: int(n[0]), Leased: int(n[1]), Delayed: int(n[2]), Dead: int(n[3])}, nil
}

// Close implements queue.Queue. It ends the pub/sub subscription and wakes blocked Lease calls
// with queue.ErrClosed; the client and the jobs in Redis are left alone.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	close(q.done)
	sub := q.sub
	q.mu.Unlock()
	if sub == nil {
		return nil
	}
	err := sub.Close()
	<-q.subDone
	if err != nil {
		return fmt.Errorf("queue: close: %w", err)
	}
	return nil
}

// listen subscribes to the wake-up channel once and starts the goroutine relaying its
// messages to blocked Lease calls; Close ends both.
func (q *Queue) listen(ctx context.Context) error {
	q.subMu.Lock()
	defer q.subMu.Unlock()
	q.mu.Lock()
	closed, subscribed := q.closed, q.sub != nil
	q.mu.Unlock()
	if closed {
		return queue.ErrClosed
	}
	if subscribed {
		return nil
	}
	sub := q.c.Subscribe(ctx, q.channel)
	// Wait for the confirmation: from then on no wake-up is missed.
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return fmt.Errorf("queue: subscribe %s: %w", q.channel, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		sub.Close()
		return queue.ErrClosed
	}
	q.sub = sub
	// With subscriptions, so that a resubscription after a reconnect (when messages may
	// have been lost) wakes everyone too.
	msgs := sub.ChannelWithSubscriptions()
	go func() {
		defer close(q.subDone)
		for range msgs {
			q.wake()
		}
	}()
	return nil
}

func (q *Queue) wake() {
	q.mu.Lock()
	defer q.mu.Unlock()
	close(q.changed)
	q.changed = make(chan struct{})
}

func (q *Queue) changedCh() (<-chan struct{}, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, queue.ErrClosed
	}
	return q.changed, nil
}

// run runs s with the common arguments (see prelude) followed by args.
func (q *Queue) run(ctx context.Context, s *redis.Script, args ...any) (any, error) {
	q.mu.Lock()
	closed := q.closed
	q.mu.Unlock()
	if closed {
		return nil, queue.ErrClosed
	}
	now := int64(-1)
	if q.cfg.Now != nil {
		now = q.cfg.Now().UnixMilli()
	}
	argv := append([]any{now, q.cfg.MaxAttempts, q.channel}, args...)
	return s.Run(ctx, q.c, q.keys, argv...).Result()
}

// localNow stamps EnqueuedAt; it is informational, so the local clock is good enough even
// when leases run on Redis' clock.
func (q *Queue) localNow() time.Time {
	if q.cfg.Now != nil {
		return q.cfg.Now()
	}
	return time.Now()
}

// millis rounds d up to whole milliseconds, the resolution of the scripts' clock.
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

func decodeLease(r any) (*queue.Lease, time.Duration, error) {
	f, ok := r.([]any)
	if !ok || len(f) == 0 {
		return nil, 0, fmt.Errorf("unexpected reply %v", r)
	}
	if got, _ := f[0].(int64); got == 0 {
		if len(f) != 2 {
			return nil, 0, fmt.Errorf("unexpected reply %v", r)
		}
		ms, err := asInt(f[1])
		return nil, time.Duration(ms) * time.Millisecond, err
	}
	if len(f) != 8 {
		return nil, 0, fmt.Errorf("unexpected reply %v", r)
	}
	j, err := decodeJob(f[1], f[2], f[3], f[4])
	if err != nil {
		return nil, 0, err
	}
	attempt, err1 := asInt(f[5])
	token, ok := f[6].(string)
	until, err2 := asInt(f[7])
	if err := errors.Join(err1, err2); err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, fmt.Errorf("unexpected token %v", f[6])
	}
	return &queue.Lease{Job: j, Attempt: int(attempt), Token: token, Until: time.UnixMilli(until)}, 0, nil
}

// decodeJob decodes the id, kind, payload and enqueued fields of a script reply. A missing
// field (Lua false, nil here) decodes as empty rather than failing the whole call.
func decodeJob(id, kind, payload, enqueued any) (queue.Job, error) {
	sid, ok := id.(string)
	if !ok {
		return queue.Job{}, fmt.Errorf("unexpected job id %v", id)
	}
	j := queue.Job{ID: sid}
	j.Kind, _ = kind.(string)
	if p, ok := payload.(string); ok {
		j.Payload = []byte(p)
	}
	if s, ok := enqueued.(string); ok {
		ns, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return queue.Job{}, fmt.Errorf("job %s: enqueued at %q: %w", sid, s, err)
		}
		j.EnqueuedAt = time.Unix(0, ns)
	}
	return j, nil
}

func asInt(v any) (int64, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("unexpected reply %v (%T)", v, v)
	}
	return n, nil
}
