package authority_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/authority/sqlitestore"
)

// cheap keeps argon2 fast in tests; the production cost is DefaultArgon2.
var cheap = authority.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

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

type fixture struct {
	svc   *authority.Service
	store authority.Store
	clk   *clock
	dir   string
}

const (
	ciID     = "ci-bot"
	ciSecret = "ci-bot-secret-0123456789"
	uiID     = "console"
	uiSecret = "console-secret-0123456789"
	userPass = "Correct-Horse-9-battery"
)

func newFixture(t *testing.T, alg string) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "authority.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	svc, err := authority.New(st, authority.Config{Issuer: "https://authority.test", Argon2: cheap, KeyDir: filepath.Join(dir, "keys"), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EnsureSigningKey(ctx, alg); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.CreateClient(ctx, authority.NewClient{ID: ciID, Scopes: []string{authority.ScopeAPI, authority.ScopeScansEnqueue}, Secret: ciSecret, MaxScansPerDay: 50, Tenant: "t1"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.CreateClient(ctx, authority.NewClient{ID: uiID, Scopes: authority.AllScopes(), Grants: []string{"password"}, Secret: uiSecret}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, authority.NewUser{Username: "dev", Password: userPass, Roles: []string{"developer"}, Tenant: "t2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, authority.NewUser{Username: "root", Password: userPass, Roles: []string{"admin"}}); err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, store: st, clk: clk, dir: dir}
}

func (f *fixture) token(t *testing.T, r authority.TokenRequest) (string, authority.Claims) {
	t.Helper()
	resp, c, oe := f.svc.Token(context.Background(), r, authority.Origin{})
	if oe != nil {
		t.Fatalf("token: %v", oe)
	}
	return resp.AccessToken, c
}

func TestClientCredentialsClaims(t *testing.T) {
	for _, alg := range []string{authority.AlgES256, authority.AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			raw, issued := f.token(t, authority.TokenRequest{GrantType: "client_credentials", ClientID: ciID, ClientSecret: ciSecret})
			c, err := f.svc.Validate(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			if c.Issuer != "https://authority.test" || c.Subject != ciID || c.ClientID != ciID || c.Tenant != "t1" || c.MaxScansPerDay != 50 ||
				c.TokenUse != "access" || !slices.Equal(c.Audience, []string{"stellaops"}) || c.ID == "" || len(c.ID) != 32 {
				t.Fatalf("claims %+v", c)
			}
			if !slices.Equal(c.Scopes, []string{"scanner.scans.enqueue", "stella.api"}) {
				t.Fatalf("scopes %v", c.Scopes)
			}
			if got := c.Expiry.Sub(c.IssuedAt); got != time.Hour || !c.NotBefore.Equal(c.IssuedAt) {
				t.Fatalf("lifetime %v nbf %v iat %v", got, c.NotBefore, c.IssuedAt)
			}
			if c.ID != issued.ID || c.KeyID != issued.KeyID {
				t.Fatalf("issued %+v, validated %+v", issued, c)
			}
			// The header names the algorithm and the key.
			hdr, _, _ := strings.Cut(raw, ".")
			hb, _ := base64.RawURLEncoding.DecodeString(hdr)
			var h map[string]string
			_ = json.Unmarshal(hb, &h)
			if h["alg"] != alg || h["kid"] != c.KeyID || h["typ"] != "JWT" {
				t.Fatalf("header %v", h)
			}
		})
	}
}

func TestTokenErrors(t *testing.T) {
	f := newFixture(t, authority.AlgES256)
	cases := []struct {
		name string
		req  authority.TokenRequest
		code string
	}{
		{"wrong secret", authority.TokenRequest{GrantType: "client_credentials", ClientID: ciID, ClientSecret: "nope"}, "invalid_client"},
		{"unknown client", authority.TokenRequest{GrantType: "client_credentials", ClientID: "ghost", ClientSecret: ciSecret}, "invalid_client"},
		{"grant not allowed", authority.TokenRequest{GrantType: "password", ClientID: ciID, ClientSecret: ciSecret, Username: "dev", Password: userPass}, "unauthorized_client"},
		{"scope not allowed", authority.TokenRequest{GrantType: "client_credentials", ClientID: ciID, ClientSecret: ciSecret, Scopes: []string{"authority.admin"}}, "invalid_scope"},
		{"wrong password", authority.TokenRequest{GrantType: "password", ClientID: uiID, ClientSecret: uiSecret, Username: "dev", Password: userPass + "x"}, "invalid_grant"},
		{"unknown user", authority.TokenRequest{GrantType: "password", ClientID: uiID, ClientSecret: uiSecret, Username: "ghost", Password: userPass}, "invalid_grant"},
		{"role lacks scope", authority.TokenRequest{GrantType: "password", ClientID: uiID, ClientSecret: uiSecret, Username: "dev", Password: userPass, Scopes: []string{"policy.write"}}, "invalid_scope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, oe := f.svc.Token(context.Background(), c.req, authority.Origin{TraceID: "trace-" + c.name})
			if oe == nil || oe.Code != c.code {
				t.Fatalf("got %v, want %s", oe, c.code)
			}
			if (oe.Status == 401) != (c.code == "invalid_client") {
				t.Fatalf("status %d for %s", oe.Status, c.code)
			}
		})
	}
	// Every attempt is audited, failures with the reason.
	evs, err := f.store.Audit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	fails := 0
	for _, e := range evs {
		if e.Type == "authority.token.grant" && e.Outcome == "failure" && strings.HasPrefix(e.TraceID, "trace-") {
			fails++
		}
	}
	if fails != len(cases) {
		t.Fatalf("%d failure audit events, want %d", fails, len(cases))
	}
}

