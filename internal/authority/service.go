package authority

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Config tunes a Service. Zero values take the defaults named on each field.
type Config struct {
	// Issuer is the iss of every token and the base of the discovery document (required).
	Issuer string
	// Audience is the aud of access tokens; default "stellaops".
	Audience string
	// AccessTokenLifetime is expires_in; default 1 h.
	AccessTokenLifetime time.Duration
	// OfflineMaxDays caps POST /token/offline's expiresDays; default 90.
	OfflineMaxDays int
	// DefaultMaxScansPerDay goes into offline tokens that ask for none; default 333.
	DefaultMaxScansPerDay int
	// PasswordPolicy applies to new user passwords; the zero value means the baseline.
	PasswordPolicy *PasswordPolicy
	// Argon2 is the cost of new hashes; zero means DefaultArgon2.
	Argon2 Argon2Params
	// KeyRefresh is how long a replica trusts its cached key set; default 5 s.
	KeyRefresh time.Duration
	// Leeway absorbs clock skew in token validation; default 30 s.
	Leeway time.Duration
	// KeyDir is where relative key locations are resolved, and where generated keys go.
	KeyDir string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Service is the Authority.
type Service struct {
	store Store
	cfg   Config
	pol   PasswordPolicy
	keys  *KeyRing
	log   *slog.Logger
	// dummyHash is verified when a client or user does not exist, so that a wrong id costs
	// the same time as a wrong secret and ids cannot be enumerated by timing.
	dummyHash string
	verified  *verifyCache
}

// New returns a Service over store. It logs a warning for every way the password policy is
// weaker than the baseline.
func New(store Store, cfg Config) (*Service, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("authority: issuer is required")
	}
	if cfg.Audience == "" {
		cfg.Audience = "stellaops"
	}
	if cfg.AccessTokenLifetime <= 0 {
		cfg.AccessTokenLifetime = time.Hour
	}
	if cfg.OfflineMaxDays <= 0 {
		cfg.OfflineMaxDays = 90
	}
	if cfg.DefaultMaxScansPerDay <= 0 {
		cfg.DefaultMaxScansPerDay = 333
	}
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = DefaultArgon2
	}
	if cfg.KeyRefresh <= 0 {
		cfg.KeyRefresh = 5 * time.Second
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pol := BaselinePasswordPolicy
	if cfg.PasswordPolicy != nil {
		pol = *cfg.PasswordPolicy
	}
	for _, w := range pol.Weakened() {
		cfg.Logger.Warn("authority password policy is weaker than the baseline", "problem", w)
	}
	dummy, err := HashSecret("not-a-real-secret", cfg.Argon2)
	if err != nil {
		return nil, err
	}
	s := &Service{store: store, cfg: cfg, pol: pol, log: cfg.Logger, dummyHash: dummy, verified: newVerifyCache(10000, time.Minute)}
	// A retired key verifies as long as a token it signed can live: the longest is an
	// offline token.
	retention := time.Duration(cfg.OfflineMaxDays)*24*time.Hour + cfg.AccessTokenLifetime
	s.keys = newKeyRing(store, cfg.Now, cfg.KeyRefresh, retention, s.resolveKey)
	return s, nil
}

// Issuer returns the configured issuer.
func (s *Service) Issuer() string { return s.cfg.Issuer }

// Audience returns the audience of access tokens.
func (s *Service) Audience() string { return s.cfg.Audience }

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

// PasswordPolicy returns the policy in force.
func (s *Service) PasswordPolicy() PasswordPolicy { return s.pol }

