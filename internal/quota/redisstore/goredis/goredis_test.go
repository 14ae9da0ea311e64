package goredis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/quota"
	"github.com/stellaops/stellaops/internal/quota/quotatest"
	"github.com/stellaops/stellaops/internal/quota/redisstore"
	"github.com/stellaops/stellaops/internal/quota/redisstore/goredis"
	"github.com/stellaops/stellaops/internal/testenv"
)

// randomSub is a per-test key namespace whose keys are deleted when the test ends.
func randomSub(tb testing.TB, addr string) string {
	tb.Helper()
	sub := "test-" + testenv.RandomHex(8)
	testenv.DeleteRedisKeysAtCleanup(tb, addr, redisstore.Namespace+sub+":*")
	return sub
}

func TestConformance(t *testing.T) {
	addr := testenv.RedisAddr(t)
	quotatest.Run(t, func(t *testing.T, _ func() time.Time) quotatest.Opener {
		sub := randomSub(t, addr)
		// Every Opener call is a new client with its own pool: a separate replica.
		return func(t *testing.T) quota.Store {
			return redisstore.New(goredis.Evaler{C: testenv.RedisClient(t, addr)}, sub)
		}
	})
}

// The day key is namespaced, hashed, dated, and lives until the day's end plus an hour.
func TestKeysNamespacedWithTTL(t *testing.T) {
	addr := testenv.RedisAddr(t)
	c := testenv.RedisClient(t, addr)
	sub := randomSub(t, addr)
	s := redisstore.New(goredis.Evaler{C: c}, sub)
	l, err := quota.New(s, quota.Config{Now: func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := l.CheckScan(ctx, quota.Anonymous("198.51.100.1")); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(ctx, s.Prefix()+"*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v; want one day key", keys, err)
	}
	key := keys[0]
	if want := redisstore.Namespace + sub + ":day:ip:"; !strings.HasPrefix(key, want) || !strings.HasSuffix(key, ":20260501") {
		t.Fatalf("key %q; want %s<hash>:20260501", key, want)
	}
	// 12 h to midnight plus an hour of slack.
	if ttl, err := c.PTTL(ctx, key).Result(); err != nil || ttl < 12*time.Hour || ttl > 13*time.Hour {
		t.Fatalf("TTL %v, %v; want ~13h", ttl, err)
	}
}

func BenchmarkCheckScan(b *testing.B) {
	addr := testenv.RedisAddr(b)
	s := redisstore.New(goredis.Evaler{C: testenv.RedisClient(b, addr)}, randomSub(b, addr))
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

func BenchmarkCheckScanParallel(b *testing.B) {
	addr := testenv.RedisAddr(b)
	s := redisstore.New(goredis.Evaler{C: testenv.RedisClient(b, addr)}, randomSub(b, addr))
	l, err := quota.New(s, quota.Config{})
	if err != nil {
		b.Fatal(err)
	}
	tok := quota.Token("bench", 1<<30)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.CheckScan(context.Background(), tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
