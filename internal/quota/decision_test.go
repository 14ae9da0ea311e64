package quota_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/quota"
	"github.com/stellaops/stellaops/internal/quota/memstore"
)

func TestSetHeaders(t *testing.T) {
	reset := time.Date(2025, 7, 19, 0, 0, 0, 0, time.UTC)
	exp := time.Date(2025, 8, 17, 2, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	h := http.Header{}
	quota.Decision{Allowed: true, Remaining: 129, Limit: 333, ResetAt: reset}.SetHeaders(h, exp)
	want := map[string]string{
		"X-Stella-Quota-Remaining": "129",
		"X-Stella-Reset":           "2025-07-19T00:00:00Z",
		"X-Stella-Token-Expires":   "2025-08-17T00:00:00Z",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if h.Get("Retry-After") != "" {
		t.Error("Retry-After on an allowed request")
	}

	h = http.Header{}
	quota.Decision{ResetAt: reset, RetryAfter: 1500 * time.Millisecond}.SetHeaders(h, time.Time{})
	if h.Get("Retry-After") != "2" || h.Get("X-Stella-Token-Expires") != "" {
		t.Errorf("refusal headers: %v", h)
	}
	h = http.Header{}
	quota.Decision{ResetAt: reset}.SetHeaders(h, time.Time{})
	if h.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q; want at least 1", h.Get("Retry-After"))
	}
}

func TestBodyJSON(t *testing.T) {
	d := quota.Decision{Allowed: true, Delay: 5 * time.Second, Remaining: 0, Limit: 333,
		ResetAt: time.Date(2025, 7, 19, 0, 0, 0, 0, time.UTC)}
	b, err := json.Marshal(d.Body())
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"limit":333,"remaining":0,"reset":"2025-07-19T00:00:00Z","delayedMs":5000}`
	if string(b) != want {
		t.Fatalf("body %s, want %s", b, want)
	}
}

func TestWait(t *testing.T) {
	if err := (quota.Decision{Delay: time.Millisecond}).Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := (quota.Decision{Delay: time.Minute}).Wait(ctx); err == nil || time.Since(start) > time.Second {
		t.Fatalf("Wait on a cancelled context = %v after %v", err, time.Since(start))
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := quota.New(nil, quota.Config{}); err == nil {
		t.Error("nil store accepted")
	}
	if _, err := quota.New(memstore.New(nil), quota.Config{HardLimit: -1}); err == nil {
		t.Error("negative hard limit accepted")
	}
}

func TestRateLimitDisabled(t *testing.T) {
	l, err := quota.New(memstore.New(nil), quota.Config{RatePerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if d, err := l.AllowRequest(context.Background(), "t"); err != nil || !d.Allowed {
			t.Fatalf("disabled rate limit refused: %+v %v", d, err)
		}
	}
}
