package signing

import (
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Verification is the outcome of a successful Verify.
type Verification struct {
	// KeyID, Algorithm and Retired describe the trusted key that verified the first valid
	// signature in envelope order. KeyID is "" for an anonymous key given to VerifyWith.
	KeyID     string
	Algorithm Algorithm
	Retired   bool
	// PayloadType and Payload are the authenticated content.
	PayloadType string
	Payload     []byte
	// Signatures has one result per envelope signature, in envelope order.
	Signatures []SignatureResult
}

// SignatureResult is the check of one signature.
type SignatureResult struct {
	// KeyID and Algorithm are as the envelope named them.
	KeyID     string
	Algorithm Algorithm
	// Verified is true when a trusted key verified the signature; VerifiedBy is its keyId.
	Verified   bool
	VerifiedBy string
	// Err says why the signature did not verify: ErrUnknownKey, ErrUnknownAlgorithm,
	// ErrAlgorithmMismatch or ErrBadSignature (errors.Is).
	Err error
}

// Verify checks env against the keyring's keys, active and retired. The policy: the envelope is
// accepted when at least one signature verifies under a trusted key; other signatures are
// reported in the result and do not fail it (DSSE makes an envelope with n signatures n
// envelopes). A signature's keyId selects the key; without one, every key is tried. A declared
// algorithm must equal the key's. When nothing verifies, the error wraps ErrUntrusted and each
// signature's own error, so errors.Is finds ErrUnknownKey, ErrBadSignature and the like.
//
// The check is our own rather than dsse.EnvelopeVerifier's: that one decodes base64 leniently,
// prints to stdout when two signatures share a key, and reports neither the algorithm mismatch
// nor which keys failed; the bytes checked are the same dsse.PAE.
func Verify(ctx context.Context, env *Envelope, keys *Keyring) (*Verification, error) {
	if env == nil {
		return nil, fmt.Errorf("verifying: %w: nil envelope", ErrMalformedEnvelope)
	}
	if keys == nil {
		keys = &Keyring{}
	}
	if len(env.Signatures) == 0 {
		return nil, fmt.Errorf("verifying %s envelope: %w", env.PayloadType, ErrNoSignatures)
	}
	pae := env.PAE()
	out := &Verification{PayloadType: env.PayloadType, Signatures: make([]SignatureResult, len(env.Signatures))}
	var errs []error
	found := false
	for i, s := range env.Signatures {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res := SignatureResult{KeyID: s.KeyID, Algorithm: s.Algorithm}
		e, err := checkSignature(ctx, pae, s, keys)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			res.Err = err
			errs = append(errs, fmt.Errorf("signatures[%d] (keyId %q): %w", i, s.KeyID, err))
		} else {
			res.Verified, res.VerifiedBy = true, e.v.KeyID()
			if !found {
				found = true
				out.KeyID, out.Algorithm, out.Retired = e.v.KeyID(), e.v.Algorithm(), e.retired
			}
		}
		out.Signatures[i] = res
	}
	if !found {
		return nil, fmt.Errorf("verifying %s envelope: %w: %w", env.PayloadType, ErrUntrusted, errors.Join(errs...))
	}
	out.Payload = env.Payload
	return out, nil
}

// VerifyWith checks env against the given keys only: a public key or secret handed over for
// offline verification. A key with an empty keyId is trusted for any signature of its algorithm,
// whatever keyId the signature names.
func VerifyWith(ctx context.Context, env *Envelope, trusted ...Verifier) (*Verification, error) {
	kr, err := newKeyring(nil, trusted, true)
	if err != nil {
		return nil, fmt.Errorf("verifying: %w", err)
	}
	return Verify(ctx, env, kr)
}

// Verify checks env against r; see the package-level Verify.
func (r *Keyring) Verify(ctx context.Context, env *Envelope) (*Verification, error) {
	return Verify(ctx, env, r)
}

// checkSignature finds the trusted key that verifies s, or says why none does.
func checkSignature(ctx context.Context, pae []byte, s Signature, keys *Keyring) (keyEntry, error) {
	if s.Algorithm != "" {
		if _, err := ParseAlgorithm(string(s.Algorithm)); err != nil {
			return keyEntry{}, err
		}
	}
	cands := keys.candidates(s.KeyID)
	if len(cands) == 0 {
		if s.KeyID == "" {
			return keyEntry{}, fmt.Errorf("%w: no trusted keys", ErrUnknownKey)
		}
		return keyEntry{}, fmt.Errorf("%w %q", ErrUnknownKey, s.KeyID)
	}
	var mismatch error
	tried := false
	for _, e := range cands {
		if s.Algorithm != "" && s.Algorithm != e.v.Algorithm() {
			if mismatch == nil {
				mismatch = fmt.Errorf("%w: signature says %s, key %q is %s", ErrAlgorithmMismatch, s.Algorithm, e.v.KeyID(), e.v.Algorithm())
			}
			continue
		}
		tried = true
		if err := e.v.Verify(ctx, pae, s.Sig); err == nil {
			return e, nil
		} else if !errors.Is(err, ErrBadSignature) {
			return keyEntry{}, err
		}
	}
	if !tried {
		return keyEntry{}, mismatch
	}
	return keyEntry{}, ErrBadSignature
}

// dsseVerifier adapts a Verifier to go-securesystemslib's dsse.Verifier.
type dsseVerifier struct{ v Verifier }

func (d dsseVerifier) Verify(ctx context.Context, data, sig []byte) error {
	return d.v.Verify(ctx, data, sig)
}
func (d dsseVerifier) KeyID() (string, error) { return d.v.KeyID(), nil }
func (d dsseVerifier) Public() crypto.PublicKey {
	switch p := d.v.(type) {
	case *PublicKey:
		return p.Public()
	case *Key:
		return p.Public()
	}
	return nil
}

// DSSEVerifier adapts a Verifier to go-securesystemslib's dsse.Verifier, so its
// EnvelopeVerifier (threshold policies) can use StellaOps keys on the standard envelope shape.
func DSSEVerifier(v Verifier) dsse.Verifier { return dsseVerifier{v} }
