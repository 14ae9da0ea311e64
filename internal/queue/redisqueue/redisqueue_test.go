package redisqueue_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stellaops/stellaops/internal/queue"
	"github.com/stellaops/stellaops/internal/queue/queuetest"
	"github.com/stellaops/stellaops/internal/queue/redisqueue"
	"github.com/stellaops/stellaops/internal/testenv"
)

// randomPrefix is a per-test key prefix whose keys are deleted when the test ends.
func randomPrefix(tb testing.TB, addr string) string {
	tb.Helper()
	prefix := "stellaops:queue:test-" + testenv.RandomHex(8)
	testenv.DeleteRedisKeysAtCleanup(tb, addr, "{"+prefix+"}:*")
	return prefix
}

func open(tb testing.TB, c redis.UniversalClient, prefix string, cfg queue.Config) *redisqueue.Queue {
	tb.Helper()
	q, err := redisqueue.New(c, prefix, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := q.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return q
}

func TestConformance(t *testing.T) {
	addr := testenv.RedisAddr(t)
	queuetest.Run(t, func(t *testing.T) queuetest.Opener {
		prefix := randomPrefix(t, addr)
		// Every Opener call is a new client with its own pool: a separate replica.
		return func(t *testing.T, cfg queue.Config) queue.Queue {
			return open(t, testenv.RedisClient(t, addr), prefix, cfg)
		}
	})
}

// All keys carry the prefix as hash tag (one Cluster slot), and acked jobs leave nothing
// behind but the token counter.
func TestKeys(t *testing.T) {
	addr := testenv.RedisAddr(t)
	c := testenv.RedisClient(t, addr)
	prefix := randomPrefix(t, addr)
	q := open(t, c, prefix, queue.Config{})
	if want := "{" + prefix + "}"; q.Prefix() != want {
		t.Fatalf("Prefix = %q; want %q", q.Prefix(), want)
	}
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, queue.Job{ID: "j", Kind: "scan", Payload: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	l, err := q.Lease(ctx, "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(ctx, l); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(ctx, q.Prefix()+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{q.Prefix() + ":seq"}; !slices.Equal(keys, want) {
		t.Fatalf("keys after Ack: %v; want %v", keys, want)
	}

	for prefix, want := range map[string]string{
		"app:{tenant-1}:queue": "app:{tenant-1}:queue", // has a tag: kept
		"app:{}:queue":         "{app:{}:queue}",       // empty braces are no tag
		"app:{tenant":          "{app:{tenant}",        // nor is an unclosed brace
		"":                     "{" + redisqueue.DefaultPrefix + "}",
	} {
		q, err := redisqueue.New(c, prefix, queue.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if got := q.Prefix(); got != want {
			t.Errorf("New(%q).Prefix() = %q; want %q", prefix, got, want)
		}
		q.Close()
	}
}

// Expiry is decided on the server, by the lease deadline stored in Redis: here it is pulled
// into the past behind the client's back, and the Ack fails although Lease.Until is an hour
// away on the client.
func TestFencingUsesRedisClock(t *testing.T) {
	addr := testenv.RedisAddr(t)
	c := testenv.RedisClient(t, addr)
	prefix := randomPrefix(t, addr)
	q := open(t, c, prefix, queue.Config{PollInterval: time.Minute})
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, queue.Job{ID: "j"}); err != nil {
		t.Fatal(err)
	}
	l, err := q.Lease(ctx, "w", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Pull the deadline into the past on the server, as if Redis' clock had run ahead.
	if err := c.ZAdd(ctx, q.Prefix()+":leased", redis.Z{Score: 1, Member: "j"}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(ctx, l); !errors.Is(err, queue.ErrLeaseLost) {
		t.Fatalf("Ack after server-side expiry: %v; want ErrLeaseLost", err)
	}
	l2, err := q.Lease(ctx, "w2", time.Minute)
	if err != nil || l2.Attempt != 2 {
		t.Fatalf("redelivery = %+v, %v; want attempt 2", l2, err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := redisqueue.New(nil, "", queue.Config{PollInterval: -1}); err == nil {
		t.Fatal("negative PollInterval accepted")
	}
}

func BenchmarkEnqueueLeaseAck(b *testing.B) {
	addr := testenv.RedisAddr(b)
	q := open(b, testenv.RedisClient(b, addr), randomPrefix(b, addr), queue.Config{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := q.Enqueue(ctx, queue.Job{ID: "bench", Payload: []byte("payload")}); err != nil {
			b.Fatal(err)
		}
		l, err := q.Lease(ctx, "w", time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if err := q.Ack(ctx, l); err != nil {
			b.Fatal(err)
		}
	}
}
