package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/authority/sqlitestore"
	"github.com/stellaops/stellaops/internal/quota"
	"github.com/stellaops/stellaops/internal/quota/memstore"
)

var cheap = authority.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

const bootstrapKey = "test-bootstrap-key-0123456789"

type env struct {
	srv   *api.Server
	http  *httptest.Server
	auth  *authority.Service
	store authority.Store
	dir   string
	clk   *clock
}

// newEnv starts the API on a loopback port over a real SQLite Authority and memory counters.
func newEnv(t testing.TB, issuer string, mutate func(*api.Config)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "authority.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	auth, err := authority.New(st, authority.Config{Issuer: issuer, Argon2: cheap, KeyDir: filepath.Join(dir, "keys"), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.EnsureSigningKey(ctx, authority.AlgES256); err != nil {
		t.Fatal(err)
	}
	lim, err := quota.New(memstore.New(clk.Now), quota.Config{Now: clk.Now, RatePerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{BootstrapKey: bootstrapKey, Now: clk.Now}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := api.New(cfg, auth, lim, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{srv: srv, http: hs, auth: auth, store: st, dir: dir, clk: clk}
}

// tokenWith mints a client_credentials token with exactly scopes.
func (e *env) tokenWith(t testing.TB, id string, scopes []string) (string, authority.Claims) {
	t.Helper()
	ctx := context.Background()
	secret := "secret-" + id + "-0123456789"
	if _, _, err := e.auth.CreateClient(ctx, authority.NewClient{ID: id, Scopes: scopes, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	resp, c, oe := e.auth.Token(ctx, authority.TokenRequest{GrantType: "client_credentials", ClientID: id, ClientSecret: secret}, authority.Origin{})
	if oe != nil {
		t.Fatal(oe)
	}
	return resp.AccessToken, c
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// concretePath fills path parameters with a plausible value.
func concretePath(p string) string {
	return pathParam.ReplaceAllStringFunc(p, func(s string) string {
		if strings.HasSuffix(s, "...}") {
			return "a/b"
		}
		return "x1"
	})
}

func (e *env) call(t *testing.T, method, path string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.http.URL+concretePath(path), strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func assertProblem(t *testing.T, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q", ct)
	}
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %s: %v", body, err)
	}
	if p.Status != status || !strings.HasPrefix(p.Type, api.ProbBase) || p.Title == "" || p.Detail == "" || !strings.HasPrefix(p.TraceID, "00-") {
		t.Fatalf("problem %+v", p)
	}
	if resp.Header.Get("X-Trace-Id") != p.TraceID {
		t.Fatalf("X-Trace-Id %q, body traceId %q", resp.Header.Get("X-Trace-Id"), p.TraceID)
	}
}

// TestScopeMatrix runs every token route of the table against every kind of bad credential.
// The routes come from the server itself, so a new route cannot skip the matrix.
func TestScopeMatrix(t *testing.T) {
	e := newEnv(t, "https://authority.test", nil)
	ctx := context.Background()
	foreign := newEnv(t, "https://evil.test", nil)
	foreignTok, _ := foreign.tokenWith(t, "evil", authority.AllScopes())

	// An expired token: minted by an Authority on the same store and keys whose clock is two
	// hours behind.
	past, err := authority.New(e.store, authority.Config{Issuer: "https://authority.test", Argon2: cheap, KeyDir: filepath.Join(e.dir, "keys"),
		Now: func() time.Time { return e.clk.Now().Add(-2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := past.CreateClient(ctx, authority.NewClient{ID: "old", Scopes: authority.AllScopes(), Secret: "old-secret-0123456789"}); err != nil {
		t.Fatal(err)
	}
	expiredResp, _, oe := past.Token(ctx, authority.TokenRequest{GrantType: "client_credentials", ClientID: "old", ClientSecret: "old-secret-0123456789"}, authority.Origin{})
	if oe != nil {
		t.Fatal(oe)
	}
	all, allClaims := e.tokenWith(t, "all", authority.AllScopes())
	parts := strings.Split(all, ".")
	noneHdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + allClaims.KeyID + `","typ":"JWT"}`))
	revoked, rc := e.tokenWith(t, "revoked", authority.AllScopes())
	if _, err := e.auth.Revoke(ctx, authority.RevokeRequest{JTI: rc.ID}, authority.Origin{}); err != nil {
		t.Fatal(err)
	}
	badSig := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))

	wrongScope := map[string]string{}
	tokenRoutes, bootstrapRoutes := 0, 0
	for _, rt := range e.srv.Routes() {
		switch rt.Auth {
		case api.AuthPublic:
			continue
		case api.AuthBootstrap:
			bootstrapRoutes++
			t.Run("bootstrap "+rt.Pattern(), func(t *testing.T) {
				for name, h := range map[string]map[string]string{
					"no key":       nil,
					"wrong key":    {api.HeaderBootstrapKey: bootstrapKey + "x"},
					"bearer token": {"Authorization": "Bearer " + all},
				} {
					resp, body := e.call(t, rt.Method, rt.Path, h)
					t.Log(name)
					assertProblem(t, resp, body, http.StatusUnauthorized)
				}
				resp, body := e.call(t, rt.Method, rt.Path, map[string]string{api.HeaderBootstrapKey: bootstrapKey})
				if resp.StatusCode == 401 || resp.StatusCode == 403 {
					t.Fatalf("with the bootstrap key: %d %s", resp.StatusCode, body)
				}
			})
			continue
		}
		tokenRoutes++
		if _, ok := wrongScope[rt.Scope]; !ok {
			var others []string
			for _, s := range authority.AllScopes() {
				if s != rt.Scope {
					others = append(others, s)
				}
			}
			wrongScope[rt.Scope], _ = e.tokenWith(t, "without-"+rt.Scope, others)
		}
		t.Run(rt.Pattern(), func(t *testing.T) {
			cases := []struct {
				name, auth string
				status     int
			}{
				{"no token", "", 401},
				{"not bearer", "Basic YTpi", 401},
				{"wrong scope", "Bearer " + wrongScope[rt.Scope], 403},
				{"expired", "Bearer " + expiredResp.AccessToken, 401},
				{"bad signature", "Bearer " + badSig, 401},
				{"alg none", "Bearer " + noneHdr + "." + parts[1] + ".", 401},
				{"other issuer", "Bearer " + foreignTok, 401},
				{"revoked", "Bearer " + revoked, 401},
			}
			for _, c := range cases {
				h := map[string]string{}
				if c.auth != "" {
					h["Authorization"] = c.auth
				}
				resp, body := e.call(t, rt.Method, rt.Path, h)
				if resp.StatusCode != c.status {
					t.Fatalf("%s: status %d, want %d: %s", c.name, resp.StatusCode, c.status, body)
				}
				assertProblem(t, resp, body, c.status)
				if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("%s: WWW-Authenticate %q", c.name, resp.Header.Get("WWW-Authenticate"))
				}
			}
			resp, body := e.call(t, rt.Method, rt.Path, map[string]string{"Authorization": "Bearer " + all})
			if resp.StatusCode == 401 || resp.StatusCode == 403 {
				t.Fatalf("with every scope: %d %s", resp.StatusCode, body)
			}
		})
	}
	if tokenRoutes == 0 || bootstrapRoutes == 0 {
		t.Fatalf("matrix covered %d token and %d bootstrap routes", tokenRoutes, bootstrapRoutes)
	}
}

func TestAnonymousFallback(t *testing.T) {
	off := newEnv(t, "https://authority.test", nil)
	resp, body := off.call(t, "GET", "/api/v1/quota", nil)
	assertProblem(t, resp, body, 401)

	on := newEnv(t, "https://authority.test", func(c *api.Config) { c.AllowAnonymousFallback = true })
	resp, body = on.call(t, "GET", "/api/v1/quota", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("anonymous quota: %d %s", resp.StatusCode, body)
	}
	var q api.QuotaStatus
	_ = json.Unmarshal(body, &q)
	if q.Limit != quota.DefaultAnonymousDailyLimit {
		t.Fatalf("anonymous limit %d", q.Limit)
	}
	// Routes that are not marked Anonymous still need a token.
	resp, body = on.call(t, "POST", "/token/offline", nil)
	assertProblem(t, resp, body, 401)
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	e := newEnv(t, "https://authority.test", nil)
	resp, body := e.call(t, "GET", "/no/such/route", nil)
	assertProblem(t, resp, body, 404)
	resp, body = e.call(t, "DELETE", "/connect/token", nil)
	assertProblem(t, resp, body, 405)
	if resp.Header.Get("Allow") != "POST" {
		t.Fatalf("Allow %q", resp.Header.Get("Allow"))
	}
}
