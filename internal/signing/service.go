package signing

import (
	"context"
	"fmt"
)

// Service is the Signer role's operations as library calls; the HTTP endpoints
// (POST /api/v1/signer/sign/dsse, GET /api/v1/signer/verify/referrers) will wrap it. It asks its
// KeyProvider for the keyring on every call, so a rotation or a KMS is seen without a restart.
// A Service is safe for concurrent use when its provider is.
type Service struct {
	keys   KeyProvider
	limits Limits
}

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// WithLimits sets the envelope decoding limits (zero fields keep their defaults).
func WithLimits(l Limits) ServiceOption { return func(s *Service) { s.limits = l.withDefaults() } }

// NewService returns a Service signing and verifying with keys.
func NewService(keys KeyProvider, opts ...ServiceOption) *Service {
	s := &Service{keys: keys, limits: DefaultLimits()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// SignDsse signs payload as payloadType with the active key; JSON payloads are canonicalised
// (see Sign).
func (s *Service) SignDsse(ctx context.Context, payloadType string, payload []byte) (*Envelope, error) {
	kr, err := s.keyring(ctx)
	if err != nil {
		return nil, err
	}
	return kr.Sign(ctx, payloadType, payload)
}

// VerifyDsse decodes an encoded envelope under the service's limits and verifies it against
// the keyring (active and retired keys).
func (s *Service) VerifyDsse(ctx context.Context, envelope []byte) (*Verification, error) {
	env, err := DecodeWithLimits(envelope, s.limits)
	if err != nil {
		return nil, err
	}
	kr, err := s.keyring(ctx)
	if err != nil {
		return nil, err
	}
	return Verify(ctx, env, kr)
}

// VerifyReferrers checks envelopes claiming to refer to subject; see the package-level
// VerifyReferrers.
func (s *Service) VerifyReferrers(ctx context.Context, subject string, refs []Referrer) (*ReferrersReport, error) {
	kr, err := s.keyring(ctx)
	if err != nil {
		return nil, err
	}
	return VerifyReferrers(ctx, kr, subject, refs, s.limits)
}

func (s *Service) keyring(ctx context.Context) (*Keyring, error) {
	if s.keys == nil {
		return nil, ErrNoKeys
	}
	kr, err := s.keys.Keyring(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading signing keys: %w", err)
	}
	return kr, nil
}
