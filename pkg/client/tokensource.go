package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Resilience is the Authority client's retry and offline behaviour (API spec §3,
// StellaOps:Authority:Resilience:*).
type Resilience struct {
	// EnableRetries retries discovery, JWKS and token calls that failed transiently
	// (network errors, 429, 5xx) after each of RetryDelays.
	EnableRetries bool
	RetryDelays   []time.Duration
	// AllowOfflineCacheFallback serves cached discovery and JWKS documents when the Authority
	// is unreachable, for their cache lifetime plus OfflineCacheTolerance.
	AllowOfflineCacheFallback bool
	OfflineCacheTolerance     time.Duration
}

// DefaultResilience is the spec's default: retries after 1 s, 2 s and 5 s, and cached metadata
// reused up to 10 minutes past its lifetime.
func DefaultResilience() Resilience {
	return Resilience{EnableRetries: true, RetryDelays: []time.Duration{time.Second, 2 * time.Second, 5 * time.Second},
		AllowOfflineCacheFallback: true, OfflineCacheTolerance: 10 * time.Minute}
}

// transient reports whether err is worth a retry: the network failed, or the server answered
// 429 or 5xx. A 4xx (bad credentials, bad scope) will not change by asking again.
func transient(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode == 429 || e.StatusCode >= 500
	}
	// Transport failures reach here as *url.Error, which is a net.Error.
	var ne net.Error
	return errors.As(err, &ne)
}

// retry runs f, then again after each delay while it fails transiently. A 429's Retry-After,
// when longer, replaces the delay.
func (r Resilience) retry(ctx context.Context, f func() error) error {
	err := f()
	if !r.EnableRetries {
		return err
	}
	for _, d := range r.RetryDelays {
		if err == nil || !transient(err) {
			return err
		}
		var e *Error
		if errors.As(err, &e) && e.RetryAfter > d {
			d = e.RetryAfter
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		err = f()
	}
	return err
}

// TokenSource hands out an access token for a client_credentials or password grant, cached
// and renewed shortly before it expires, with the retries of its Resilience.
type TokenSource struct {
	c   *Client
	req TokenRequest
	res Resilience
	now func() time.Time

	mu      sync.Mutex
	tok     Token
	expires time.Time
}

// renewBefore is how long before expiry a cached token is replaced, so that a request sent
// with it does not arrive expired.
const renewBefore = time.Minute

// NewTokenSource returns a token source for req against c.
func NewTokenSource(c *Client, req TokenRequest, res Resilience) *TokenSource {
	return &TokenSource{c: c, req: req, res: res, now: time.Now}
}

// Token returns a valid access token, fetching one when none is cached or it is about to
// expire. It suits WithTokenSource.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	tok, _, _, err := s.TokenDetails(ctx)
	return tok, err
}

// TokenDetails is Token with the token's expiry and granted scope, for a caller that caches
// it (the CLI's token cache).
func (s *TokenSource) TokenDetails(ctx context.Context) (token string, expires time.Time, scope string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok.AccessToken != "" && s.now().Before(s.expires.Add(-renewBefore)) {
		return s.tok.AccessToken, s.expires, s.tok.Scope, nil
	}
	var tok Token
	err = s.res.retry(ctx, func() error {
		var err error
		tok, err = s.c.Token(ctx, s.req)
		return err
	})
	if err != nil {
		return "", time.Time{}, "", err
	}
	s.tok, s.expires = tok, s.now().Add(time.Duration(tok.ExpiresIn)*time.Second)
	return tok.AccessToken, s.expires, tok.Scope, nil
}

// Invalidate drops the cached token (after a 401, say), so the next Token call fetches anew.
func (s *TokenSource) Invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tok = Token{}
}

// MetadataCache fetches the Authority's discovery document and JWKS and keeps them on disk, so
// that offline verification (revocation bundles, offline tokens) and restarts work when the
// Authority cannot be reached.
type MetadataCache struct {
	c   *Client
	dir string
	res Resilience
	// Lifetime is how long a fetched document is fresh; default 1 h.
	Lifetime time.Duration
	now      func() time.Time
}

// NewMetadataCache caches c's metadata under dir (created 0700).
func NewMetadataCache(c *Client, dir string, res Resilience) *MetadataCache {
	return &MetadataCache{c: c, dir: dir, res: res, Lifetime: time.Hour, now: time.Now}
}

type cachedDoc struct {
	FetchedAt time.Time       `json:"fetchedAt"`
	Source    string          `json:"source"`
	Body      json.RawMessage `json:"body"`
}

// JWKS returns the key set document: fresh from the cache, else from the Authority (with
// retries), else — when the Authority is unreachable and fallback is allowed — the cached
// copy within its lifetime plus the tolerance. stale says the last case happened.
func (m *MetadataCache) JWKS(ctx context.Context) (doc []byte, stale bool, err error) {
	return m.get(ctx, "jwks", m.c.JWKS)
}

// Discovery returns the OpenID discovery document, with the same caching as JWKS.
func (m *MetadataCache) Discovery(ctx context.Context) (doc []byte, stale bool, err error) {
	return m.get(ctx, "discovery", func(ctx context.Context) ([]byte, error) {
		r, err := m.c.do(ctx, request{method: "GET", path: "/.well-known/openid-configuration"})
		if err != nil {
			return nil, err
		}
		return r.Body, nil
	})
}

func (m *MetadataCache) path(kind string) string {
	h := sha256.Sum256([]byte(m.c.base.String()))
	return filepath.Join(m.dir, kind+"-"+hex.EncodeToString(h[:6])+".json")
}

func (m *MetadataCache) get(ctx context.Context, kind string, fetch func(context.Context) ([]byte, error)) ([]byte, bool, error) {
	p := m.path(kind)
	var cached *cachedDoc
	if b, err := os.ReadFile(p); err == nil {
		var d cachedDoc
		if json.Unmarshal(b, &d) == nil && json.Valid(d.Body) {
			cached = &d
		}
	}
	now := m.now()
	if cached != nil && now.Before(cached.FetchedAt.Add(m.Lifetime)) {
		return cached.Body, false, nil
	}
	var body []byte
	err := m.res.retry(ctx, func() error {
		var err error
		body, err = fetch(ctx)
		return err
	})
	if err == nil {
		if !json.Valid(body) {
			return nil, false, fmt.Errorf("client: %s: the Authority sent invalid JSON", kind)
		}
		if werr := m.write(p, cachedDoc{FetchedAt: now.UTC(), Source: m.c.base.String(), Body: body}); werr != nil {
			return body, false, werr
		}
		return body, false, nil
	}
	if m.res.AllowOfflineCacheFallback && cached != nil && transient(err) &&
		now.Before(cached.FetchedAt.Add(m.Lifetime+m.res.OfflineCacheTolerance)) {
		return cached.Body, true, nil
	}
	return nil, false, err
}

// write replaces the cache file atomically, so a crash never leaves half a document.
func (m *MetadataCache) write(p string, d cachedDoc) error {
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return fmt.Errorf("client: metadata cache: %w", err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(m.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("client: metadata cache: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("client: metadata cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("client: metadata cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("client: metadata cache: %w", err)
	}
	return nil
}
