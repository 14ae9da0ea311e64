package offlinekit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/stellaops/stellaops/internal/attest"
	"github.com/stellaops/stellaops/internal/signing"
)

// maxEnvelopeBytes bounds a signature file: two small envelopes, never large.
const maxEnvelopeBytes = 1 << 20

func verifyEnvelope(ctx context.Context, what string, env []byte, keys *signing.Keyring) (*signing.Verification, error) {
	if len(env) > maxEnvelopeBytes {
		return nil, fmt.Errorf("%w: the %s is larger than %d bytes", ErrInvalid, what, maxEnvelopeBytes)
	}
	e, err := signing.Decode(env)
	if err != nil {
		return nil, fmt.Errorf("%w: the %s is not a DSSE envelope: %w", ErrInvalid, what, err)
	}
	v, err := signing.Verify(ctx, e, keys)
	if err != nil {
		return nil, fmt.Errorf("%w: the %s does not verify under a trusted key: %w", ErrInvalid, what, err)
	}
	return v, nil
}

// VerifyBundleSignature checks the bundle signature of kit: a trusted key signed a statement
// whose subject has the bundle's sha256 and whose predicate names the kit's bundleId and
// manifest digest. It returns the key id that verified.
func VerifyBundleSignature(ctx context.Context, env []byte, keys *signing.Keyring, kit *Kit) (string, error) {
	v, err := verifyEnvelope(ctx, "bundle signature", env, keys)
	if err != nil {
		return "", err
	}
	st, err := attest.ParsePayload(v.PayloadType, v.Payload, attest.DefaultConfig())
	if err != nil {
		return "", fmt.Errorf("%w: bundle signature: %w", ErrInvalid, err)
	}
	if st.PredicateType() != attest.PredicateOfflineKit {
		return "", fmt.Errorf("%w: bundle signature: predicate type %.100q, want %s", ErrInvalid, st.PredicateType(), attest.PredicateOfflineKit)
	}
	if !st.Covers("sha256:" + kit.BundleSHA256) {
		return "", fmt.Errorf("%w: the bundle signature is for another bundle (this one is sha256:%s)", ErrInvalid, kit.BundleSHA256)
	}
	pb, err := st.Predicate()
	if err != nil {
		return "", fmt.Errorf("%w: bundle signature: %w", ErrInvalid, err)
	}
	var p predicate
	if err := json.Unmarshal(pb, &p); err != nil {
		return "", fmt.Errorf("%w: bundle signature predicate: %w", ErrInvalid, err)
	}
	if p.BundleID != kit.Manifest.BundleID || p.ManifestSHA256 != kit.ManifestSHA256 {
		return "", fmt.Errorf("%w: the bundle signature names kit %.80q with manifest %.80q, the bundle holds %s with manifest %s",
			ErrInvalid, p.BundleID, p.ManifestSHA256, kit.Manifest.BundleID, kit.ManifestSHA256)
	}
	return v.KeyID, nil
}

// VerifyManifestSignature checks that a trusted key signed exactly manifest.
func VerifyManifestSignature(ctx context.Context, env []byte, keys *signing.Keyring, manifest []byte) (string, error) {
	v, err := verifyEnvelope(ctx, "manifest signature", env, keys)
	if err != nil {
		return "", err
	}
	if v.PayloadType != ManifestPayloadType || !bytes.Equal(v.Payload, manifest) {
		return "", fmt.Errorf("%w: the manifest signature signs another document (%.100q)", ErrInvalid, v.PayloadType)
	}
	return v.KeyID, nil
}
