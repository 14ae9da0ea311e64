package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/quota"
	"github.com/stellaops/stellaops/internal/quota/quotatest"
	"github.com/stellaops/stellaops/internal/quota/redisstore"
)

const addrEnv = "STELLAOPS_TEST_REDIS_ADDR"

// redisAddr returns the test Redis; without one the suite is skipped locally but fails in CI,
// so a misconfigured pipeline cannot pass by silently skipping it.
func redisAddr(tb testing.TB) string {
	tb.Helper()
	addr := os.Getenv(addrEnv)
	if addr == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: the Redis suite must run in CI", addrEnv)
		}
		tb.Skipf("%s not set (e.g. 127.0.0.1:6379)", addrEnv)
	}
	return addr
}

func dial(tb testing.TB, addr string) *respClient {
	tb.Helper()
	c, err := dialRESP(addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// randomSub is a per-test key namespace so parallel tests and runs never share counters; its
// keys are deleted when the test ends.
func randomSub(tb testing.TB, addr string) string {
	tb.Helper()
	var b [8]byte
	rand.Read(b[:])
	sub := "test-" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		c, err := dialRESP(addr)
		if err != nil {
			tb.Errorf("cleanup: %v", err)
			return
		}
		defer c.Close()
		// KEYS is acceptable on a test server; the pattern only matches this test's keys.
		const del = `local n = 0
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k); n = n + 1 end
return n`
		if _, err := c.Eval(context.Background(), del, nil, redisstore.Namespace+sub+":*"); err != nil {
			tb.Errorf("cleanup %s: %v", sub, err)
		}
	})
	return sub
}

func TestConformance(t *testing.T) {
	addr := redisAddr(t)
	quotatest.Run(t, func(t *testing.T, _ func() time.Time) quotatest.Opener {
		sub := randomSub(t, addr)
		// Every Opener call is a new connection: a separate replica on the same Redis.
		return func(t *testing.T) quota.Store { return redisstore.New(dial(t, addr), sub) }
	})
}

func TestKeysNamespacedWithTTL(t *testing.T) {
	addr := redisAddr(t)
	c := dial(t, addr)
	sub := randomSub(t, addr)
	s := redisstore.New(c, sub)
	l, err := quota.New(s, quota.Config{Now: func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := l.CheckScan(ctx, quota.Anonymous("198.51.100.1")); err != nil {
		t.Fatal(err)
	}
	r, err := c.Eval(ctx, `local out = {}
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do out[#out+1] = k; out[#out+1] = redis.call('PTTL', k) end
return out`, nil, s.Prefix()+"*")
	if err != nil {
		t.Fatal(err)
	}
	kv := r.([]any)
	if len(kv) != 2 {
		t.Fatalf("keys: %v; want one day key", kv)
	}
	key, ttl := kv[0].(string), time.Duration(kv[1].(int64))*time.Millisecond
	if want := redisstore.Namespace + sub + ":day:ip:"; len(key) < len(want) || key[:len(want)] != want || key[len(key)-8:] != "20260501" {
		t.Fatalf("key %q; want %s<hash>:20260501", key, want)
	}
	// 12 h to midnight plus an hour of slack.
	if ttl < 12*time.Hour || ttl > 13*time.Hour {
		t.Fatalf("TTL %v; want ~13h", ttl)
	}
}

func BenchmarkCheckScan(b *testing.B) {
	addr := redisAddr(b)
	s := redisstore.New(dial(b, addr), randomSub(b, addr))
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
