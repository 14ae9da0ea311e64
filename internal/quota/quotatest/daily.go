package quotatest

import (
	"context"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/quota"
)

func testStoreIncr(t *testing.T, e *env) {
	ctx := context.Background()
	for want := int64(1); want <= 3; want++ {
		n, ok, err := e.store.Incr(ctx, "t:cap", time.Hour, 3)
		if err != nil || !ok || n != want {
			t.Fatalf("Incr #%d = %d, %v, %v; want %d, true", want, n, ok, err, want)
		}
	}
	if n, ok, err := e.store.Incr(ctx, "t:cap", time.Hour, 3); err != nil || ok || n != 3 {
		t.Fatalf("Incr over cap = %d, %v, %v; want 3, false", n, ok, err)
	}
	if n, err := e.store.Get(ctx, "t:cap"); err != nil || n != 3 {
		t.Fatalf("Get = %d, %v; want 3", n, err)
	}
	if n, err := e.store.Get(ctx, "t:absent"); err != nil || n != 0 {
		t.Fatalf("Get absent = %d, %v; want 0", n, err)
	}
	if n, ok, err := e.store.Incr(ctx, "t:nocap", time.Hour, 0); err != nil || !ok || n != 1 {
		t.Fatalf("Incr uncapped = %d, %v, %v", n, ok, err)
	}
}

func testDailyReset(t *testing.T, e *env) {
	l := e.limiter(t, quota.Config{})
	tok := quota.Token("tok-reset", 0)
	for i := 1; i <= 3; i++ {
		d := scan(t, l, tok)
		if !d.Allowed || d.Delay != 0 || d.Used != i || d.Remaining != 333-i || d.Limit != 333 {
			t.Fatalf("scan %d: %+v", i, d)
		}
	}
	midnight := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	if d := scan(t, l, tok); !d.ResetAt.Equal(midnight) {
		t.Fatalf("ResetAt = %v, want %v", d.ResetAt, midnight)
	}
	e.clock.Set(midnight.Add(-time.Nanosecond))
	if d := scan(t, l, tok); d.Used != 5 {
		t.Fatalf("last nanosecond of the day: used %d, want 5", d.Used)
	}
	e.clock.Set(midnight)
	d := scan(t, l, tok)
	if d.Used != 1 || d.Remaining != 332 || !d.ResetAt.Equal(midnight.AddDate(0, 0, 1)) {
		t.Fatalf("after 00:00 UTC: %+v; want a fresh day", d)
	}
	// A non-UTC clock must still reset at 00:00 UTC, not local midnight.
	e.clock.Set(midnight.Add(23 * time.Hour).In(time.FixedZone("UTC+5", 5*3600)))
	if d := scan(t, l, tok); d.Used != 2 {
		t.Fatalf("23:00 UTC (04:00 local next day): used %d, want 2", d.Used)
	}
}

func testDelaySchedule(t *testing.T, e *env) {
	l := e.limiter(t, quota.Config{})
	tok := quota.Token("tok-delay", 333)
	for i := 1; i <= 400; i++ {
		d := scan(t, l, tok)
		var want time.Duration
		switch {
		case i <= 333:
		case i <= 363:
			want = 5 * time.Second
		default:
			want = 60 * time.Second
		}
		if !d.Allowed || d.Delay != want || d.Used != i || d.Remaining != max(333-i, 0) {
			t.Fatalf("scan %d: %+v; want allowed, delay %v", i, d, want)
		}
	}
}

func testTokenClaim(t *testing.T, e *env) {
	l := e.limiter(t, quota.Config{SoftDelay: time.Second, SoftDelayScans: 2, HardDelay: 7 * time.Second})
	tok := quota.Token("tok-claim", 3)
	want := []time.Duration{0, 0, 0, time.Second, time.Second, 7 * time.Second}
	for i, w := range want {
		if d := scan(t, l, tok); d.Delay != w || d.Limit != 3 {
			t.Fatalf("scan %d: %+v; want delay %v, limit 3", i+1, d, w)
		}
	}
}

func testHardLimit(t *testing.T, e *env) {
	l := e.limiter(t, quota.Config{HardLimit: 10})
	tok := quota.Token("tok-hard", 5)
	for i := 1; i <= 10; i++ {
		if d := scan(t, l, tok); !d.Allowed {
			t.Fatalf("scan %d refused below the hard limit: %+v", i, d)
		}
	}
	e.clock.Set(start.Add(-90 * time.Minute).Add(-500 * time.Millisecond)) // 22:29:58.5 UTC
	for range 3 {
		d := scan(t, l, tok)
		want := 90*time.Minute + 2*time.Second // 1h30m1.5s to midnight, rounded up
		if d.Allowed || d.Delay != 0 || d.RetryAfter != want || d.Used != 10 || d.Remaining != 0 {
			t.Fatalf("over hard limit: %+v; want refused, RetryAfter %v, used stays 10", d, want)
		}
	}
	e.clock.Set(start.Add(time.Second)) // next day
	if d := scan(t, l, tok); !d.Allowed || d.Used != 1 {
		t.Fatalf("next day: %+v", d)
	}
}

func testAnonymous(t *testing.T, e *env) {
	l := e.limiter(t, quota.Config{})
	a := quota.Anonymous("203.0.113.7")
	for i := 1; i <= 33; i++ {
		if d := scan(t, l, a); d.Delay != 0 || d.Limit != 33 || d.Remaining != 33-i {
			t.Fatalf("anonymous scan %d: %+v", i, d)
		}
	}
	// The IPv4-mapped form is the same client.
	if d := scan(t, l, quota.Anonymous("::ffff:203.0.113.7")); d.Used != 34 || d.Delay != 5*time.Second {
		t.Fatalf("scan 34 via mapped address: %+v; want delayed 5s", d)
	}
	if d := scan(t, l, quota.Anonymous("203.0.113.8")); d.Used != 1 || d.Delay != 0 {
		t.Fatalf("other IP: %+v; want its own quota", d)
	}
	// A token whose id equals the IP string is a different subject.
	if d := scan(t, l, quota.Token("203.0.113.7", 0)); d.Used != 1 || d.Limit != 333 {
		t.Fatalf("token named like the IP: %+v", d)
	}
}

func testPeek(t *testing.T, e *env) {
	l := e.limiter(t, quota.Config{HardLimit: 3})
	tok := quota.Token("tok-peek", 2)
	ctx := context.Background()
	for i := range 3 {
		p, err := l.Peek(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if p.Used != i || !p.Allowed {
			t.Fatalf("peek before scan %d: %+v", i+1, p)
		}
		scan(t, l, tok)
	}
	p, err := l.Peek(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Used != 3 || p.Allowed || p.RetryAfter != time.Second {
		t.Fatalf("peek at hard limit: %+v", p)
	}
}
