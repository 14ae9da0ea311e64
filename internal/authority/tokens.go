package authority

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Token uses, in the token_use claim: offline tokens are long-lived and minted by an admin for
// an air-gapped site; access tokens come from /connect/token.
const (
	TokenUseAccess  = "access"
	TokenUseOffline = "offline"
)

// Token validation errors, compared with errors.Is; all mean 401 invalid_token.
var (
	ErrInvalidToken = errors.New("invalid token")
	ErrTokenExpired = errors.New("token expired")
	ErrTokenRevoked = errors.New("token revoked")
)

// maxTokenLen bounds what is parsed: our tokens are well under 2 KiB.
const maxTokenLen = 8 << 10

// allowedAlgs is the only algorithm list tokens are parsed with: "none" and HMAC can never
// verify, so an attacker cannot pick the algorithm.
var allowedAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA}

// Claims are the validated claims of a token.
type Claims struct {
	Issuer    string    `json:"iss"`
	Subject   string    `json:"sub"`
	Audience  []string  `json:"aud"`
	Expiry    time.Time `json:"exp"`
	IssuedAt  time.Time `json:"iat"`
	NotBefore time.Time `json:"nbf"`
	ID        string    `json:"jti"`
	// Scopes are sorted.
	Scopes         []string `json:"scope"`
	Tenant         string   `json:"tid,omitempty"`
	ClientID       string   `json:"client_id,omitempty"`
	MaxScansPerDay int      `json:"maxScansPerDay,omitempty"`
	TokenUse       string   `json:"token_use"`
	// KeyID is the kid the token was signed with.
	KeyID string `json:"-"`
}

// HasScope reports whether the token grants scope.
func (c Claims) HasScope(scope string) bool { return HasScope(c.Scopes, scope) }

// wireClaims are the non-registered claims as they appear in the JWT.
type wireClaims struct {
	Scope          string `json:"scope"`
	Tenant         string `json:"tid,omitempty"`
	ClientID       string `json:"client_id,omitempty"`
	MaxScansPerDay int    `json:"maxScansPerDay,omitempty"`
	TokenUse       string `json:"token_use,omitempty"`
}

// sign serialises c as a JWT signed by k.
func (k *signingKey) sign(c Claims) (string, error) {
	std := jwt.Claims{
		Issuer:    c.Issuer,
		Subject:   c.Subject,
		Audience:  jwt.Audience(c.Audience),
		Expiry:    jwt.NewNumericDate(c.Expiry),
		IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
		NotBefore: jwt.NewNumericDate(c.NotBefore),
		ID:        c.ID,
	}
	w := wireClaims{Scope: strings.Join(c.Scopes, " "), Tenant: c.Tenant, ClientID: c.ClientID, MaxScansPerDay: c.MaxScansPerDay, TokenUse: c.TokenUse}
	raw, err := jwt.Signed(k.signer).Claims(std).Claims(w).Serialize()
	if err != nil {
		return "", fmt.Errorf("authority: sign token: %w", err)
	}
	return raw, nil
}

// newJTI returns 128 random bits in hex.
func newJTI() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("authority: token id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Expect is what a verified token must show.
type Expect struct {
	Issuer   string
	Audience string
	Now      time.Time
	// Leeway absorbs clock skew between the issuer and the verifier on exp, nbf and iat.
	Leeway time.Duration
}

// KeyLookup finds the public key of a kid; ok is false for an unknown kid.
type KeyLookup func(ctx context.Context, kid string) (key jose.JSONWebKey, ok bool, err error)

// Verify checks raw's signature, algorithm, issuer, audience and lifetime, without any
// network or store (revocation is the caller's). It is what an air-gapped verifier of an
// offline token runs, with the published JWKS.
func Verify(ctx context.Context, raw string, lookup KeyLookup, exp Expect) (Claims, error) {
	if len(raw) > maxTokenLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenLen)
	}
	tok, err := jwt.ParseSigned(raw, allowedAlgs)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if len(tok.Headers) != 1 {
		return Claims{}, fmt.Errorf("%w: want one signature", ErrInvalidToken)
	}
	h := tok.Headers[0]
	if h.KeyID == "" {
		return Claims{}, fmt.Errorf("%w: no kid header", ErrInvalidToken)
	}
	key, ok, err := lookup(ctx, h.KeyID)
	if err != nil {
		return Claims{}, err
	}
	if !ok {
		return Claims{}, fmt.Errorf("%w: unknown signing key %q", ErrInvalidToken, h.KeyID)
	}
	// The key's own algorithm must match the header's: an EdDSA key never verifies an
	// ES256-labelled token and the reverse.
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return Claims{}, fmt.Errorf("%w: algorithm %s does not match key %s", ErrInvalidToken, h.Algorithm, h.KeyID)
	}
	var std jwt.Claims
	var w wireClaims
	if err := tok.Claims(key.Key, &std, &w); err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if std.Expiry == nil || std.ID == "" || std.Subject == "" {
		return Claims{}, fmt.Errorf("%w: exp, jti and sub are required", ErrInvalidToken)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: exp.Issuer, AnyAudience: jwt.Audience{exp.Audience}, Time: exp.Now}, exp.Leeway); err != nil {
		if errors.Is(err, jwt.ErrExpired) {
			return Claims{}, fmt.Errorf("%w: expired at %s", ErrTokenExpired, std.Expiry.Time().UTC().Format(time.RFC3339))
		}
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	c := Claims{
		Issuer: std.Issuer, Subject: std.Subject, Audience: []string(std.Audience), Expiry: std.Expiry.Time().UTC(),
		ID: std.ID, Scopes: ParseScope(w.Scope), Tenant: w.Tenant, ClientID: w.ClientID,
		MaxScansPerDay: w.MaxScansPerDay, TokenUse: w.TokenUse, KeyID: h.KeyID,
	}
	if std.IssuedAt != nil {
		c.IssuedAt = std.IssuedAt.Time().UTC()
	}
	if std.NotBefore != nil {
		c.NotBefore = std.NotBefore.Time().UTC()
	}
	if c.MaxScansPerDay < 0 {
		return Claims{}, fmt.Errorf("%w: negative maxScansPerDay", ErrInvalidToken)
	}
	return c, nil
}

// SetLookup is a KeyLookup over a fixed JWKS, for offline verification.
func SetLookup(set jose.JSONWebKeySet) KeyLookup {
	return func(_ context.Context, kid string) (jose.JSONWebKey, bool, error) {
		keys := set.Key(kid)
		if len(keys) == 0 {
			return jose.JSONWebKey{}, false, nil
		}
		return keys[0], true, nil
	}
}

// validScopes returns the sorted requested scopes, all of which must be in allowed; an empty
// request gets all of allowed (RFC 6749 §3.3 lets the server pick a default).
func validScopes(requested, allowed []string) ([]string, error) {
	if len(requested) == 0 {
		return slices.Clone(allowed), nil
	}
	for _, s := range requested {
		if !HasScope(allowed, s) {
			return nil, fmt.Errorf("scope %q is not allowed for this client", s)
		}
	}
	return requested, nil
}
