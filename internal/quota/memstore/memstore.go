// Package memstore is the in-memory quota.Store of embedded (single-process) mode.
package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/stellaops/stellaops/internal/quota"
)

var _ quota.Store = (*Store)(nil)

// sweepEvery bounds how often expired counters are purged. Purging is lazy, done by the call
// that finds the interval elapsed, so the store needs no goroutine and nothing to stop.
const sweepEvery = time.Minute

type entry struct {
	n       int64
	expires time.Time
}

// Store keeps counters in a map guarded by one mutex; it is safe for concurrent use. Expired
// counters read as absent and are deleted by periodic lazy sweeps, so yesterday's keys do not
// accumulate.
type Store struct {
	now func() time.Time

	mu        sync.Mutex
	m         map[string]entry
	nextSweep time.Time
}

// New returns an empty store on clock now (nil: time.Now).
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, m: make(map[string]entry)}
}

// Incr implements quota.Store.
func (s *Store) Incr(ctx context.Context, key string, ttl time.Duration, max int64) (int64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	e, ok := s.m[key]
	if !ok || !now.Before(e.expires) {
		e = entry{expires: now.Add(ttl)}
	}
	if max > 0 && e.n >= max {
		return e.n, false, nil
	}
	e.n++
	s.m[key] = e
	return e.n, true, nil
}

// Get implements quota.Store.
func (s *Store) Get(ctx context.Context, key string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok || !now.Before(e.expires) {
		return 0, nil
	}
	return e.n, nil
}

// Len returns the number of stored counters, expired ones not yet swept included.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// sweepLocked deletes expired counters at most once per sweepEvery of clock time; the cost is
// O(keys) but amortised over a minute of calls.
func (s *Store) sweepLocked(now time.Time) {
	if now.Before(s.nextSweep) {
		return
	}
	for k, e := range s.m {
		if !now.Before(e.expires) {
			delete(s.m, k)
		}
	}
	s.nextSweep = now.Add(sweepEvery)
}
