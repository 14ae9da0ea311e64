package scanjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// FetchConfig says which upload URLs POST /scan may fetch.
type FetchConfig struct {
	// Enabled allows URL bodies at all.
	Enabled bool
	// AllowPrivateNetworks allows hosts that resolve to loopback, private, link-local,
	// shared (CGNAT) or unspecified addresses. Off, such URLs are refused: the server must
	// not be a way into the network it sits in.
	AllowPrivateNetworks bool
	// AllowedHosts, when set, is the only hosts (exact, case-insensitive) fetched from.
	AllowedHosts []string
	// MaxBytes bounds the download.
	MaxBytes int64
	// Timeout bounds the whole download.
	Timeout time.Duration
}

// ErrURLRefused is wrapped by every refusal of an upload URL for what it names (as opposed
// to a failure fetching it).
var ErrURLRefused = errors.New("upload URL refused")

// maxRedirects bounds redirects; each one is checked like the first URL.
const maxRedirects = 5

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// blockedAddr names why addr may not be fetched from, or "".
func blockedAddr(addr netip.Addr) string {
	addr = addr.Unmap()
	switch {
	case addr.IsLoopback():
		return "loopback"
	case addr.IsPrivate():
		return "private"
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		return "link-local"
	case addr.IsUnspecified():
		return "unspecified"
	case addr.IsMulticast(), addr.IsInterfaceLocalMulticast():
		return "multicast"
	case cgnat.Contains(addr):
		return "shared (CGNAT)"
	case addr.Is4() && addr.As4()[0] == 0:
		return "\"this network\""
	}
	return ""
}

// CheckURL validates an upload URL without fetching it: scheme, host allowlist and, unless
// private networks are allowed, that the host resolves to public addresses only. Errors wrap
// ErrURLRefused and say what to change.
func (c FetchConfig) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	if !c.Enabled {
		return nil, fmt.Errorf("%w: fetching uploads from URLs is disabled (scanner.urlFetch.enabled)", ErrURLRefused)
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrURLRefused, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("%w: scheme %q (want https or http)", ErrURLRefused, u.Scheme)
	}
	if u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: the URL needs a host and no user information", ErrURLRefused)
	}
	host := u.Hostname()
	if len(c.AllowedHosts) > 0 && !slices.ContainsFunc(c.AllowedHosts, func(h string) bool { return strings.EqualFold(h, host) }) {
		return nil, fmt.Errorf("%w: host %q is not in scanner.urlFetch.allowedHosts", ErrURLRefused, host)
	}
	if c.AllowPrivateNetworks {
		return u, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot resolve %q: %v", ErrURLRefused, host, err)
	}
	for _, ip := range ips {
		if why := blockedAddr(ip); why != "" {
			return nil, fmt.Errorf("%w: host %q is the %s address %s; set scanner.urlFetch.allowPrivateNetworks to fetch from internal hosts",
				ErrURLRefused, host, why, ip.Unmap())
		}
	}
	return u, nil
}

// client is an HTTP client that re-checks every address it connects to (a host may resolve
// differently at dial time than when checked) and every redirect, and ignores proxy settings
// (a proxy would connect where the check cannot see).
func (c FetchConfig) client() *http.Client {
	d := &net.Dialer{Timeout: 30 * time.Second}
	if !c.AllowPrivateNetworks {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrURLRefused, err)
			}
			if why := blockedAddr(ap.Addr()); why != "" {
				return fmt.Errorf("%w: connecting to the %s address %s", ErrURLRefused, why, ap.Addr())
			}
			return nil
		}
	}
	tr := &http.Transport{Proxy: nil, DialContext: d.DialContext, TLSHandshakeTimeout: 30 * time.Second,
		ResponseHeaderTimeout: time.Minute, MaxIdleConns: 1, DisableCompression: true}
	return &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("%w: more than %d redirects", ErrURLRefused, maxRedirects)
		}
		if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
			return fmt.Errorf("%w: redirect to scheme %q", ErrURLRefused, req.URL.Scheme)
		}
		host := req.URL.Hostname()
		if len(c.AllowedHosts) > 0 && !slices.ContainsFunc(c.AllowedHosts, func(h string) bool { return strings.EqualFold(h, host) }) {
			return fmt.Errorf("%w: redirect to host %q, not in scanner.urlFetch.allowedHosts", ErrURLRefused, host)
		}
		return nil
	}}
}

// Fetch downloads u into a new file in dir, at most MaxBytes, and returns its path; the caller
// removes it.
func (c FetchConfig) Fetch(ctx context.Context, u *url.URL, dir string) (string, error) {
	if !c.Enabled {
		return "", fmt.Errorf("%w: fetching uploads from URLs is disabled (scanner.urlFetch.enabled)", ErrURLRefused)
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", u.Redacted(), err)
	}
	req.Header.Set("User-Agent", "stellaops-scanner")
	hc := c.client()
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetch %s: HTTP %d", u.Redacted(), resp.StatusCode)
	}
	if resp.ContentLength > c.MaxBytes {
		return "", fmt.Errorf("fetch %s: %d bytes, over the limit of %d (scanner.maxUploadBytes)", u.Redacted(), resp.ContentLength, c.MaxBytes)
	}
	f, err := os.CreateTemp(dir, "fetch-*")
	if err != nil {
		return "", fmt.Errorf("fetch: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, c.MaxBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > c.MaxBytes {
		err = fmt.Errorf("over the limit of %d bytes (scanner.maxUploadBytes)", c.MaxBytes)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("fetch %s: %w", u.Redacted(), err)
	}
	return f.Name(), nil
}
