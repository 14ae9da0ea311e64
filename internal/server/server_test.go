package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/stellaops/stellaops/internal/api/apitest"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const bootstrap = "integration-bootstrap-key-0123456789"

// running is a real server on a loopback port (servertest's), with the short names these
// tests use.
type running struct {
	*servertest.Running
	srv *server.Server
	url string
}

// start runs a real server on a loopback port until the test ends.
func start(t *testing.T, cfg server.Config, o server.Options) *running {
	t.Helper()
	r := servertest.Start(t, cfg, o)
	return &running{Running: r, srv: r.Srv, url: r.URL}
}

// shutdown stops the server as SIGTERM would (once).
func (r *running) shutdown(t *testing.T) { r.Stop(t) }

func baseConfig() server.Config {
	cfg := server.Defaults()
	cfg.Authority.BootstrapKey = bootstrap
	cfg.Server.ShutdownTimeout = 5 * time.Second
	return cfg
}

func newClient(t *testing.T, url string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// validated is newClient whose every response is checked against the OpenAPI document.
func validated(t *testing.T, url string, opts ...client.Option) *client.Client {
	t.Helper()
	hc := &http.Client{Transport: apitest.ValidatingTransport(t, http.DefaultTransport)}
	c, err := client.New(url, append(opts, client.WithHTTPClient(hc))...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAuthorityEndToEnd is the walk-through on one server, all through pkg/client:
// tokens for each grant, JWKS, offline token, key rotation, revocation, and the revocation
// bundle verified offline.
func TestAuthorityEndToEnd(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	clk := &clock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	r := start(t, baseConfig(), server.Options{DataDir: data, Now: clk.Now})
	admin := validated(t, r.url, client.WithBootstrapKey(bootstrap))

	if h, err := admin.Health(ctx); err != nil || h != "ok" {
		t.Fatalf("healthz %q %v", h, err)
	}
	if err := admin.Ready(ctx); err != nil {
		t.Fatalf("readyz: %v", err)
	}
	ci, err := admin.CreateClient(ctx, client.NewClient{ClientID: "ci-bot", Scopes: []string{"stella.api", "scanner.scans.enqueue"}, MaxScansPerDay: 100})
	if err != nil {
		t.Fatal(err)
	}
	if ci.Secret == "" || len(ci.Scopes) != 2 {
		t.Fatalf("created client %+v", ci)
	}
	if _, err := admin.CreateClient(ctx, client.NewClient{ClientID: "console", Scopes: authority.AllScopes(), Grants: []string{"password"}, Secret: "console-secret-0123456789"}); err != nil {
		t.Fatal(err)
	}
	// The password policy is enforced through the API.
	_, err = admin.CreateUser(ctx, client.NewUser{Username: "ops", Password: "weak", Roles: []string{"admin"}})
	if !client.IsStatus(err, 400) {
		t.Fatalf("weak password: %v", err)
	}
	if _, err := admin.CreateUser(ctx, client.NewUser{Username: "ops", Password: "Str0ng-Passw0rd!", Roles: []string{"admin"}}); err != nil {
		t.Fatal(err)
	}

	// client_credentials, secret by Basic and by form.
	anon := validated(t, r.url)
	cc, err := anon.Token(ctx, client.TokenRequest{ClientID: "ci-bot", ClientSecret: ci.Secret, Scopes: []string{"stella.api"}})
	if err != nil {
		t.Fatal(err)
	}
	if cc.TokenType != "Bearer" || cc.ExpiresIn != 3600 || cc.Scope != "stella.api" {
		t.Fatalf("token %+v", cc)
	}
	if _, err := anon.Token(ctx, client.TokenRequest{ClientID: "ci-bot", ClientSecret: ci.Secret, PostSecret: true}); err != nil {
		t.Fatalf("client_secret_post: %v", err)
	}
	_, err = anon.Token(ctx, client.TokenRequest{ClientID: "ci-bot", ClientSecret: "wrong"})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.StatusCode != 401 || ce.Code != "invalid_client" {
		t.Fatalf("wrong secret: %v", err)
	}
	// password grant
	pw, err := anon.Token(ctx, client.TokenRequest{ClientID: "console", ClientSecret: "console-secret-0123456789", Username: "ops", Password: "Str0ng-Passw0rd!"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pw.Scope, "authority.admin") {
		t.Fatalf("admin user scopes %q", pw.Scope)
	}

	// Discovery and JWKS.
	d, err := anon.Discovery(ctx)
	if err != nil || d.Issuer != r.url || d.JWKSURI != r.url+"/jwks" || d.TokenEndpoint != r.url+"/connect/token" {
		t.Fatalf("discovery %+v %v", d, err)
	}
	jwks := fetchJWKS(t, anon)
	if len(jwks.Keys) != 1 || jwks.Keys[0].Algorithm != "ES256" || !jwks.Keys[0].IsPublic() {
		t.Fatalf("jwks %+v", jwks)
	}

	// The CI token works on an authenticated route, with the quota headers.
	ciClient := validated(t, r.url, client.WithToken(cc.AccessToken))
	q, resp, err := ciClient.Quota(ctx)
	if err != nil || q.Limit != 100 || resp.Header.Get("X-Stella-Quota-Remaining") != "100" || resp.Header.Get("X-Stella-Token-Expires") != "2026-11-22T10:00:00Z" {
		t.Fatalf("quota %+v %v %v", q, resp, err)
	}

	// Offline token: admin scope required, 90 days at most, verifiable offline.
	if _, err := ciClient.OfflineToken(ctx, client.OfflineTokenRequest{ExpiresDays: 30}); !client.IsStatus(err, 403) {
		t.Fatalf("offline token without admin scope: %v", err)
	}
	adminTok := validated(t, r.url, client.WithToken(pw.AccessToken))
	if _, err := adminTok.OfflineToken(ctx, client.OfflineTokenRequest{ExpiresDays: 91}); !client.IsStatus(err, 400) {
		t.Fatalf("91 days: %v", err)
	}
	off, err := adminTok.OfflineToken(ctx, client.OfflineTokenRequest{ExpiresDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := authority.Verify(ctx, off.JWT, authority.SetLookup(jwks), authority.Expect{Issuer: r.url, Audience: "stellaops", Now: clk.Now().Add(29 * 24 * time.Hour)})
	if err != nil || oc.TokenUse != "offline" || oc.MaxScansPerDay != 333 || !oc.Expiry.Equal(off.Expires) {
		t.Fatalf("offline token %+v %v", oc, err)
	}

	// Rotation: a new key signs, the old one keeps verifying.
	keyDir := filepath.Join(data, "keys")
	if err := authority.GenerateKeyFile(filepath.Join(keyDir, "authority-signing-2027.pem"), authority.AlgEdDSA); err != nil {
		t.Fatal(err)
	}
	rot, err := admin.RotateSigningKey(ctx, client.RotateRequest{KeyID: "authority-signing-2027", Location: "authority-signing-2027.pem", Source: "file", Provider: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if rot.ActiveKeyID != "authority-signing-2027" || rot.PreviousKeyID != jwks.Keys[0].KeyID || !slices.Equal(rot.RetiredKeyIDs, []string{jwks.Keys[0].KeyID}) {
		t.Fatalf("rotate %+v", rot)
	}
	if _, _, err := ciClient.Quota(ctx); err != nil {
		t.Fatalf("token of the retired key: %v", err)
	}
	cc2, err := anon.Token(ctx, client.TokenRequest{ClientID: "ci-bot", ClientSecret: ci.Secret})
	if err != nil {
		t.Fatal(err)
	}
	if kid := headerKID(t, cc2.AccessToken); kid != "authority-signing-2027" {
		t.Fatalf("new token kid %s", kid)
	}
	jwks = fetchJWKS(t, anon)
	if len(jwks.Keys) != 2 {
		t.Fatalf("jwks after rotation: %d keys", len(jwks.Keys))
	}

	// Revocation: by the holder (RFC 7009) and by jti; rejected at once.
	if err := anon.RevokeToken(ctx, "ci-bot", ci.Secret, cc.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ciClient.Quota(ctx); !client.IsStatus(err, 401) {
		t.Fatalf("revoked token: %v", err)
	}
	if created, err := admin.Revoke(ctx, client.RevokeRequest{JTI: oc.ID, Reason: "site decommissioned", ExpiresAt: oc.Expiry}); err != nil || !created {
		t.Fatalf("revoke offline token: %v %v", created, err)
	}

	// The bundle, written as the three files of `auth revoke export`, verifies offline with
	// the published keys only.
	exp, err := admin.ExportRevocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for name, b := range map[string][]byte{"revocation-bundle.json": exp.Bundle, "revocation-bundle.json.jws": []byte(exp.Signature), "revocation-bundle.json.sha256": []byte(exp.Digest)} {
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	body, _ := os.ReadFile(filepath.Join(out, "revocation-bundle.json"))
	sig, _ := os.ReadFile(filepath.Join(out, "revocation-bundle.json.jws"))
	sum, _ := os.ReadFile(filepath.Join(out, "revocation-bundle.json.sha256"))
	b, kid, err := authority.VerifyRevocationBundle(body, string(sig), string(sum), jwks)
	if err != nil {
		t.Fatal(err)
	}
	var jtis []string
	for _, rv := range b.Revocations {
		jtis = append(jtis, rv.JTI)
	}
	want := []string{oc.ID, claimsOf(t, cc.AccessToken)["jti"].(string)}
	slices.Sort(want)
	if kid != "authority-signing-2027" || !slices.Equal(jtis, want) {
		t.Fatalf("bundle kid %s jtis %v, want %v", kid, jtis, want)
	}

	// The audit trail saw the grants, the rotation and the admin calls.
	evs, err := admin.Audit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range evs {
		seen[e.Type+"/"+e.Outcome]++
	}
	for _, k := range []string{"authority.token.grant/success", "authority.token.grant/failure", "authority.signing.rotate/success",
		"authority.token.offline/success", "authority.token.revoke/success", "http.request/success"} {
		if seen[k] == 0 {
			t.Errorf("no %s audit event; saw %v", k, seen)
		}
	}

	// Metrics: per-route counts and latencies, auth failures, queue depth.
	mr, err := anon.Raw(ctx, "GET", "/metrics", nil, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`stellaops_http_requests_total{code="200",method="GET",route="GET /api/v1/quota"}`,
		`stellaops_http_request_duration_seconds_count{method="POST",route="POST /connect/token"}`,
		`stellaops_auth_failures_total{reason="revoked"} 1`,
		`stellaops_queue_jobs{state="ready"} 0`,
		`stella_quota_soft_hits_total 0`,
	} {
		if !strings.Contains(string(mr.Body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Shutdown: Serve returns cleanly and the port closes.
	r.shutdown(t)
	if _, err := anon.Health(ctx); err == nil {
		t.Fatal("server still answering after shutdown")
	}
}

func fetchJWKS(t *testing.T, c *client.Client) jose.JSONWebKeySet {
	t.Helper()
	raw, err := c.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	return set
}

func claimsOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	p := strings.Split(raw, ".")
	b, err := decodeSeg(p[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func headerKID(t *testing.T, raw string) string {
	t.Helper()
	b, err := decodeSeg(strings.Split(raw, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	_ = json.Unmarshal(b, &h)
	s, _ := h["kid"].(string)
	return s
}

func decodeSeg(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(s)
}
