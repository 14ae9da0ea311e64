package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/quota"
	"github.com/stellaops/stellaops/internal/quota/memstore"
	"github.com/stellaops/stellaops/internal/quota/quotatest"
)

func TestConformance(t *testing.T) {
	quotatest.Run(t, func(t *testing.T, now func() time.Time) quotatest.Opener {
		s := memstore.New(now)
		// In embedded mode every "replica" is the same process, hence the same map.
		return func(*testing.T) quota.Store { return s }
	})
}

func TestExpiredKeysAreSwept(t *testing.T) {
	clk := quotatest.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	s := memstore.New(clk.Now)
	ctx := context.Background()
	l, err := quota.New(s, quota.Config{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for day := range 30 {
		for tok := range 10 {
			if _, err := l.CheckScan(ctx, quota.Token(string(rune('a'+tok)), 0)); err != nil {
				t.Fatal(err)
			}
		}
		if n := s.Len(); n > 20 {
			t.Fatalf("day %d: %d keys held; old days are not reclaimed", day, n)
		}
		clk.Add(24 * time.Hour)
	}
	clk.Add(48 * time.Hour)
	if n, _ := s.Get(ctx, "x"); n != 0 {
		t.Fatal("absent key")
	}
	if _, _, err := s.Incr(ctx, "x", time.Second, 0); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 1 {
		t.Fatalf("after two idle days %d keys; want only the new one", n)
	}
}

func TestExpiryRestartsCounter(t *testing.T) {
	clk := quotatest.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	s := memstore.New(clk.Now)
	ctx := context.Background()
	s.Incr(ctx, "k", time.Second, 0)
	s.Incr(ctx, "k", time.Second, 0)
	clk.Add(time.Second)
	if n, _ := s.Get(ctx, "k"); n != 0 {
		t.Fatalf("expired counter reads %d", n)
	}
	if n, _, _ := s.Incr(ctx, "k", time.Second, 0); n != 1 {
		t.Fatalf("Incr after expiry = %d, want 1", n)
	}
}

func BenchmarkCheckScan(b *testing.B) {
	s := memstore.New(nil)
	l, err := quota.New(s, quota.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	tok := quota.Token("bench", 1<<30)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.CheckScan(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
