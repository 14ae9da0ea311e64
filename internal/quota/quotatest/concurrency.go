package quotatest

import (
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/quota"
)

func testRateLimit(t *testing.T, e *env) {
	l := e.limiter(t, quota.Config{})
	e.clock.Set(start.Add(-time.Hour).Add(250 * time.Millisecond))
	for i := 1; i <= 40; i++ {
		if d := request(t, l, "tok-rate"); !d.Allowed || d.Remaining != 40-i {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	e.clock.Add(700 * time.Millisecond) // still the same second
	d := request(t, l, "tok-rate")
	if d.Allowed || d.RetryAfter != time.Second || d.Limit != 40 {
		t.Fatalf("request 41: %+v; want refused with RetryAfter 1s", d)
	}
	if d := request(t, l, "tok-other"); !d.Allowed {
		t.Fatalf("other token refused: %+v", d)
	}
	e.clock.Add(50 * time.Millisecond) // next second
	if d := request(t, l, "tok-rate"); !d.Allowed || d.Used != 1 {
		t.Fatalf("next second: %+v", d)
	}
}

// testConcurrentScans checks there are no lost updates: every scan gets a distinct count.
func testConcurrentScans(t *testing.T, e *env) {
	const workers, each = 8, 50
	l := e.limiter(t, quota.Config{})
	seen := runConcurrent(t, workers, each, func() quota.Decision { return scan(t, l, quota.Token("tok-conc", 0)) })
	for i := 1; i <= workers*each; i++ {
		if seen[i] != 1 {
			t.Fatalf("count %d seen %d times; want exactly once", i, seen[i])
		}
	}
}

func testConcurrentRate(t *testing.T, e *env) {
	l := e.limiter(t, quota.Config{})
	seen := runConcurrent(t, 10, 10, func() quota.Decision { return request(t, l, "tok-crate") })
	if got := sumAllowed(seen); got != 40 {
		t.Fatalf("%d of 100 concurrent requests allowed; want exactly 40", got)
	}
}

// testReplicas runs two limiters on two clients of the same location, as two replicas would.
func testReplicas(t *testing.T, e *env) {
	a := e.limiter(t, quota.Config{}, e.store)
	b := e.limiter(t, quota.Config{}, e.open(t))
	tok := quota.Token("tok-replicas", 0)
	for i := 1; i <= 10; i++ {
		l := a
		if i%2 == 0 {
			l = b
		}
		if d := scan(t, l, tok); d.Used != i {
			t.Fatalf("scan %d on replica %d: used %d", i, 1+i%2, d.Used)
		}
	}
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for _, l := range []*quota.Limiter{a, b} {
		for range 30 {
			wg.Go(func() {
				if d := request(t, l, "tok-replicas"); d.Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if allowed != 40 {
		t.Fatalf("%d of 60 requests across replicas allowed; want 40", allowed)
	}
}

// runConcurrent calls fn workers×each times from workers goroutines and returns how often each
// Used value came back; allowed calls are counted under key Used, refused ones under -1.
func runConcurrent(t *testing.T, workers, each int, fn func() quota.Decision) map[int]int {
	t.Helper()
	var mu sync.Mutex
	seen := make(map[int]int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				d := fn()
				k := d.Used
				if !d.Allowed {
					k = -1
				}
				mu.Lock()
				seen[k]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return seen
}

func sumAllowed(seen map[int]int) int {
	n := 0
	for k, v := range seen {
		if k >= 0 {
			n += v
		}
	}
	return n
}
