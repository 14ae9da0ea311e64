package runtime_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/quota/redisstore/goredis"
	"github.com/stellaops/stellaops/internal/runtime"
	"github.com/stellaops/stellaops/internal/testenv"
)

var t0 = time.Date(2025, 10, 20, 15, 3, 12, 0, time.UTC)

func node(cost float64) runtime.Charge {
	return runtime.Charge{Key: runtime.BucketKey("node", "t", "n1"), Rate: 50, Burst: 200, Cost: cost}
}

func tenant(cost float64) runtime.Charge {
	return runtime.Charge{Key: runtime.BucketKey("tenant", "t"), Rate: 200, Burst: 200, Cost: cost}
}

// bucketSuite is the behaviour every Buckets implementation shares; fresh returns buckets
// with nothing taken (two handles on the same state for shared implementations).
func bucketSuite(t *testing.T, fresh func(t *testing.T) (runtime.Buckets, runtime.Buckets)) {
	ctx := context.Background()
	take := func(t *testing.T, b runtime.Buckets, at time.Time, charges ...runtime.Charge) (time.Duration, int) {
		t.Helper()
		w, i, err := b.Take(ctx, at, charges)
		if err != nil {
			t.Fatal(err)
		}
		return w, i
	}
	t.Run("BurstThenRate", func(t *testing.T) {
		b, _ := fresh(t)
		for i := range 4 {
			if w, _ := take(t, b, t0, node(50)); w != 0 {
				t.Fatalf("charge %d of the burst waited %v", i, w)
			}
		}
		if w, _ := take(t, b, t0, node(1)); w != 20*time.Millisecond {
			t.Fatalf("past the burst: wait %v, want 20ms (1 token at 50/s)", w)
		}
		if w, _ := take(t, b, t0.Add(19*time.Millisecond), node(1)); w != time.Millisecond {
			t.Fatalf("1 ms early: wait %v, want 1ms", w)
		}
		if w, _ := take(t, b, t0.Add(20*time.Millisecond), node(1)); w != 0 {
			t.Fatalf("after the wait: %v", w)
		}
		// A second later 50 tokens are back, and no more.
		if w, _ := take(t, b, t0.Add(1020*time.Millisecond), node(50)); w != 0 {
			t.Fatalf("50 after a second: %v", w)
		}
		if w, _ := take(t, b, t0.Add(1020*time.Millisecond), node(1)); w == 0 {
			t.Fatal("51st token in a second admitted")
		}
	})
	t.Run("ChargeOverBurstGoesIntoDebt", func(t *testing.T) {
		b, _ := fresh(t)
		if w, _ := take(t, b, t0, node(256)); w != 0 {
			t.Fatalf("a batch over the burst on a full bucket waited %v", w)
		}
		// 200 - 256 = -56: one more token needs 57 at 50/s.
		if w, _ := take(t, b, t0, node(1)); w != 1140*time.Millisecond {
			t.Fatalf("after the debt: wait %v, want 1.14s", w)
		}
		// A second big batch waits until the bucket holds its burst again: 256 / 50 s.
		if w, _ := take(t, b, t0, node(256)); w != 5120*time.Millisecond {
			t.Fatalf("second batch: wait %v, want 5.12s", w)
		}
		if w, _ := take(t, b, t0.Add(5120*time.Millisecond), node(256)); w != 0 {
			t.Fatalf("second batch after its wait: %v", w)
		}
	})
	t.Run("AllOrNothing", func(t *testing.T) {
		b, _ := fresh(t)
		take(t, b, t0, node(190))
		// The tenant has room, the node has not: nothing is taken from the tenant either.
		w, idx := take(t, b, t0, tenant(20), node(20))
		if w != 200*time.Millisecond || idx != 1 {
			t.Fatalf("wait %v at %d; want 200ms at the node (index 1)", w, idx)
		}
		if w, _ := take(t, b, t0, tenant(200)); w != 0 {
			t.Fatalf("the refused batch took tenant tokens: %v", w)
		}
		// Both over: the longest wait is reported.
		w, idx = take(t, b, t0, tenant(100), node(100))
		if w != 1800*time.Millisecond || idx != 1 {
			t.Fatalf("wait %v at %d; want 1.8s at the node (90 tokens at 50/s)", w, idx)
		}
	})
	t.Run("ClockBehindNeverRefills", func(t *testing.T) {
		b, _ := fresh(t)
		take(t, b, t0.Add(time.Second), node(200))
		// A replica whose clock is a second behind gets nothing back from the difference.
		if w, _ := take(t, b, t0, node(1)); w != 20*time.Millisecond {
			t.Fatalf("behind: wait %v, want 20ms", w)
		}
		if w, _ := take(t, b, t0.Add(time.Second+20*time.Millisecond), node(1)); w != 0 {
			t.Fatalf("after: %v", w)
		}
	})
	t.Run("SharedAcrossHandles", func(t *testing.T) {
		a, b := fresh(t)
		take(t, a, t0, node(150))
		if w, _ := take(t, b, t0, node(51)); w != 20*time.Millisecond {
			t.Fatalf("B after A took 150: wait %v, want 20ms", w)
		}
		if w, _ := take(t, b, t0, node(50)); w != 0 {
			t.Fatalf("B's 50: %v", w)
		}
	})
	t.Run("ConcurrentTakesAdmitExactlyTheBurst", func(t *testing.T) {
		a, b := fresh(t)
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := a
				if g%2 == 1 {
					h = b
				}
				for range 40 {
					w, _, err := h.Take(ctx, t0, []runtime.Charge{tenant(1), node(1)})
					if err != nil {
						t.Error(err)
						return
					}
					if w == 0 {
						admitted.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if n := admitted.Load(); n != 200 {
			t.Fatalf("%d of 320 concurrent takes admitted; want exactly the burst, 200", n)
		}
	})
}

func TestMemoryBuckets(t *testing.T) {
	bucketSuite(t, func(t *testing.T) (runtime.Buckets, runtime.Buckets) {
		b := runtime.NewMemoryBuckets()
		return b, b
	})
}

// Full buckets are dropped, so the map does not grow with every node ever seen.
func TestMemoryBucketsPurge(t *testing.T) {
	b := runtime.NewMemoryBuckets()
	ctx := context.Background()
	for _, n := range []string{"n1", "n2", "n3"} {
		if _, _, err := b.Take(ctx, t0, []runtime.Charge{{Key: n, Rate: 50, Burst: 200, Cost: 10}}); err != nil {
			t.Fatal(err)
		}
	}
	if b.Len() != 3 {
		t.Fatalf("%d buckets", b.Len())
	}
	// 10 tokens at 50/s are back after 200 ms; the next purge is a minute after the first.
	if _, _, err := b.Take(ctx, t0.Add(2*time.Minute), []runtime.Charge{{Key: "n4", Rate: 50, Burst: 200, Cost: 1}}); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 1 {
		t.Fatalf("%d buckets after the purge, want 1", b.Len())
	}
}

func TestRedisBuckets(t *testing.T) {
	addr := testenv.RedisAddr(t)
	bucketSuite(t, func(t *testing.T) (runtime.Buckets, runtime.Buckets) {
		prefix := "{stellaops:runtime:test-" + testenv.RandomHex(6) + "}:bucket:"
		testenv.DeleteRedisKeysAtCleanup(t, addr, prefix+"*")
		// Two clients with their own pools: two replicas.
		return runtime.NewRedisBuckets(goredis.Evaler{C: testenv.RedisClient(t, addr)}, prefix),
			runtime.NewRedisBuckets(goredis.Evaler{C: testenv.RedisClient(t, addr)}, prefix)
	})
}

// A bucket's key expires when the bucket would be full again.
func TestRedisBucketsExpire(t *testing.T) {
	addr := testenv.RedisAddr(t)
	c := testenv.RedisClient(t, addr)
	prefix := "{stellaops:runtime:test-" + testenv.RandomHex(6) + "}:bucket:"
	testenv.DeleteRedisKeysAtCleanup(t, addr, prefix+"*")
	b := runtime.NewRedisBuckets(goredis.Evaler{C: c}, prefix)
	ctx := context.Background()
	now := time.Now()
	if _, _, err := b.Take(ctx, now, []runtime.Charge{node(100)}); err != nil {
		t.Fatal(err)
	}
	// 100 tokens at 50/s: full in 2 s, plus a second of slack.
	ttl, err := c.PTTL(ctx, prefix+node(0).Key).Result()
	if err != nil || ttl < 2500*time.Millisecond || ttl > 3*time.Second {
		t.Fatalf("TTL %v, %v; want about 3s", ttl, err)
	}
}
