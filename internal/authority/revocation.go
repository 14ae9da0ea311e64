package authority

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/stellaops/stellaops/internal/canonjson"
)

// RevokeRequest revokes a token by its jti (the admin route).
type RevokeRequest struct {
	JTI    string `json:"jti"`
	Reason string `json:"reason,omitempty"`
	// ExpiresAt is when the token expires anyway; zero means the longest token lifetime from
	// now, so the entry stays in bundles as long as any such token could live.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	Subject   string    `json:"subject,omitempty"`
	ClientID  string    `json:"clientId,omitempty"`
}

// Revoke records a revocation; every replica rejects the jti from its next request on.
func (s *Service) Revoke(ctx context.Context, r RevokeRequest, o Origin) (created bool, err error) {
	if r.JTI == "" || len(r.JTI) > 256 {
		return false, fmt.Errorf("%w: jti must be 1-256 characters", ErrBadRequest)
	}
	if len(r.Reason) > 512 {
		return false, fmt.Errorf("%w: reason longer than 512 characters", ErrBadRequest)
	}
	now := s.now().Truncate(time.Microsecond)
	if r.ExpiresAt.IsZero() {
		r.ExpiresAt = now.Add(time.Duration(s.cfg.OfflineMaxDays)*24*time.Hour + s.cfg.AccessTokenLifetime)
	}
	rev := Revocation{JTI: r.JTI, Subject: r.Subject, ClientID: r.ClientID, Reason: r.Reason, RevokedAt: now, ExpiresAt: r.ExpiresAt.UTC().Truncate(time.Microsecond)}
	created, err = s.store.Revoke(ctx, rev)
	ev := AuditEvent{Type: "authority.token.revoke", Outcome: "success", Subject: r.Subject, ClientID: r.ClientID, TraceID: o.TraceID, RemoteIP: o.RemoteIP,
		Detail: fmt.Sprintf("jti=%s reason=%s", r.JTI, r.Reason)}
	if err != nil {
		ev.Outcome = "failure"
		err = fmt.Errorf("authority: revoke: %w", err)
	}
	s.audit(ctx, ev)
	return created, err
}

// RevokeToken is RFC 7009 revocation by the client that holds the token: the client must
// authenticate, and may revoke only tokens issued to it. A token that does not verify is
// ignored (the RFC answers 200 either way, so nothing is learnt about it).
func (s *Service) RevokeToken(ctx context.Context, clientID, secret, raw string, o Origin) *OAuthError {
	if _, oe := s.authenticateClient(ctx, clientID, secret); oe != nil {
		return oe
	}
	c, err := Verify(ctx, raw, s.keys.verifier, Expect{Issuer: s.cfg.Issuer, Audience: s.cfg.Audience, Now: s.now(), Leeway: s.cfg.Leeway})
	if err != nil {
		return nil
	}
	if c.ClientID != clientID {
		return oauthErr(ErrCodeUnauthorizedClient, "the token was not issued to this client")
	}
	if _, err := s.Revoke(ctx, RevokeRequest{JTI: c.ID, Reason: "revoked by client", ExpiresAt: c.Expiry, Subject: c.Subject, ClientID: c.ClientID}, o); err != nil {
		return serverErr(err)
	}
	return nil
}

// RevocationBundle is the signed list of revocations mirrors and offline verifiers load.
type RevocationBundle struct {
	SchemaVersion int          `json:"schemaVersion"`
	Issuer        string       `json:"issuer"`
	IssuedAt      time.Time    `json:"issuedAt"`
	Revocations   []Revocation `json:"revocations"`
}

// BundleExport is the bundle as exported: its canonical bytes (RFC 8785), a detached JWS over
// them and their SHA-256, the three files of `stellaops-cli auth revoke export`.
type BundleExport struct {
	Bundle    json.RawMessage `json:"bundle"`
	Signature string          `json:"signature"`
	Digest    string          `json:"digest"`
	KeyID     string          `json:"keyId"`
	Algorithm string          `json:"algorithm"`
}

