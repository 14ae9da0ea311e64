// Package fetch is the HTTP client every Concelier connector fetches through: only allow-listed
// hosts, a timeout per request, retries with exponential backoff on network errors, 429 and 5xx
// (honouring Retry-After), conditional requests (ETag / Last-Modified), a minimum interval
// between requests to one source, and a size limit on bodies. Connectors never build their own
// http.Client, so these rules hold for every feed.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrHostNotAllowed is returned for a URL whose host is not on the source's allow list.
var ErrHostNotAllowed = errors.New("host not allowed")

// ErrTooLarge is returned for a body over Config.MaxBytes.
var ErrTooLarge = errors.New("response too large")

// Config configures a Client.
type Config struct {
	// AllowedHosts lists the hosts a source may fetch from: exact names, or "*.example.org" for
	// any subdomain. Empty allows nothing.
	AllowedHosts []string
	Timeout      time.Duration // per attempt; default 60s
	MaxAttempts  int           // default 4
	BaseBackoff  time.Duration // first retry delay, doubled each time; default 1s
	MaxBackoff   time.Duration // default 30s
	// MinInterval is the least time between the starts of two requests (a rate limit).
	MinInterval time.Duration
	MaxBytes    int64 // default 512 MiB
	UserAgent   string
	Transport   http.RoundTripper // default http.DefaultTransport
	// Now and Sleep are the clock; tests replace them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Conditional carries the validators of a previous fetch of the same URL.
type Conditional struct {
	ETag         string
	LastModified string
}

// Response is a fetched document.
type Response struct {
	URL          string
	Status       int
	NotModified  bool // 304: Body is empty, the stored copy is current
	Body         []byte
	ContentType  string
	ETag         string
	LastModified string
	FetchedAt    time.Time
	Attempts     int
}

// Client fetches documents for one source. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	mu   sync.Mutex
	next time.Time // earliest start of the next request
}

// New returns a client.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 512 << 20
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "StellaOps-Concelier"
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	c := &Client{cfg: cfg}
	c.http = &http.Client{
		Transport: cfg.Transport,
		// Redirects are followed only to allowed hosts.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return c.allowed(req.URL)
		},
	}
	return c
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) allowed(u *url.URL) error {
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("%w: scheme %q", ErrHostNotAllowed, u.Scheme)
	}
	host := strings.ToLower(u.Hostname())
	for _, h := range c.cfg.AllowedHosts {
		h = strings.ToLower(h)
		if suffix, ok := strings.CutPrefix(h, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return nil
			}
		} else if host == h {
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrHostNotAllowed, host)
}

// wait holds the request until MinInterval has passed since the previous one started.
func (c *Client) wait(ctx context.Context) error {
	if c.cfg.MinInterval <= 0 {
		return nil
	}
	c.mu.Lock()
	now := c.cfg.Now()
	start := c.next
	if start.Before(now) {
		start = now
	}
	c.next = start.Add(c.cfg.MinInterval)
	c.mu.Unlock()
	if d := start.Sub(now); d > 0 {
		return c.cfg.Sleep(ctx, d)
	}
	return nil
}

// retryable is an attempt's failure that a later attempt may not repeat.
type retryable struct {
	err   error
	after time.Duration // the server's Retry-After, if any
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// Get fetches rawURL. A 304 to a conditional request is a success with NotModified set; other
// non-2xx statuses are errors (after retries for 429 and 5xx).
func (c *Client) Get(ctx context.Context, rawURL string, cond Conditional) (*Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	if err := c.allowed(u); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	backoff := c.cfg.BaseBackoff
	var last error
	for attempt := 1; attempt <= c.cfg.MaxAttempts; attempt++ {
		if err := c.wait(ctx); err != nil {
			return nil, err
		}
		resp, err := c.attempt(ctx, u, cond)
		if err == nil {
			resp.Attempts = attempt
			return resp, nil
		}
		var r *retryable
		if !errors.As(err, &r) || ctx.Err() != nil {
			return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
		}
		last = err
		if attempt == c.cfg.MaxAttempts {
			break
		}
		d := min(backoff, c.cfg.MaxBackoff)
		if r.after > d {
			d = min(r.after, c.cfg.MaxBackoff)
		}
		if err := c.cfg.Sleep(ctx, d); err != nil {
			return nil, err
		}
		backoff *= 2
	}
	return nil, fmt.Errorf("fetch %s: giving up after %d attempts: %w", rawURL, c.cfg.MaxAttempts, last)
}

func (c *Client) attempt(ctx context.Context, u *url.URL, cond Conditional) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if cond.ETag != "" {
		req.Header.Set("If-None-Match", cond.ETag)
	}
	if cond.LastModified != "" {
		req.Header.Set("If-Modified-Since", cond.LastModified)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, ErrHostNotAllowed) {
			return nil, err
		}
		return nil, &retryable{err: err}
	}
	defer resp.Body.Close()
	out := &Response{URL: u.String(), Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"),
		ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), FetchedAt: c.cfg.Now().UTC()}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		out.NotModified = true
		return out, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		return nil, &retryable{err: fmt.Errorf("HTTP %d", resp.StatusCode), after: retryAfter(resp.Header.Get("Retry-After"), c.cfg.Now())}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBytes+1))
	if err != nil {
		return nil, &retryable{err: err}
	}
	if int64(len(body)) > c.cfg.MaxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, c.cfg.MaxBytes)
	}
	out.Body = body
	return out, nil
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
