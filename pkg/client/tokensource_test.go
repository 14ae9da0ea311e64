package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func fast() Resilience {
	return Resilience{EnableRetries: true, RetryDelays: []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond},
		AllowOfflineCacheFallback: true, OfflineCacheTolerance: 10 * time.Minute}
}

func TestTokenSourceCachesAndRenews(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Token{AccessToken: "tok" + string(rune('0'+n)), TokenType: "Bearer", ExpiresIn: 3600})
	}))
	defer srv.Close()
	c, _ := New(srv.URL)
	ts := NewTokenSource(c, TokenRequest{ClientID: "a", ClientSecret: "b"}, fast())
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	ts.now = func() time.Time { return now }
	ctx := context.Background()
	for range 3 {
		if tok, err := ts.Token(ctx); err != nil || tok != "tok1" {
			t.Fatalf("token %q %v", tok, err)
		}
	}
	now = now.Add(59 * time.Minute) // inside the renewal minute
	if tok, _ := ts.Token(ctx); tok != "tok2" || calls.Load() != 2 {
		t.Fatalf("renewal: %q after %d calls", tok, calls.Load())
	}
	ts.Invalidate()
	if tok, _ := ts.Token(ctx); tok != "tok3" {
		t.Fatalf("after Invalidate: %q", tok)
	}
}

func TestRetriesOnlyTransientFailures(t *testing.T) {
	var calls atomic.Int32
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"error":"temporarily_unavailable"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"ok","token_type":"Bearer","expires_in":60}`))
	}))
	defer srv.Close()
	c, _ := New(srv.URL)
	if tok, err := NewTokenSource(c, TokenRequest{ClientID: "a"}, fast()).Token(context.Background()); err != nil || tok != "ok" || calls.Load() != 3 {
		t.Fatalf("503 twice: %q %v after %d calls", tok, err, calls.Load())
	}
	calls.Store(0)
	status = http.StatusUnauthorized
	if _, err := NewTokenSource(c, TokenRequest{ClientID: "a"}, fast()).Token(context.Background()); !IsStatus(err, 401) || calls.Load() != 1 {
		t.Fatalf("401 must not be retried: %v after %d calls", err, calls.Load())
	}
	calls.Store(0)
	status = http.StatusServiceUnavailable
	off := fast()
	off.EnableRetries = false
	if _, err := NewTokenSource(c, TokenRequest{ClientID: "a"}, off).Token(context.Background()); !IsStatus(err, 503) || calls.Load() != 1 {
		t.Fatalf("retries disabled: %v after %d calls", err, calls.Load())
	}
}

func TestMetadataCacheOfflineFallback(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[{"kty":"OKP","kid":"k1"}]}`))
	}))
	c, _ := New(srv.URL)
	dir := t.TempDir()
	m := NewMetadataCache(c, dir, fast())
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	ctx := context.Background()
	doc, stale, err := m.JWKS(ctx)
	if err != nil || stale || string(doc) != `{"keys":[{"kty":"OKP","kid":"k1"}]}` {
		t.Fatalf("first fetch %s %v %v", doc, stale, err)
	}
	if _, _, err := m.JWKS(ctx); err != nil || calls.Load() != 1 {
		t.Fatalf("fresh cache refetched: %d calls, %v", calls.Load(), err)
	}
	srv.Close()
	// A new cache object (a new process) reads the file.
	m2 := NewMetadataCache(c, dir, fast())
	m2.now = func() time.Time { return now.Add(65 * time.Minute) }
	if doc, stale, err := m2.JWKS(ctx); err != nil || !stale || len(doc) == 0 {
		t.Fatalf("within tolerance: %s %v %v", doc, stale, err)
	}
	m2.now = func() time.Time { return now.Add(71 * time.Minute) }
	if _, _, err := m2.JWKS(ctx); err == nil {
		t.Fatal("beyond the tolerance the stale copy was served")
	}
	noFallback := fast()
	noFallback.AllowOfflineCacheFallback = false
	m3 := NewMetadataCache(c, dir, noFallback)
	m3.now = func() time.Time { return now.Add(65 * time.Minute) }
	if _, _, err := m3.JWKS(ctx); err == nil {
		t.Fatal("fallback disabled, yet the stale copy was served")
	}
}
