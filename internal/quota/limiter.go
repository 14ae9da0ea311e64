package quota

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Limiter applies the daily scan quota and the per-token rate limit over a Store. It holds no
// counters itself, so any number of Limiters (replicas) can share one Store.
type Limiter struct {
	store Store
	cfg   Config
	log   *slog.Logger
}

// New returns a Limiter over store.
func New(store Store, cfg Config) (*Limiter, error) {
	if store == nil {
		return nil, fmt.Errorf("quota: nil store")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Limiter{store: store, cfg: cfg, log: cfg.Logger}, nil
}

// dayTTLSlack keeps a day key a little past midnight: the date is in the key, so the TTL only
// frees space, and a clock skew between replicas must not delete a key still being counted.
const dayTTLSlack = time.Hour

// CheckScan counts one scan against s and decides whether and after what delay it may run.
func (l *Limiter) CheckScan(ctx context.Context, s Subject) (Decision, error) {
	now := l.cfg.Now().UTC()
	key, limit, reset := l.dayKey(s, now)
	n, counted, err := l.store.Incr(ctx, key, reset.Sub(now)+dayTTLSlack, int64(l.cfg.HardLimit))
	if err != nil {
		return Decision{}, fmt.Errorf("quota: count scan: %w", err)
	}
	d := l.daily(int(n), limit, reset)
	if !counted {
		d.Allowed = false
		d.Delay = 0
		d.RetryAfter = time.Duration(retrySeconds(reset.Sub(now))) * time.Second
		l.log.InfoContext(ctx, "quota hard limit reached", "kind", s.kind(), "used", n, "hardLimit", l.cfg.HardLimit)
		return d, nil
	}
	if d.Delay > 0 && (n == int64(limit)+1 || n == int64(limit+l.cfg.SoftDelayScans)+1) {
		// Logged at the step changes only: one line per subject per step, not per scan.
		l.log.InfoContext(ctx, "quota exceeded, delaying scans", "kind", s.kind(), "used", n, "limit", limit, "delay", d.Delay)
	}
	return d, nil
}

// Peek reports s's quota without counting a scan, for the headers of non-scan responses.
// Delay is what the next scan would wait.
func (l *Limiter) Peek(ctx context.Context, s Subject) (Decision, error) {
	now := l.cfg.Now().UTC()
	key, limit, reset := l.dayKey(s, now)
	n, err := l.store.Get(ctx, key)
	if err != nil {
		return Decision{}, fmt.Errorf("quota: read scan count: %w", err)
	}
	d := l.daily(int(n), limit, reset)
	next := l.daily(int(n)+1, limit, reset)
	d.Delay = next.Delay
	if l.cfg.HardLimit > 0 && int(n) >= l.cfg.HardLimit {
		d.Allowed = false
		d.Delay = 0
		d.RetryAfter = time.Duration(retrySeconds(reset.Sub(now))) * time.Second
	}
	return d, nil
}

// AllowRequest counts one API request of tokenID in the current one-second window.
func (l *Limiter) AllowRequest(ctx context.Context, tokenID string) (Decision, error) {
	now := l.cfg.Now().UTC()
	limit := l.cfg.RatePerSecond
	window := now.Truncate(time.Second)
	reset := window.Add(time.Second)
	if limit < 0 {
		return Decision{Allowed: true, Limit: -1, Remaining: -1, ResetAt: reset}, nil
	}
	key := fmt.Sprintf("rate:%s:%d", hashID(l.cfg.Salt, "tid", tokenID), window.Unix())
	// The window key lives two windows so a late replica still finds it; after that it is dead.
	n, counted, err := l.store.Incr(ctx, key, 2*time.Second, int64(limit))
	if err != nil {
		return Decision{}, fmt.Errorf("quota: count request: %w", err)
	}
	d := Decision{Allowed: counted, Used: int(n), Limit: limit, Remaining: max(limit-int(n), 0), ResetAt: reset}
	if !counted {
		d.RetryAfter = time.Duration(retrySeconds(reset.Sub(now))) * time.Second
	}
	return d, nil
}

// dayKey returns the counter key of s for the UTC day of now, its limit and the next reset.
func (l *Limiter) dayKey(s Subject, now time.Time) (key string, limit int, reset time.Time) {
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	limit = s.limit
	if limit == 0 {
		limit = l.cfg.TokenDailyLimit
		if s.anonymous {
			limit = l.cfg.AnonymousDailyLimit
		}
	}
	key = fmt.Sprintf("day:%s:%s:%s", s.kind(), hashID(l.cfg.Salt, s.kind(), s.id), day.Format("20060102"))
	return key, limit, day.AddDate(0, 0, 1)
}

// daily maps the n-th scan of the day to its decision: free up to limit, then SoftDelay for
// SoftDelayScans scans, then HardDelay.
func (l *Limiter) daily(n, limit int, reset time.Time) Decision {
	d := Decision{Allowed: true, Used: n, Limit: limit, Remaining: max(limit-n, 0), ResetAt: reset}
	switch {
	case n <= limit:
	case n <= limit+l.cfg.SoftDelayScans:
		d.Delay = l.cfg.SoftDelay
	default:
		d.Delay = l.cfg.HardDelay
	}
	return d
}