func TestPasswordGrantScopesAreRolesWithinClient(t *testing.T) {
	f := newFixture(t, authority.AlgEdDSA)
	_, c := f.token(t, authority.TokenRequest{GrantType: "password", ClientID: uiID, ClientSecret: uiSecret, Username: "dev", Password: userPass})
	if c.Subject != "dev" || c.ClientID != uiID || c.Tenant != "t2" {
		t.Fatalf("claims %+v", c)
	}
	if !slices.Equal(c.Scopes, authority.Roles()["developer"]) {
		t.Fatalf("scopes %v, want the developer role's %v", c.Scopes, authority.Roles()["developer"])
	}
}

func TestValidateRejects(t *testing.T) {
	f := newFixture(t, authority.AlgES256)
	ctx := context.Background()
	good, c := f.token(t, authority.TokenRequest{GrantType: "client_credentials", ClientID: ciID, ClientSecret: ciSecret})
	parts := strings.Split(good, ".")

	// A token from another issuer: its own key, the same kid, the same claims.
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := sign(t, otherKey, jose.ES256, c.KeyID, map[string]any{"iss": c.Issuer, "sub": "x", "aud": "stellaops", "jti": "j", "exp": c.Expiry.Unix(), "scope": "authority.admin"})
	foreignIssuer := signWithService(t, c.KeyID)

	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + c.KeyID + `"}`))
	hsHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"` + c.KeyID + `"}`))
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := strings.Replace(string(payload), `"scope":"scanner.scans.enqueue stella.api"`, `"scope":"authority.admin"`, 1)
	if tampered == string(payload) {
		t.Fatal("payload did not contain the expected scope claim")
	}
	cases := map[string]struct {
		raw  string
		want error
	}{
		"alg none":        {noneHeader + "." + parts[1] + ".", authority.ErrInvalidToken},
		"alg HS256":       {hsHeader + "." + parts[1] + "." + parts[2], authority.ErrInvalidToken},
		"bad signature":   {parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4] + "AAAA", authority.ErrInvalidToken},
		"tampered claims": {parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(tampered)) + "." + parts[2], authority.ErrInvalidToken},
		"forged same kid": {forged, authority.ErrInvalidToken},
		"other issuer":    {foreignIssuer, authority.ErrInvalidToken},
		"garbage":         {"not.a.jwt", authority.ErrInvalidToken},
		"empty":           {"", authority.ErrInvalidToken},
		"huge":            {strings.Repeat("a", 9000), authority.ErrInvalidToken},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := f.svc.Validate(ctx, tc.raw); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		// Verified once (and cached), the token still expires on time.
		if _, err := f.svc.Validate(ctx, good); err != nil {
			t.Fatal(err)
		}
		f.clk.Add(time.Hour + time.Minute)
		defer f.clk.Add(-(time.Hour + time.Minute))
		if _, err := f.svc.Validate(ctx, good); !errors.Is(err, authority.ErrTokenExpired) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		if _, err := f.svc.Validate(ctx, good); err != nil {
			t.Fatal(err)
		}
		created, err := f.svc.Revoke(ctx, authority.RevokeRequest{JTI: c.ID, Reason: "test"}, authority.Origin{})
		if err != nil || !created {
			t.Fatal(created, err)
		}
		if _, err := f.svc.Validate(ctx, good); !errors.Is(err, authority.ErrTokenRevoked) {
			t.Fatalf("got %v", err)
		}
		if created, _ := f.svc.Revoke(ctx, authority.RevokeRequest{JTI: c.ID}, authority.Origin{}); created {
			t.Fatal("second revoke reported created")
		}
	})
}

// sign makes a compact JWS of claims with key.
func sign(t *testing.T, key any, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// signWithService issues a genuine token from a second Authority with another issuer and a
// key of the same kid.
func signWithService(t *testing.T, kid string) string {
	t.Helper()
	other := newFixture(t, authority.AlgES256)
	raw, _ := other.token(t, authority.TokenRequest{GrantType: "client_credentials", ClientID: ciID, ClientSecret: ciSecret})
	return raw
}

func TestRotationKeepsRetiredKeysVerifying(t *testing.T) {
	f := newFixture(t, authority.AlgES256)
	ctx := context.Background()
	old, oc := f.token(t, authority.TokenRequest{GrantType: "client_credentials", ClientID: ciID, ClientSecret: ciSecret})
	if err := authority.GenerateKeyFile(filepath.Join(f.dir, "keys", "next.pem"), authority.AlgEdDSA); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(time.Minute)
	res, err := f.svc.Rotate(ctx, authority.RotateRequest{KeyID: "authority-signing-2027", Location: "next.pem", Source: "file", Provider: "default"}, authority.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ActiveKeyID != "authority-signing-2027" || res.PreviousKeyID != oc.KeyID || !slices.Equal(res.RetiredKeyIDs, []string{oc.KeyID}) {
		t.Fatalf("rotate result %+v", res)
	}
	_, nc := f.token(t, authority.TokenRequest{GrantType: "client_credentials", ClientID: ciID, ClientSecret: ciSecret})
	if nc.KeyID != "authority-signing-2027" {
		t.Fatalf("new token signed by %s", nc.KeyID)
	}
	if _, err := f.svc.Validate(ctx, old); err != nil {
		t.Fatalf("token of the retired key: %v", err)
	}
	set, err := f.svc.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID+"/"+k.Algorithm)
		if !k.IsPublic() {
			t.Fatal("JWKS holds a private key")
		}
	}
	want := []string{"authority-signing-2027/EdDSA", oc.KeyID + "/ES256"}
	slices.Sort(want)
	if !slices.Equal(kids, want) {
		t.Fatalf("JWKS %v, want %v", kids, want)
	}
	// A reused kid is a conflict and changes nothing; a missing file is a bad request.
	if _, err := f.svc.Rotate(ctx, authority.RotateRequest{KeyID: "authority-signing-2027", Location: "next.pem"}, authority.Origin{}); !errors.Is(err, authority.ErrConflict) {
		t.Fatalf("reused kid: %v", err)
	}
	if _, err := f.svc.Rotate(ctx, authority.RotateRequest{KeyID: "k3", Location: "missing.pem"}, authority.Origin{}); !errors.Is(err, authority.ErrBadRequest) {
		t.Fatalf("missing file: %v", err)
	}
	// After the longest token lifetime the retired key drops out and stops verifying.
	f.clk.Add(91 * 24 * time.Hour)
	set, _ = f.svc.JWKS(ctx)
	if len(set.Keys) != 1 || set.Keys[0].KeyID != "authority-signing-2027" {
		t.Fatalf("JWKS after retention: %v", set.Keys)
	}
}

func TestOfflineTokens(t *testing.T) {
	f := newFixture(t, authority.AlgEdDSA)
	ctx := context.Background()
	_, admin := f.token(t, authority.TokenRequest{GrantType: "password", ClientID: uiID, ClientSecret: uiSecret, Username: "root", Password: userPass})
	if _, err := f.svc.MintOffline(ctx, admin, authority.OfflineRequest{ExpiresDays: 91}, authority.Origin{}); !errors.Is(err, authority.ErrBadRequest) {
		t.Fatalf("91 days: %v", err)
	}
	if _, err := f.svc.MintOffline(ctx, admin, authority.OfflineRequest{ExpiresDays: 5, Scope: "authority.admin"}, authority.Origin{}); !errors.Is(err, authority.ErrBadRequest) {
		t.Fatalf("admin scope: %v", err)
	}
	tok, err := f.svc.MintOffline(ctx, admin, authority.OfflineRequest{ExpiresDays: 90, MaxScansPerDay: 1000}, authority.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if want := f.clk.Now().Add(90 * 24 * time.Hour); !tok.Expires.Equal(want) {
		t.Fatalf("expires %v, want %v", tok.Expires, want)
	}
	// Offline verification: only the published JWKS, no store, no network.
	set, _ := f.svc.JWKS(ctx)
	doc, _ := authority.MarshalJWKS(set)
	var published jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &published); err != nil {
		t.Fatal(err)
	}
	c, err := authority.Verify(ctx, tok.JWT, authority.SetLookup(published), authority.Expect{Issuer: "https://authority.test", Audience: "stellaops", Now: f.clk.Now().Add(89 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenUse != "offline" || c.MaxScansPerDay != 1000 || c.HasScope("authority.admin") || !c.HasScope("stella.api") {
		t.Fatalf("offline claims %+v", c)
	}
	if _, err := authority.Verify(ctx, tok.JWT, authority.SetLookup(published), authority.Expect{Issuer: "https://authority.test", Audience: "stellaops", Now: f.clk.Now().Add(91 * 24 * time.Hour)}); !errors.Is(err, authority.ErrTokenExpired) {
		t.Fatalf("after 91 days: %v", err)
	}
}

func TestRevocationBundle(t *testing.T) {
	f := newFixture(t, authority.AlgES256)
	ctx := context.Background()
	for _, j := range []string{"b-jti", "a-jti"} {
		if _, err := f.svc.Revoke(ctx, authority.RevokeRequest{JTI: j, Reason: "leaked"}, authority.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	// An entry whose token has expired anyway is left out.
	if _, err := f.svc.Revoke(ctx, authority.RevokeRequest{JTI: "old", ExpiresAt: f.clk.Now().Add(-time.Hour)}, authority.Origin{}); err != nil {
		t.Fatal(err)
	}
	exp, err := f.svc.ExportRevocations(ctx, authority.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := f.svc.JWKS(ctx)
	b, kid, err := authority.VerifyRevocationBundle(exp.Bundle, exp.Signature, exp.Digest, set)
	if err != nil {
		t.Fatal(err)
	}
	if kid != exp.KeyID || len(b.Revocations) != 2 || b.Revocations[0].JTI != "a-jti" || b.Revocations[1].JTI != "b-jti" || b.Issuer != "https://authority.test" {
		t.Fatalf("bundle %+v kid %s", b, kid)
	}
	// The signature is detached: header..signature.
	if p := strings.Split(exp.Signature, "."); len(p) != 3 || p[1] != "" {
		t.Fatalf("signature %q is not a detached compact JWS", exp.Signature)
	}
	tampered := []byte(strings.Replace(string(exp.Bundle), "a-jti", "z-jti", 1))
	if _, _, err := authority.VerifyRevocationBundle(tampered, exp.Signature, "", set); !errors.Is(err, authority.ErrBundle) {
		t.Fatalf("tampered body: %v", err)
	}
	if _, _, err := authority.VerifyRevocationBundle(exp.Bundle, exp.Signature, strings.Repeat("0", 64), set); !errors.Is(err, authority.ErrBundle) {
		t.Fatalf("wrong digest: %v", err)
	}
	other := newFixture(t, authority.AlgES256)
	oset, _ := other.svc.JWKS(ctx)
	if _, _, err := authority.VerifyRevocationBundle(exp.Bundle, exp.Signature, exp.Digest, oset); !errors.Is(err, authority.ErrBundle) {
		t.Fatalf("foreign keys: %v", err)
	}
}

func TestRevokeTokenOnlyByItsClient(t *testing.T) {
	f := newFixture(t, authority.AlgES256)
	ctx := context.Background()
	raw, _ := f.token(t, authority.TokenRequest{GrantType: "client_credentials", ClientID: ciID, ClientSecret: ciSecret})
	if oe := f.svc.RevokeToken(ctx, uiID, uiSecret, raw, authority.Origin{}); oe == nil || oe.Code != "unauthorized_client" {
		t.Fatalf("other client: %v", oe)
	}
	if oe := f.svc.RevokeToken(ctx, ciID, "wrong", raw, authority.Origin{}); oe == nil || oe.Code != "invalid_client" {
		t.Fatalf("bad secret: %v", oe)
	}
	if oe := f.svc.RevokeToken(ctx, ciID, ciSecret, "garbage", authority.Origin{}); oe != nil {
		t.Fatalf("invalid token must be ignored: %v", oe)
	}
	if oe := f.svc.RevokeToken(ctx, ciID, ciSecret, raw, authority.Origin{}); oe != nil {
		t.Fatal(oe)
	}
	if _, err := f.svc.Validate(ctx, raw); !errors.Is(err, authority.ErrTokenRevoked) {
		t.Fatalf("after revoke: %v", err)
	}
}

func TestCreateUserPolicy(t *testing.T) {
	f := newFixture(t, authority.AlgES256)
	ctx := context.Background()
	for _, pw := range []string{"short-1A!", "alllowercase-123!", "ALLUPPERCASE-123!", "NoDigits-Here!!", "NoSymbols12345Ab"} {
		if _, err := f.svc.CreateUser(ctx, authority.NewUser{Username: "u", Password: pw, Roles: []string{"viewer"}}); !errors.Is(err, authority.ErrBadRequest) {
			t.Errorf("password %q: %v", pw, err)
		}
	}
	if _, err := f.svc.CreateUser(ctx, authority.NewUser{Username: "u", Password: userPass, Roles: []string{"wizard"}}); !errors.Is(err, authority.ErrBadRequest) {
		t.Errorf("unknown role: %v", err)
	}
	u, err := f.store.User(ctx, "dev")
	if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("stored hash %q, %v", u.PasswordHash, err)
	}
}
