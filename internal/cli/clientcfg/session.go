package clientcfg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stellaops/stellaops/pkg/client"
)

// ErrNoBackend is returned when a command needs the server and BackendURL is empty.
var ErrNoBackend = errors.New("no backend: set StellaOps:BackendUrl (env STELLAOPS_BACKEND_URL) or pass --server")

// ErrNoCredentials is returned by Login when the configuration has no Authority client.
var ErrNoCredentials = errors.New("no Authority credentials: set StellaOps:Authority:ClientId with ClientSecret, or Username and Password")

// CachedToken is one entry of the token cache (~/.stellaops/tokens).
type CachedToken struct {
	AccessToken string    `json:"accessToken"`
	ExpiresAt   time.Time `json:"expiresAt"`
	Scope       string    `json:"scope"`
	// Mode is the grant: client_credentials or password.
	Mode      string    `json:"mode"`
	Authority string    `json:"authority"`
	ClientID  string    `json:"clientId"`
	Username  string    `json:"username,omitempty"`
	IssuedAt  time.Time `json:"issuedAt"`
}

// Valid reports whether the token is good at now with a minute to spare.
func (t CachedToken) Valid(now time.Time) bool {
	return t.AccessToken != "" && now.Add(time.Minute).Before(t.ExpiresAt)
}

// cacheKey names the cache entry of this configuration's Authority identity: one file per
// Authority, client, user and scope, so switching profiles never reuses another's token.
func (c *Config) cacheKey() string {
	h := sha256.Sum256([]byte(strings.Join([]string{c.AuthorityURL(), c.Authority.ClientID, c.Authority.Username, c.Authority.Scope}, "\x00")))
	return hex.EncodeToString(h[:12])
}

// CachePath is the file of this configuration's cached token.
func (c *Config) CachePath() string { return filepath.Join(c.TokenCacheDir(), c.cacheKey()+".json") }

// CachedToken returns the cached token, ok false when there is none.
func (c *Config) CachedToken() (CachedToken, bool, error) {
	b, err := os.ReadFile(c.CachePath())
	if errors.Is(err, fs.ErrNotExist) {
		return CachedToken{}, false, nil
	}
	if err != nil {
		return CachedToken{}, false, fmt.Errorf("token cache: %w", err)
	}
	var t CachedToken
	if err := json.Unmarshal(b, &t); err != nil {
		return CachedToken{}, false, fmt.Errorf("token cache %s: %w", c.CachePath(), err)
	}
	return t, true, nil
}

// Logout removes the cached token; removed is false when there was none.
func (c *Config) Logout() (removed bool, err error) {
	err = os.Remove(c.CachePath())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Login returns a valid token for the configured Authority identity: the cached one unless
// force is set or it is about to expire, else a new one from the token endpoint (with the
// resilience settings' retries), which is cached (0600).
func (c *Config) Login(ctx context.Context, force bool, now time.Time) (tok CachedToken, cached bool, err error) {
	if c.Authority.ClientID == "" {
		return CachedToken{}, false, ErrNoCredentials
	}
	if !force {
		if t, ok, err := c.CachedToken(); err == nil && ok && t.Valid(now) {
			return t, true, nil
		}
	}
	if c.AuthorityURL() == "" {
		return CachedToken{}, false, ErrNoBackend
	}
	ac, err := client.New(c.AuthorityURL())
	if err != nil {
		return CachedToken{}, false, err
	}
	req := client.TokenRequest{ClientID: c.Authority.ClientID, ClientSecret: c.Authority.ClientSecret,
		Username: c.Authority.Username, Password: c.Authority.Password}
	if c.Authority.Scope != "" {
		req.Scopes = strings.Fields(strings.ReplaceAll(c.Authority.Scope, ",", " "))
	}
	ts := client.NewTokenSource(ac, req, c.Authority.Resilience.Client())
	access, exp, scope, err := ts.TokenDetails(ctx)
	if err != nil {
		return CachedToken{}, false, fmt.Errorf("authority %s: %w", c.AuthorityURL(), err)
	}
	mode := "client_credentials"
	if c.Authority.Username != "" {
		mode = "password"
	}
	tok = CachedToken{AccessToken: access, ExpiresAt: exp.UTC(), Scope: scope, Mode: mode, Authority: c.AuthorityURL(),
		ClientID: c.Authority.ClientID, Username: c.Authority.Username, IssuedAt: now.UTC()}
	if err := c.store(tok); err != nil {
		return CachedToken{}, false, err
	}
	return tok, false, nil
}

// store writes the cache entry atomically, readable by its owner only.
func (c *Config) store(t CachedToken) error {
	dir := c.TokenCacheDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".token-*")
	if err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("token cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	if err := os.Rename(f.Name(), c.CachePath()); err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	return nil
}

// Client returns a client of BackendURL (server overrides it when set) that authenticates,
// first match wins: token (a --token flag), APIKey, the Authority identity (cached token,
// renewed through Login when it expires), else nothing (anonymous, which the server allows
// only with authority.allowAnonymousFallback). BootstrapKey, when set, is sent on admin calls.
func (c *Config) Client(server, token string, opts ...client.Option) (*client.Client, error) {
	base := c.BackendURL
	if server != "" {
		base = server
	}
	if base == "" {
		return nil, ErrNoBackend
	}
	switch {
	case token != "":
		opts = append(opts, client.WithToken(token))
	case c.APIKey != "":
		opts = append(opts, client.WithToken(c.APIKey))
	case c.Authority.ClientID != "":
		cfg := *c
		if cfg.Authority.URL == "" {
			cfg.Authority.URL = base
		}
		opts = append(opts, client.WithTokenSource(func(ctx context.Context) (string, error) {
			t, _, err := cfg.Login(ctx, false, time.Now())
			return t.AccessToken, err
		}))
	}
	if c.BootstrapKey != "" {
		opts = append(opts, client.WithBootstrapKey(c.BootstrapKey))
	}
	return client.New(base, append([]client.Option{client.WithUserAgent("stellaops-cli")}, opts...)...)
}