func (s *Service) resolveKey(loc string) string {
	if filepath.IsAbs(loc) || s.cfg.KeyDir == "" {
		return loc
	}
	return filepath.Join(s.cfg.KeyDir, loc)
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Origin describes the HTTP request behind a call, for the audit trail.
type Origin struct {
	TraceID  string
	RemoteIP string
}

// TokenResponse is the successful /connect/token answer (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// Token runs a parsed token request: it authenticates the client (and user), checks the
// grant and scopes, and signs an access token. Every outcome is audited.
func (s *Service) Token(ctx context.Context, r TokenRequest, o Origin) (TokenResponse, Claims, *OAuthError) {
	resp, c, oe := s.token(ctx, r)
	ev := AuditEvent{Type: "authority.token.grant", Outcome: "success", Subject: c.Subject, ClientID: r.ClientID, Scopes: c.Scopes,
		TraceID: o.TraceID, RemoteIP: o.RemoteIP, Detail: r.GrantType}
	if oe != nil {
		ev.Outcome, ev.Subject, ev.Detail, ev.Status = "failure", r.Username, r.GrantType+": "+oe.Code+": "+oe.Description, oe.Status
		if ev.Subject == "" {
			ev.Subject = r.ClientID
		}
	}
	s.audit(ctx, ev)
	return resp, c, oe
}

func (s *Service) token(ctx context.Context, r TokenRequest) (TokenResponse, Claims, *OAuthError) {
	cl, oe := s.authenticateClient(ctx, r.ClientID, r.ClientSecret)
	if oe != nil {
		return TokenResponse{}, Claims{}, oe
	}
	if !slices.Contains(cl.Grants, r.GrantType) {
		return TokenResponse{}, Claims{}, oauthErr(ErrCodeUnauthorizedClient, "client %q may not use the %s grant", cl.ID, r.GrantType)
	}
	c := Claims{Subject: cl.ID, ClientID: cl.ID, Tenant: cl.Tenant, MaxScansPerDay: cl.MaxScansPerDay}
	allowed := cl.Scopes
	if r.GrantType == GrantPassword {
		u, err := s.store.User(ctx, r.Username)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return TokenResponse{}, Claims{}, serverErr(err)
		}
		hash := u.PasswordHash
		if err != nil || u.Disabled {
			hash = s.dummyHash
		}
		verr := VerifySecret(hash, r.Password)
		if err != nil || u.Disabled || verr != nil {
			return TokenResponse{}, Claims{}, oauthErr(ErrCodeInvalidGrant, "invalid username or password")
		}
		c.Subject = u.Username
		if u.Tenant != "" {
			c.Tenant = u.Tenant
		}
		allowed = intersect(cl.Scopes, RoleScopes(u.Roles))
	}
	scopes, err := validScopes(r.Scopes, allowed)
	if err != nil {
		return TokenResponse{}, Claims{}, oauthErr(ErrCodeInvalidScope, "%v", err)
	}
	c.Scopes = scopes
	raw, c, err := s.issue(ctx, c, TokenUseAccess, s.cfg.AccessTokenLifetime)
	if err != nil {
		return TokenResponse{}, Claims{}, serverErr(err)
	}
	return TokenResponse{AccessToken: raw, TokenType: "Bearer", ExpiresIn: int(s.cfg.AccessTokenLifetime / time.Second), Scope: strings.Join(c.Scopes, " ")}, c, nil
}

// authenticateClient checks a client's secret in constant work whether or not it exists.
func (s *Service) authenticateClient(ctx context.Context, id, secret string) (Client, *OAuthError) {
	cl, err := s.store.Client(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Client{}, serverErr(err)
	}
	hash := cl.SecretHash
	if err != nil || hash == "" {
		hash = s.dummyHash
	}
	verr := VerifySecret(hash, secret)
	if err != nil || cl.SecretHash == "" || cl.Disabled || verr != nil {
		return Client{}, oauthErr(ErrCodeInvalidClient, "client authentication failed")
	}
	return cl, nil
}

// issue fills the registered claims of c and signs it.
func (s *Service) issue(ctx context.Context, c Claims, use string, ttl time.Duration) (string, Claims, error) {
	k, err := s.keys.active(ctx)
	if err != nil {
		return "", Claims{}, err
	}
	jti, err := newJTI()
	if err != nil {
		return "", Claims{}, err
	}
	// Whole seconds: NumericDate has second resolution, and the Claims returned must equal
	// what a verifier reads back.
	now := s.now().Truncate(time.Second)
	c.Issuer, c.Audience, c.ID, c.TokenUse, c.KeyID = s.cfg.Issuer, []string{s.cfg.Audience}, jti, use, k.kid
	c.IssuedAt, c.NotBefore, c.Expiry = now, now, now.Add(ttl)
	raw, err := k.sign(c)
	if err != nil {
		return "", Claims{}, err
	}
	return raw, c, nil
}

// Validate verifies a bearer token against the current keys and the revocation list.
func (s *Service) Validate(ctx context.Context, raw string) (Claims, error) {
	now := s.now()
	key := tokenKey(raw)
	c, hit := s.verified.get(key, now)
	if hit {
		// The signature verified before; what may have changed since is the clock and the
		// key set (a retired key past retention no longer verifies).
		if now.After(c.Expiry.Add(s.cfg.Leeway)) {
			return Claims{}, fmt.Errorf("%w: expired at %s", ErrTokenExpired, c.Expiry.Format(time.RFC3339))
		}
		if _, ok, err := s.keys.verifier(ctx, c.KeyID); err != nil || !ok {
			hit = false
		}
	}
	if !hit {
		var err error
		c, err = Verify(ctx, raw, s.keys.verifier, Expect{Issuer: s.cfg.Issuer, Audience: s.cfg.Audience, Now: now, Leeway: s.cfg.Leeway})
		if err != nil {
			return Claims{}, err
		}
		s.verified.put(key, c, now)
	}
	revoked, err := s.store.IsRevoked(ctx, c.ID)
	if err != nil {
		return Claims{}, fmt.Errorf("authority: revocation check: %w", err)
	}
	if revoked {
		return Claims{}, fmt.Errorf("%w: jti %s", ErrTokenRevoked, c.ID)
	}
	return c, nil
}

