package server_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/testenv"
	"github.com/stellaops/stellaops/pkg/client"
)

// TestReplicasShareState runs two API replicas on one PostgreSQL schema and one Redis, as
// scale mode does, and checks that tokens, rotations, revocations, the rate limit and the
// daily quota are one across both.
func TestReplicasShareState(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchemaDSN(t, "server_replicas")
	redisAddr := testenv.RedisAddr(t)
	// The clock stands still inside one second, so the rate window is the same for every
	// request of the test.
	clk := &clock{t: time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)}
	keys := t.TempDir()
	cfg := baseConfig()
	cfg.Storage = server.StorageConfig{Driver: "postgres", DSN: dsn}
	prefix := "test-" + testenv.RandomHex(6)
	cfg.Redis = server.RedisConfig{Addr: redisAddr, Prefix: prefix}
	testenv.DeleteRedisKeysAtCleanup(t, redisAddr, "stellaops:quota:"+prefix+":*")
	testenv.DeleteRedisKeysAtCleanup(t, redisAddr, "{stellaops:queue:scan:"+prefix+"}:*")
	cfg.Authority.Issuer = "https://stellaops.test"
	cfg.Authority.KeyDirectory = keys
	cfg.Quota.RatePerSecond = 10
	cfg.Quota.TokenDailyLimit = 3
	cfg.Quota.HardLimit = 4
	cfg.Quota.Salt = "shared-salt"

	a := start(t, cfg, server.Options{DataDir: t.TempDir(), Now: clk.Now})
	b := start(t, cfg, server.Options{DataDir: t.TempDir(), Now: clk.Now})
	// A scan-counting route, as the scan handlers use ChargeScan, on both replicas.
	for _, r := range []*running{a, b} {
		api := r.srv.API
		if err := api.Handle(apiRoute(api)); err != nil {
			t.Fatal(err)
		}
	}

	adminA := newClient(t, a.url, client.WithBootstrapKey(bootstrap))
	adminB := newClient(t, b.url, client.WithBootstrapKey(bootstrap))
	ci, err := adminA.CreateClient(ctx, client.NewClient{ClientID: "ci", Scopes: []string{"stella.api", "scanner.scans.enqueue"}})
	if err != nil {
		t.Fatal(err)
	}
	// A client created on A gets tokens from B; the token works on both.
	tok, err := newClient(t, b.url).Token(ctx, client.TokenRequest{ClientID: "ci", ClientSecret: ci.Secret})
	if err != nil {
		t.Fatal(err)
	}
	onA := newClient(t, a.url, client.WithToken(tok.AccessToken))
	onB := newClient(t, b.url, client.WithToken(tok.AccessToken))

	// Rate limit: 10 per second per token holder across both replicas.
	ok, limited := 0, 0
	var retryAfter string
	for i := range 14 {
		c := onA
		if i%2 == 1 {
			c = onB
		}
		_, resp, err := c.Quota(ctx)
		switch {
		case err == nil:
			ok++
		case client.IsStatus(err, 429):
			limited++
			retryAfter = resp.Header.Get("Retry-After")
		default:
			t.Fatal(err)
		}
	}
	if ok != 10 || limited != 4 || retryAfter != "1" {
		t.Fatalf("across replicas: %d allowed, %d limited (Retry-After %q); want 10, 4, \"1\"", ok, limited, retryAfter)
	}

	// Daily quota: 3 free, the 4th delayed, the 5th refused by the hard limit of 4, counted
	// across both replicas. The delay is shortened by moving the clock on, not by waiting.
	clk.Add(time.Second)
	var remaining []string
	for i, c := range []*client.Client{onA, onB, onA} {
		resp, err := c.Raw(ctx, http.MethodPost, "/test/scan", nil, "", nil)
		if err != nil {
			t.Fatalf("scan %d: %v", i+1, err)
		}
		remaining = append(remaining, resp.Header.Get("X-Stella-Quota-Remaining"))
	}
	if remaining[0] != "2" || remaining[1] != "1" || remaining[2] != "0" {
		t.Fatalf("X-Stella-Quota-Remaining %v, want 2 1 0", remaining)
	}
	// The 4th is counted, then held for 5 s: a client that gives up after 200 ms sees no
	// answer.
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = onB.Raw(sctx, http.MethodPost, "/test/scan", nil, "", nil)
	cancel()
	if err == nil {
		t.Fatal("the over-quota scan was not delayed")
	}
	resp, err := onA.Raw(ctx, http.MethodPost, "/test/scan", nil, "", nil)
	if !client.IsStatus(err, 429) {
		t.Fatalf("5th scan: %v", err)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("hard limit without Retry-After")
	}
	if q, _, err := onB.Quota(ctx); err != nil || q.Used != 4 {
		t.Fatalf("quota seen on B: %+v %v", q, err)
	}

	// Rotation on A: B signs with the new key after its refresh, and verifies A's new tokens
	// at once (unknown kid → reload).
	if err := authority.GenerateKeyFile(filepath.Join(keys, "next.pem"), authority.AlgEdDSA); err != nil {
		t.Fatal(err)
	}
	if _, err := adminA.RotateSigningKey(ctx, client.RotateRequest{KeyID: "next", Location: "next.pem"}); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Second)
	tok2, err := newClient(t, a.url).Token(ctx, client.TokenRequest{ClientID: "ci", ClientSecret: ci.Secret})
	if err != nil {
		t.Fatal(err)
	}
	if kid := headerKID(t, tok2.AccessToken); kid != "next" {
		t.Fatalf("A signs with %s", kid)
	}
	if _, _, err := newClient(t, b.url, client.WithToken(tok2.AccessToken)).Quota(ctx); err != nil {
		t.Fatalf("B on A's new key: %v", err)
	}

	// Revocation on B is rejected on A at once.
	jti := claimsOf(t, tok.AccessToken)["jti"].(string)
	if _, err := adminB.Revoke(ctx, client.RevokeRequest{JTI: jti}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := onA.Quota(ctx); !client.IsStatus(err, 401) {
		t.Fatalf("revoked on B, used on A: %v", err)
	}
}

func apiRoute(s *api.Server) api.Route {
	return api.Route{Method: "POST", Path: "/test/scan", Scope: "scanner.scans.enqueue", Summary: "test scan",
		Handler: func(w http.ResponseWriter, r *http.Request) {
			d, ok := s.ChargeScan(w, r)
			if !ok {
				return
			}
			api.WriteJSON(w, 200, map[string]string{"remaining": strconv.Itoa(d.Remaining)})
		}}
}
