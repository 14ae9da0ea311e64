package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// RateLimit is one kind of token bucket: events per second and burst. A negative rate
// disables it.
type RateLimit struct {
	PerSecond int
	Burst     int
}

func (r RateLimit) enabled() bool { return r.PerSecond > 0 }

// Config tunes a Service.
type Config struct {
	Limits Limits
	// TTL is how long events are kept (spec: 45 days).
	TTL time.Duration
	// Tenant and Node are the token buckets (spec: 200/s per tenant, 50/s per node, burst
	// 200).
	Tenant, Node RateLimit
	// VerdictTTL is how long the webhook may cache a verdict (default 5 minutes).
	VerdictTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// OnSweep, if set, learns how many events each sweep deleted (for metrics).
	OnSweep func(deleted int)
}

// DefaultConfig returns the spec's defaults.
func DefaultConfig() Config {
	return Config{
		Limits: DefaultLimits(), TTL: 45 * 24 * time.Hour,
		Tenant: RateLimit{PerSecond: 200, Burst: 200}, Node: RateLimit{PerSecond: 50, Burst: 200},
		VerdictTTL: 5 * time.Minute,
	}
}

// Service ingests events and answers runtime verdicts.
type Service struct {
	store   Store
	buckets Buckets
	cfg     Config
}

// New returns a service on store and buckets.
func New(store Store, buckets Buckets, cfg Config) (*Service, error) {
	if store == nil || buckets == nil {
		return nil, errors.New("runtime: a store and token buckets are required")
	}
	d := DefaultConfig()
	if cfg.Limits.MaxBatchSize <= 0 || cfg.Limits.MaxPayloadBytes <= 0 {
		cfg.Limits = d.Limits
	}
	if cfg.TTL <= 0 {
		cfg.TTL = d.TTL
	}
	if cfg.VerdictTTL <= 0 {
		cfg.VerdictTTL = d.VerdictTTL
	}
	for _, r := range []RateLimit{cfg.Tenant, cfg.Node} {
		if r.enabled() && r.Burst < 1 {
			return nil, fmt.Errorf("runtime: a rate of %d events/s needs a burst of at least 1", r.PerSecond)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{store: store, buckets: buckets, cfg: cfg}, nil
}

// Config returns the service's configuration with defaults applied.
func (s *Service) Config() Config { return s.cfg }

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

// RateLimitError refuses a batch over a token bucket.
type RateLimitError struct {
	// RetryAfter is when the batch would be admitted if nothing else took tokens.
	RetryAfter time.Duration
	// Tenant is the limited tenant; Node is set when the limit was the node's.
	Tenant, Node string
	Limit        RateLimit
}

func (e *RateLimitError) Error() string {
	who := fmt.Sprintf("tenant %q", e.Tenant)
	if e.Node != "" {
		who = fmt.Sprintf("node %q of tenant %q", e.Node, e.Tenant)
	}
	return fmt.Sprintf("the event rate limit of %s (%d events/s, burst %d) is exceeded; retry in %s",
		who, e.Limit.PerSecond, e.Limit.Burst, e.RetryAfter.Round(time.Millisecond))
}

// IngestResult is the answer to an accepted batch.
type IngestResult struct {
	// Accepted counts the events stored by this call, Duplicates those already stored.
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// Ingest rate limits and stores a decoded batch. Every event of the batch is charged to its
// tenant's and its node's bucket, all or nothing; over a limit it returns a
// *RateLimitError and stores nothing. Duplicates are charged too: whether an event is one is
// only known inside the store's transaction, and the buckets bound the work a caller causes.
// A batch whose store transaction fails keeps its charge (the retry waits like any other).
func (s *Service) Ingest(ctx context.Context, b *Batch) (IngestResult, error) {
	now := s.cfg.Now()
	if err := s.charge(ctx, now, b); err != nil {
		return IngestResult{}, err
	}
	recs := make([]Record, len(b.Events))
	for i, env := range b.Events {
		r, err := NewRecord(env, b.BatchID, now, s.cfg.TTL)
		if err != nil {
			return IngestResult{}, err
		}
		recs[i] = r
	}
	n, err := s.store.Insert(ctx, recs)
	if err != nil {
		return IngestResult{}, fmt.Errorf("runtime: store events: %w", err)
	}
	return IngestResult{Accepted: n, Duplicates: len(recs) - n}, nil
}

type chargeInfo struct {
	tenant, node string
	limit        RateLimit
}

func (s *Service) charge(ctx context.Context, now time.Time, b *Batch) error {
	type key struct{ tenant, node string }
	tenants := map[string]int{}
	nodes := map[key]int{}
	for _, env := range b.Events {
		tenants[env.Event.Tenant]++
		nodes[key{env.Event.Tenant, env.Event.Node}]++
	}
	var charges []Charge
	var info []chargeInfo
	if l := s.cfg.Tenant; l.enabled() {
		for t, n := range tenants {
			charges = append(charges, Charge{Key: BucketKey("tenant", t), Rate: float64(l.PerSecond), Burst: float64(l.Burst), Cost: float64(n)})
			info = append(info, chargeInfo{tenant: t, limit: l})
		}
	}
	if l := s.cfg.Node; l.enabled() {
		for k, n := range nodes {
			charges = append(charges, Charge{Key: BucketKey("node", k.tenant, k.node), Rate: float64(l.PerSecond), Burst: float64(l.Burst), Cost: float64(n)})
			info = append(info, chargeInfo{tenant: k.tenant, node: k.node, limit: l})
		}
	}
	if len(charges) == 0 {
		return nil
	}
	// Sorted keys: a deterministic script call, and one order of locks for any backend.
	idx := make([]int, len(charges))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(charges[a].Key, charges[b].Key) })
	sorted := make([]Charge, len(charges))
	for i, j := range idx {
		sorted[i] = charges[j]
	}
	wait, limiting, err := s.buckets.Take(ctx, now, sorted)
	if err != nil {
		return err
	}
	if wait <= 0 {
		return nil
	}
	ci := info[idx[limiting]]
	return &RateLimitError{RetryAfter: wait, Tenant: ci.tenant, Node: ci.node, Limit: ci.limit}
}

// SweepBatch is how many expired events one delete removes; a sweep repeats it until fewer
// are left, so a long backlog does not hold one huge transaction.
const SweepBatch = 5000

// Sweep deletes every event expired at the service's now, in batches, and returns how many.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	total := 0
	for {
		n, err := s.store.Sweep(ctx, now, SweepBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("runtime: sweep: %w", err)
		}
		if n < SweepBatch {
			return total, nil
		}
	}
}

// RunSweeper sweeps at once and then every interval until ctx ends. A failed sweep is logged
// and tried again at the next tick.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return errors.New("runtime: the sweep interval must be positive")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.Sweep(ctx)
		if s.cfg.OnSweep != nil {
			s.cfg.OnSweep(n)
		}
		switch {
		case err != nil && ctx.Err() == nil:
			s.cfg.Logger.ErrorContext(ctx, "runtime event sweep failed", "component", "runtime.sweeper", "err", err, "deleted", n)
		case n > 0:
			s.cfg.Logger.InfoContext(ctx, "runtime events expired", "component", "runtime.sweeper", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