// ExportRevocations builds and signs the bundle of revocations that have not expired.
func (s *Service) ExportRevocations(ctx context.Context, o Origin) (BundleExport, error) {
	now := s.now().Truncate(time.Millisecond)
	revs, err := s.store.Revocations(ctx, now)
	if err != nil {
		return BundleExport{}, fmt.Errorf("authority: revocations: %w", err)
	}
	if revs == nil {
		revs = []Revocation{}
	}
	slices.SortFunc(revs, func(a, b Revocation) int {
		switch {
		case a.JTI < b.JTI:
			return -1
		case a.JTI > b.JTI:
			return 1
		}
		return 0
	})
	body, err := canonjson.Marshal(RevocationBundle{SchemaVersion: 1, Issuer: s.cfg.Issuer, IssuedAt: now, Revocations: revs})
	if err != nil {
		return BundleExport{}, fmt.Errorf("authority: encode bundle: %w", err)
	}
	k, err := s.keys.active(ctx)
	if err != nil {
		return BundleExport{}, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: jose.JSONWebKey{Key: k.key, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("stellaops.revocation-bundle+json"))
	if err != nil {
		return BundleExport{}, fmt.Errorf("authority: bundle signer: %w", err)
	}
	obj, err := signer.Sign(body)
	if err != nil {
		return BundleExport{}, fmt.Errorf("authority: sign bundle: %w", err)
	}
	sig, err := obj.DetachedCompactSerialize()
	if err != nil {
		return BundleExport{}, fmt.Errorf("authority: serialise bundle signature: %w", err)
	}
	sum := sha256.Sum256(body)
	s.audit(ctx, AuditEvent{Type: "authority.revocations.export", Outcome: "success", TraceID: o.TraceID, RemoteIP: o.RemoteIP,
		Detail: fmt.Sprintf("revocations=%d kid=%s", len(revs), k.kid)})
	return BundleExport{Bundle: body, Signature: sig, Digest: hex.EncodeToString(sum[:]), KeyID: k.kid, Algorithm: k.alg}, nil
}

// ErrBundle wraps every reason a revocation bundle fails verification.
var ErrBundle = errors.New("revocation bundle verification failed")

// VerifyRevocationBundle checks a bundle offline: digest (hex SHA-256; empty skips it), the
// detached JWS against keys, and the body's shape. It returns the bundle and the kid that
// signed it.
func VerifyRevocationBundle(body []byte, signature, digest string, keys jose.JSONWebKeySet) (RevocationBundle, string, error) {
	sum := sha256.Sum256(body)
	if digest != "" && digest != hex.EncodeToString(sum[:]) {
		return RevocationBundle{}, "", fmt.Errorf("%w: sha256 is %x, expected %s", ErrBundle, sum, digest)
	}
	obj, err := jose.ParseDetached(signature, body, allowedAlgs)
	if err != nil {
		return RevocationBundle{}, "", fmt.Errorf("%w: signature: %v", ErrBundle, err)
	}
	if len(obj.Signatures) != 1 {
		return RevocationBundle{}, "", fmt.Errorf("%w: want one signature", ErrBundle)
	}
	kid := obj.Signatures[0].Header.KeyID
	found := keys.Key(kid)
	if len(found) == 0 {
		return RevocationBundle{}, "", fmt.Errorf("%w: signing key %q is not in the key set", ErrBundle, kid)
	}
	if _, err := obj.Verify(found[0].Key); err != nil {
		return RevocationBundle{}, "", fmt.Errorf("%w: signature by %s: %v", ErrBundle, kid, err)
	}
	var b RevocationBundle
	if err := json.Unmarshal(body, &b); err != nil {
		return RevocationBundle{}, "", fmt.Errorf("%w: body: %v", ErrBundle, err)
	}
	if b.SchemaVersion != 1 {
		return RevocationBundle{}, "", fmt.Errorf("%w: schemaVersion %d is not supported", ErrBundle, b.SchemaVersion)
	}
	return b, kid, nil
}
