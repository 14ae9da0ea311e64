package authority

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestParseTokenRequest(t *testing.T) {
	cases := []struct {
		name     string
		form     string
		basic    [2]string
		hasBasic bool
		code     string
		want     TokenRequest
	}{
		{name: "basic client credentials", form: "grant_type=client_credentials&scope=stella.api+scanner.scans.read+stella.api",
			basic: [2]string{"ci%2Dbot", "s%3Ac"}, hasBasic: true,
			want: TokenRequest{GrantType: "client_credentials", ClientID: "ci-bot", ClientSecret: "s:c", Scopes: []string{"scanner.scans.read", "stella.api"}}},
		{name: "post password", form: "grant_type=password&client_id=ui&client_secret=x&username=u&password=p",
			want: TokenRequest{GrantType: "password", ClientID: "ui", ClientSecret: "x", Username: "u", Password: "p", Scopes: []string{}}},
		{name: "no grant", form: "client_id=a", code: ErrCodeInvalidRequest},
		{name: "repeated", form: "grant_type=client_credentials&client_id=a&client_id=b", code: ErrCodeInvalidRequest},
		{name: "two auth methods", form: "grant_type=client_credentials&client_secret=x", basic: [2]string{"a", "b"}, hasBasic: true, code: ErrCodeInvalidRequest},
		{name: "basic and other id", form: "grant_type=client_credentials&client_id=b", basic: [2]string{"a", "x"}, hasBasic: true, code: ErrCodeInvalidRequest},
		{name: "no client", form: "grant_type=client_credentials", code: ErrCodeInvalidClient},
		{name: "bad basic encoding", form: "grant_type=client_credentials", basic: [2]string{"%zz", "x"}, hasBasic: true, code: ErrCodeInvalidClient},
		{name: "unsupported grant", form: "grant_type=authorization_code&client_id=a", code: ErrCodeUnsupportedGrantType},
		{name: "password without user", form: "grant_type=password&client_id=a&password=p", code: ErrCodeInvalidRequest},
		{name: "bad scope char", form: "grant_type=client_credentials&client_id=a&scope=a%22b", code: ErrCodeInvalidScope},
		{name: "too long", form: "grant_type=client_credentials&client_id=" + strings.Repeat("a", 5000), code: ErrCodeInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form, err := url.ParseQuery(c.form)
			if err != nil {
				t.Fatal(err)
			}
			got, oe := ParseTokenRequest(form, c.basic[0], c.basic[1], c.hasBasic)
			if c.code != "" {
				if oe == nil || oe.Code != c.code {
					t.Fatalf("got %+v, %v; want %s", got, oe, c.code)
				}
				return
			}
			if oe != nil {
				t.Fatal(oe)
			}
			if got.GrantType != c.want.GrantType || got.ClientID != c.want.ClientID || got.ClientSecret != c.want.ClientSecret ||
				got.Username != c.want.Username || got.Password != c.want.Password || !slices.Equal(got.Scopes, c.want.Scopes) && len(got.Scopes)+len(c.want.Scopes) > 0 {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// FuzzParseTokenRequest feeds arbitrary form bodies and Basic credentials: no panic, and a
// success always names a supported grant and a client.
func FuzzParseTokenRequest(f *testing.F) {
	f.Add("grant_type=client_credentials&client_id=a&client_secret=b&scope=stella.api", "", "", false)
	f.Add("grant_type=password&username=u&password=p", "ci", "s", true)
	f.Add("grant_type=password&username=u&password=p&scope=%00", "%zz", "", true)
	f.Fuzz(func(t *testing.T, body, user, pass string, hasBasic bool) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		r, oe := ParseTokenRequest(form, user, pass, hasBasic)
		if oe != nil {
			if oe.Code == "" || oe.Status == 0 {
				t.Fatalf("error without code or status: %+v", oe)
			}
			return
		}
		if r.ClientID == "" || (r.GrantType != GrantClientCredentials && r.GrantType != GrantPassword) {
			t.Fatalf("accepted %+v", r)
		}
		if !slices.IsSorted(r.Scopes) {
			t.Fatalf("scopes not sorted: %v", r.Scopes)
		}
	})
}

// FuzzVerify is the JWT parser path: arbitrary token strings against a real key must never
// panic and never verify unless they are the token signed by that key.
func FuzzVerify(f *testing.F) {
	seed := ed25519.NewKeyFromSeed(make([]byte, 32))
	k, err := newSigningKey(seed, "k1", AlgEdDSA)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	good, err := k.sign(Claims{Issuer: "iss", Subject: "s", Audience: []string{"aud"}, ID: "j", Scopes: []string{"stella.api"},
		IssuedAt: now, NotBefore: now, Expiry: now.Add(time.Hour), TokenUse: TokenUseAccess})
	if err != nil {
		f.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: seed.Public(), KeyID: "k1", Algorithm: AlgEdDSA}
	lookup := SetLookup(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c")
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := Verify(context.Background(), raw, lookup, Expect{Issuer: "iss", Audience: "aud", Now: now})
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if c.ID != "j" || c.Subject != "s" {
			t.Fatalf("verified a token that was not signed: %+v", c)
		}
	})
}