// JWKS returns the key set that verifies tokens now.
func (s *Service) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) { return s.keys.JWKS(ctx) }

// ErrBadRequest wraps caller mistakes of the admin operations (400).
var ErrBadRequest = errors.New("bad request")

// OfflineRequest is the body of POST /token/offline.
type OfflineRequest struct {
	// ExpiresDays is the lifetime in days, 1…OfflineMaxDays; 0 means 30.
	ExpiresDays int `json:"expiresDays"`
	// MaxScansPerDay is the token's daily quota; 0 means the default (333).
	MaxScansPerDay int `json:"maxScansPerDay,omitempty"`
	// Scope is space-delimited; empty means the scanning scopes the admin holds.
	Scope string `json:"scope,omitempty"`
}

// OfflineToken is the answer of POST /token/offline.
type OfflineToken struct {
	JWT     string    `json:"jwt"`
	Expires time.Time `json:"expires"`
}

// offlineDefaultScopes are what an air-gapped scanner needs.
var offlineDefaultScopes = []string{ScopeAPI, ScopeReports, ScopeScansEnqueue, ScopeScansRead}

// MintOffline signs an offline token for an admin (whose claims are admin). Its scopes must be
// a subset of the admin's and can never include the admin scope itself.
func (s *Service) MintOffline(ctx context.Context, admin Claims, r OfflineRequest, o Origin) (OfflineToken, error) {
	tok, c, err := s.mintOffline(ctx, admin, r)
	ev := AuditEvent{Type: "authority.token.offline", Outcome: "success", Subject: admin.Subject, ClientID: admin.ClientID, Scopes: c.Scopes,
		TraceID: o.TraceID, RemoteIP: o.RemoteIP, Detail: fmt.Sprintf("jti=%s expiresDays=%d", c.ID, r.ExpiresDays)}
	if err != nil {
		ev.Outcome, ev.Detail = "failure", err.Error()
	}
	s.audit(ctx, ev)
	return tok, err
}

func (s *Service) mintOffline(ctx context.Context, admin Claims, r OfflineRequest) (OfflineToken, Claims, error) {
	if r.ExpiresDays == 0 {
		r.ExpiresDays = 30
	}
	if r.ExpiresDays < 0 || r.ExpiresDays > s.cfg.OfflineMaxDays {
		return OfflineToken{}, Claims{}, fmt.Errorf("%w: expiresDays must be between 1 and %d", ErrBadRequest, s.cfg.OfflineMaxDays)
	}
	if r.MaxScansPerDay < 0 {
		return OfflineToken{}, Claims{}, fmt.Errorf("%w: maxScansPerDay must not be negative", ErrBadRequest)
	}
	if r.MaxScansPerDay == 0 {
		r.MaxScansPerDay = s.cfg.DefaultMaxScansPerDay
	}
	var scopes []string
	if r.Scope == "" {
		scopes = intersect(offlineDefaultScopes, admin.Scopes)
	} else {
		scopes = ParseScope(r.Scope)
		for _, sc := range scopes {
			if sc == ScopeAdmin || !admin.HasScope(sc) {
				return OfflineToken{}, Claims{}, fmt.Errorf("%w: scope %q cannot be granted to an offline token by this caller", ErrBadRequest, sc)
			}
		}
	}
	c := Claims{Subject: admin.Subject, ClientID: admin.ClientID, Tenant: admin.Tenant, Scopes: scopes, MaxScansPerDay: r.MaxScansPerDay}
	raw, c, err := s.issue(ctx, c, TokenUseOffline, time.Duration(r.ExpiresDays)*24*time.Hour)
	if err != nil {
		return OfflineToken{}, Claims{}, err
	}
	return OfflineToken{JWT: raw, Expires: c.Expiry}, c, nil
}

// RotateRequest is the body of POST /internal/signing/rotate (spec §2.6).
type RotateRequest struct {
	KeyID    string `json:"keyId"`
	Location string `json:"location"`
	Source   string `json:"source,omitempty"`
	Provider string `json:"provider,omitempty"`
}

// RotateResult is its answer: the active kid, the key it replaced and every retired kid.
type RotateResult struct {
	ActiveKeyID   string   `json:"activeKeyId"`
	PreviousKeyID string   `json:"previousKeyId,omitempty"`
	RetiredKeyIDs []string `json:"retiredKeyIds"`
}

var kidPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Rotate promotes the key at r.Location to the active signing key and retires the previous
// one, which keeps verifying the tokens it signed.
func (s *Service) Rotate(ctx context.Context, r RotateRequest, o Origin) (RotateResult, error) {
	res, err := s.rotate(ctx, r)
	ev := AuditEvent{Type: "authority.signing.rotate", Outcome: "success", TraceID: o.TraceID, RemoteIP: o.RemoteIP,
		Detail: fmt.Sprintf("keyId=%s previous=%s", r.KeyID, res.PreviousKeyID)}
	if err != nil {
		ev.Outcome, ev.Detail = "failure", err.Error()
	}
	s.audit(ctx, ev)
	return res, err
}

func (s *Service) rotate(ctx context.Context, r RotateRequest) (RotateResult, error) {
	if r.Source == "" {
		r.Source = "file"
	}
	if r.Provider == "" {
		r.Provider = "default"
	}
	switch {
	case !kidPattern.MatchString(r.KeyID):
		return RotateResult{}, fmt.Errorf("%w: keyId must be 1-128 characters of letters, digits, '.', '_' and '-'", ErrBadRequest)
	case r.Source != "file":
		return RotateResult{}, fmt.Errorf("%w: source %q is not supported (file)", ErrBadRequest, r.Source)
	case r.Provider != "default":
		return RotateResult{}, fmt.Errorf("%w: provider %q is not supported (default)", ErrBadRequest, r.Provider)
	case r.Location == "":
		return RotateResult{}, fmt.Errorf("%w: location is required", ErrBadRequest)
	}
	key, alg, err := LoadKeyFile(s.resolveKey(r.Location))
	if err != nil {
		return RotateResult{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	jwk, err := PublicJWK(key, r.KeyID, alg)
	if err != nil {
		return RotateResult{}, err
	}
	rec := KeyRecord{KID: r.KeyID, Algorithm: alg, PublicJWK: jwk, Source: r.Source, Provider: r.Provider, Location: r.Location,
		Status: KeyActive, CreatedAt: s.now().Truncate(time.Microsecond)}
	prev, err := s.store.RotateKey(ctx, rec)
	if errors.Is(err, ErrConflict) {
		return RotateResult{}, fmt.Errorf("%w: key id %q is already in use", ErrConflict, r.KeyID)
	}
	if err != nil {
		return RotateResult{}, fmt.Errorf("authority: rotate: %w", err)
	}
	st, err := s.keys.reload(ctx)
	if err != nil {
		return RotateResult{}, err
	}
	res := RotateResult{ActiveKeyID: r.KeyID, PreviousKeyID: prev, RetiredKeyIDs: []string{}}
	for _, k := range st.records {
		if k.Status == KeyRetired {
			res.RetiredKeyIDs = append(res.RetiredKeyIDs, k.KID)
		}
	}
	slices.Sort(res.RetiredKeyIDs)
	return res, nil
}

// EnsureSigningKey gives a fresh installation its first key: when the store has none, it
// generates one of alg under KeyDir and makes it active. It returns the active kid.
func (s *Service) EnsureSigningKey(ctx context.Context, alg string) (string, error) {
	recs, err := s.store.Keys(ctx)
	if err != nil {
		return "", fmt.Errorf("authority: keys: %w", err)
	}
	for _, r := range recs {
		if r.Status == KeyActive {
			return r.KID, nil
		}
	}
	if s.cfg.KeyDir == "" {
		return "", errors.New("authority: no signing key and no key directory to create one in")
	}
	kid, err := NewKeyID(s.now())
	if err != nil {
		return "", err
	}
	loc := kid + ".pem"
	if err := GenerateKeyFile(s.resolveKey(loc), alg); err != nil {
		return "", err
	}
	if _, err := s.Rotate(ctx, RotateRequest{KeyID: kid, Location: loc}, Origin{}); err != nil {
		return "", err
	}
	return kid, nil
}

// NewKeyID returns a kid like authority-signing-20261122-3f9a1c.
func NewKeyID(now time.Time) (string, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("authority: key id: %w", err)
	}
	return fmt.Sprintf("authority-signing-%s-%x", now.UTC().Format("20060102"), b), nil
}

// NewSecret returns a random client secret or password of 32 bytes, base64url: it meets the
// password policy's classes only by chance, so dev credentials use NewPassword.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("authority: secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *Service) audit(ctx context.Context, e AuditEvent) {
	if e.Time.IsZero() {
		e.Time = s.now().Truncate(time.Microsecond)
	}
	if _, err := s.store.AppendAudit(ctx, e); err != nil {
		// The event still reaches the log, so it is not lost with the store.
		s.log.ErrorContext(ctx, "audit write failed", "err", err, "type", e.Type, "outcome", e.Outcome, "subject", e.Subject, "traceId", e.TraceID)
	}
}

// Audit records an event from another component (the API's /jobs* calls).
func (s *Service) Audit(ctx context.Context, e AuditEvent) { s.audit(ctx, e) }
