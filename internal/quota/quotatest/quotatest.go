// Package quotatest is the conformance suite of quota.Store backends: every backend runs Run
// and must pass it unchanged. Time comes from a fake clock; backends whose expiry runs on their
// own clock (Redis) are fine because the limiter puts the period into each key.
package quotatest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/quota"
)

// Opener returns a new client of one backend location; every client of the same location must
// see the same counters (two replicas sharing a Redis). It registers cleanup with t.Cleanup.
type Opener func(t *testing.T) quota.Store

// Fresh prepares a new, empty location for one test (a new key prefix, a new map) whose
// clients use clock now, and returns its Opener.
type Fresh func(t *testing.T, now func() time.Time) Opener

// start is one second before midnight UTC so tests can cross a day boundary.
var start = time.Date(2026, 11, 22, 23, 59, 59, 0, time.UTC)

// Run runs the suite against the backend made by fresh.
func Run(t *testing.T, fresh Fresh) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"StoreIncrAndCap", testStoreIncr},
		{"DailyCountAndUTCReset", testDailyReset},
		{"DelaySchedule", testDelaySchedule},
		{"TokenClaimLimit", testTokenClaim},
		{"HardLimitRefuses", testHardLimit},
		{"AnonymousPerIP", testAnonymous},
		{"PeekDoesNotCount", testPeek},
		{"RateLimit", testRateLimit},
		{"ConcurrentScansExact", testConcurrentScans},
		{"ConcurrentRateLimitExact", testConcurrentRate},
		{"ReplicasShareCounts", testReplicas},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := NewClock(start)
			open := fresh(t, clk.Now)
			tc.fn(t, &env{clock: clk, open: open, store: open(t)})
		})
	}
}

type env struct {
	clock *Clock
	open  Opener
	store quota.Store
}

// limiter returns a Limiter over the test's store (or another client given one).
func (e *env) limiter(t *testing.T, cfg quota.Config, store ...quota.Store) *quota.Limiter {
	t.Helper()
	s := e.store
	if len(store) > 0 {
		s = store[0]
	}
	cfg.Now = e.clock.Now
	cfg.Salt = "quotatest"
	cfg.Logger = slog.New(slog.DiscardHandler)
	l, err := quota.New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func scan(t *testing.T, l *quota.Limiter, s quota.Subject) quota.Decision {
	t.Helper()
	d, err := l.CheckScan(context.Background(), s)
	if err != nil {
		t.Fatalf("CheckScan: %v", err)
	}
	return d
}

func request(t *testing.T, l *quota.Limiter, token string) quota.Decision {
	t.Helper()
	d, err := l.AllowRequest(context.Background(), token)
	if err != nil {
		t.Fatalf("AllowRequest: %v", err)
	}
	return d
}
