package fetch_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/concelier/fetch"
)

// fakeClock records the sleeps a client asks for instead of sleeping.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func client(t *testing.T, srv *httptest.Server, cfg fetch.Config) (*fetch.Client, *fakeClock) {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	clk := &fakeClock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	if cfg.AllowedHosts == nil {
		cfg.AllowedHosts = []string{u.Hostname()}
	}
	cfg.Now, cfg.Sleep = clk.Now, clk.Sleep
	return fetch.New(cfg), clk
}

func TestAllowListAndRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/away" {
			http.Redirect(w, r, "http://evil.invalid/x", http.StatusFound)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	c, _ := client(t, srv, fetch.Config{AllowedHosts: []string{"*.osv.dev"}})
	if _, err := c.Get(context.Background(), srv.URL+"/a", fetch.Conditional{}); !errors.Is(err, fetch.ErrHostNotAllowed) {
		t.Errorf("unlisted host: %v", err)
	}
	c, _ = client(t, srv, fetch.Config{})
	if r, err := c.Get(context.Background(), srv.URL+"/a", fetch.Conditional{}); err != nil || string(r.Body) != "ok" {
		t.Errorf("listed host: %v", err)
	}
	if _, err := c.Get(context.Background(), srv.URL+"/away", fetch.Conditional{}); !errors.Is(err, fetch.ErrHostNotAllowed) {
		t.Errorf("redirect to an unlisted host: %v", err)
	}
	if _, err := c.Get(context.Background(), "file:///etc/passwd", fetch.Conditional{}); !errors.Is(err, fetch.ErrHostNotAllowed) {
		t.Errorf("file URL: %v", err)
	}
}

// 503 twice, then 200: three attempts with doubling backoff; 429 waits Retry-After.
func TestRetries(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch {
		case r.URL.Path == "/flaky" && n <= 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.URL.Path == "/busy" && n == 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case r.URL.Path == "/gone":
			w.WriteHeader(http.StatusNotFound)
		default:
			w.Write([]byte("data"))
		}
	}))
	defer srv.Close()
	c, clk := client(t, srv, fetch.Config{BaseBackoff: time.Second})
	r, err := c.Get(context.Background(), srv.URL+"/flaky", fetch.Conditional{})
	if err != nil || r.Attempts != 3 || string(r.Body) != "data" {
		t.Fatalf("flaky: %+v %v", r, err)
	}
	if want := []time.Duration{time.Second, 2 * time.Second}; !equal(clk.sleeps, want) {
		t.Errorf("backoff %v, want %v", clk.sleeps, want)
	}

	mu.Lock()
	calls = 0
	mu.Unlock()
	c, clk = client(t, srv, fetch.Config{BaseBackoff: time.Second})
	if _, err := c.Get(context.Background(), srv.URL+"/busy", fetch.Conditional{}); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{7 * time.Second}; !equal(clk.sleeps, want) {
		t.Errorf("Retry-After: slept %v, want %v", clk.sleeps, want)
	}

	mu.Lock()
	calls = 0
	mu.Unlock()
	c, clk = client(t, srv, fetch.Config{})
	if _, err := c.Get(context.Background(), srv.URL+"/gone", fetch.Conditional{}); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("404: %v", err)
	}
	if len(clk.sleeps) != 0 || calls != 1 {
		t.Errorf("a 404 was retried: %d calls", calls)
	}
}

func TestGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer srv.Close()
	c, clk := client(t, srv, fetch.Config{MaxAttempts: 3, BaseBackoff: 10 * time.Second, MaxBackoff: 15 * time.Second})
	_, err := c.Get(context.Background(), srv.URL, fetch.Conditional{})
	if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") {
		t.Errorf("err = %v", err)
	}
	if want := []time.Duration{10 * time.Second, 15 * time.Second}; !equal(clk.sleeps, want) {
		t.Errorf("backoff %v, want %v (capped)", clk.sleeps, want)
	}
}

func TestConditional(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` || r.Header.Get("If-Modified-Since") == "Sun, 22 Nov 2026 10:00:00 GMT" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Sun, 22 Nov 2026 10:00:00 GMT")
		w.Header().Set("Content-Type", "application/zip")
		w.Write([]byte("zip"))
	}))
	defer srv.Close()
	c, _ := client(t, srv, fetch.Config{})
	r, err := c.Get(context.Background(), srv.URL, fetch.Conditional{})
	if err != nil || r.NotModified || r.ETag != `"v1"` || r.ContentType != "application/zip" {
		t.Fatalf("first fetch: %+v %v", r, err)
	}
	for _, cond := range []fetch.Conditional{{ETag: r.ETag}, {LastModified: r.LastModified}} {
		r2, err := c.Get(context.Background(), srv.URL, cond)
		if err != nil || !r2.NotModified || len(r2.Body) != 0 {
			t.Errorf("conditional %+v: %+v %v", cond, r2, err)
		}
	}
}

func TestLimits(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 2048)) }))
	defer srv.Close()
	c, _ := client(t, srv, fetch.Config{MaxBytes: 1024})
	if _, err := c.Get(context.Background(), srv.URL, fetch.Conditional{}); !errors.Is(err, fetch.ErrTooLarge) {
		t.Errorf("size limit: %v", err)
	}
	c, clk := client(t, srv, fetch.Config{MinInterval: 500 * time.Millisecond})
	for range 3 {
		if _, err := c.Get(context.Background(), srv.URL, fetch.Conditional{}); err != nil {
			t.Fatal(err)
		}
	}
	// The fake clock does not advance on its own: the second and third requests each wait.
	if want := []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}; !equal(clk.sleeps, want) {
		t.Errorf("rate limit sleeps %v, want %v", clk.sleeps, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Get(ctx, srv.URL, fetch.Conditional{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
