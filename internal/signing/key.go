package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"unicode/utf8"
)

// Signer signs DSSE pre-authentication encodings. The message passed to Sign is the complete
// PAE; hashing it is the Signer's business. Implementations must be safe for concurrent use;
// a KMS-backed Signer does its remote call in Sign, which is why Sign takes a context.
type Signer interface {
	KeyID() string
	Algorithm() Algorithm
	Sign(ctx context.Context, message []byte) ([]byte, error)
}

// Verifier checks a signature over a DSSE pre-authentication encoding. Verify returns nil
// only for a valid signature; failures wrap ErrBadSignature. An empty KeyID marks an
// anonymous trusted key (a bare public key given for offline verification). Implementations
// must be safe for concurrent use.
type Verifier interface {
	KeyID() string
	Algorithm() Algorithm
	Verify(ctx context.Context, message, signature []byte) error
}

// SignerVerifier is a key that both signs and verifies: the only kind a keyring accepts as its
// active key, so that whatever it signs it can also check.
type SignerVerifier interface {
	Signer
	Verifier
}

// minHMACSecret is the shortest HMAC secret accepted: the hash's output size, as RFC 2104 §3
// recommends, so a short password cannot be mistaken for a key.
const minHMACSecret = 32

// Key is a signing key held in memory: an HMAC secret, an Ed25519 private key or an ECDSA
// P-256 private key, with its keyId. It implements SignerVerifier and is immutable.
type Key struct {
	id     string
	alg    Algorithm
	secret []byte             // hs256
	ed     ed25519.PrivateKey // ed25519
	ec     *ecdsa.PrivateKey  // ecdsa-p256
}

var _ SignerVerifier = (*Key)(nil)

// NewHMACKey returns an hs256 key. The secret is copied and must be at least 32 bytes.
func NewHMACKey(keyID string, secret []byte) (*Key, error) {
	if err := checkKeyID(keyID); err != nil {
		return nil, err
	}
	if len(secret) < minHMACSecret {
		return nil, fmt.Errorf("%w: hs256 secret is %d bytes, at least %d are required", ErrInvalidKey, len(secret), minHMACSecret)
	}
	return &Key{id: keyID, alg: HS256, secret: bytes.Clone(secret)}, nil
}

// NewKey wraps a standard library private key: ed25519.PrivateKey (or a pointer to one) or
// an *ecdsa.PrivateKey on P-256.
func NewKey(keyID string, priv crypto.PrivateKey) (*Key, error) {
	if err := checkKeyID(keyID); err != nil {
		return nil, err
	}
	switch p := priv.(type) {
	case *ed25519.PrivateKey:
		if p == nil {
			return nil, fmt.Errorf("%w: nil ed25519 key", ErrInvalidKey)
		}
		return NewKey(keyID, *p)
	case ed25519.PrivateKey:
		if len(p) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("%w: ed25519 private key is %d bytes, want %d", ErrInvalidKey, len(p), ed25519.PrivateKeySize)
		}
		return &Key{id: keyID, alg: Ed25519, ed: bytes.Clone(p)}, nil
	case *ecdsa.PrivateKey:
		if p == nil || p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ecdsa key is not on P-256", ErrInvalidKey)
		}
		return &Key{id: keyID, alg: ECDSAP256, ec: p}, nil
	}
	return nil, fmt.Errorf("%w: unsupported private key type %T (want ed25519 or ecdsa P-256)", ErrInvalidKey, priv)
}

// KeyID returns the key's identifier, as written into signatures.
func (k *Key) KeyID() string { return k.id }

// Algorithm returns the key's algorithm.
func (k *Key) Algorithm() Algorithm { return k.alg }

// Sign signs message (a PAE). Every algorithm here is deterministic: ECDSA uses RFC 6979
// (the standard library's mode when no random source is given), so equal input gives equal
// signatures and envelopes can be compared byte for byte.
func (k *Key) Sign(ctx context.Context, message []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch k.alg {
	case HS256:
		return hs256(k.secret, message), nil
	case Ed25519:
		return ed25519.Sign(k.ed, message), nil
	case ECDSAP256:
		digest := sha256.Sum256(message)
		sig, err := k.ec.Sign(nil, digest[:], crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("signing with %s: %w", k.id, err)
		}
		return sig, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownAlgorithm, k.alg)
}

// Verify checks signature over message. For asymmetric keys it is the public key's check.
func (k *Key) Verify(ctx context.Context, message, signature []byte) error {
	if k.alg == HS256 {
		if err := ctx.Err(); err != nil {
			return err
		}
		// hmac.Equal is constant-time, so a forger learns nothing from timing.
		if !hmac.Equal(hs256(k.secret, message), signature) {
			return ErrBadSignature
		}
		return nil
	}
	return k.publicKey().Verify(ctx, message, signature)
}

// Public returns the public half (ed25519.PublicKey or *ecdsa.PublicKey), nil for hs256.
func (k *Key) Public() crypto.PublicKey {
	switch k.alg {
	case Ed25519:
		return k.ed.Public()
	case ECDSAP256:
		return &k.ec.PublicKey
	}
	return nil
}

// Verifier returns what verifies this key's signatures without being able to sign: the public
// key, or the key itself for hs256 whose verification needs the secret.
func (k *Key) Verifier() Verifier {
	if k.alg == HS256 {
		return k
	}
	return k.publicKey()
}

func (k *Key) publicKey() *PublicKey {
	p := &PublicKey{id: k.id, alg: k.alg}
	switch k.alg {
	case Ed25519:
		p.ed = k.ed.Public().(ed25519.PublicKey)
	case ECDSAP256:
		p.ec = &k.ec.PublicKey
	}
	return p
}

func hs256(secret, message []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(message)
	return m.Sum(nil)
}

// PublicKey verifies Ed25519 or ECDSA P-256 signatures; it is what offline verifiers hold.
type PublicKey struct {
	id  string
	alg Algorithm
	ed  ed25519.PublicKey
	ec  *ecdsa.PublicKey
}

var _ Verifier = (*PublicKey)(nil)

// NewPublicKey wraps ed25519.PublicKey or *ecdsa.PublicKey (P-256). keyID may be empty for an
// anonymous trusted key.
func NewPublicKey(keyID string, pub crypto.PublicKey) (*PublicKey, error) {
	if keyID != "" {
		if err := checkKeyID(keyID); err != nil {
			return nil, err
		}
	}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: ed25519 public key is %d bytes, want %d", ErrInvalidKey, len(p), ed25519.PublicKeySize)
		}
		return &PublicKey{id: keyID, alg: Ed25519, ed: bytes.Clone(p)}, nil
	case *ecdsa.PublicKey:
		if p == nil || p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ecdsa key is not on P-256", ErrInvalidKey)
		}
		return &PublicKey{id: keyID, alg: ECDSAP256, ec: p}, nil
	}
	return nil, fmt.Errorf("%w: unsupported public key type %T (want ed25519 or ecdsa P-256)", ErrInvalidKey, pub)
}

// KeyID returns the key's identifier ("" for an anonymous key).
func (p *PublicKey) KeyID() string { return p.id }

// Algorithm returns the key's algorithm.
func (p *PublicKey) Algorithm() Algorithm { return p.alg }

// Public returns the standard library public key.
func (p *PublicKey) Public() crypto.PublicKey {
	if p.alg == Ed25519 {
		return p.ed
	}
	return p.ec
}

// Verify checks signature over message. Ed25519 verification is the standard library's strict
// RFC 8032 check; ECDSA signatures must be ASN.1 DER.
func (p *PublicKey) Verify(ctx context.Context, message, signature []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var ok bool
	switch p.alg {
	case Ed25519:
		ok = len(signature) == ed25519.SignatureSize && ed25519.Verify(p.ed, message, signature)
	case ECDSAP256:
		digest := sha256.Sum256(message)
		ok = ecdsa.VerifyASN1(p.ec, digest[:], signature)
	default:
		return fmt.Errorf("%w %q", ErrUnknownAlgorithm, p.alg)
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}

// maxKeyIDLen bounds keyIds we create or accept in configuration; envelopes have their own limit.
const maxKeyIDLen = 256

// checkKeyID rejects keyIds that could not round-trip through an envelope or a log line.
func checkKeyID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty keyId", ErrInvalidKey)
	}
	if len(id) > maxKeyIDLen || !utf8.ValidString(id) {
		return fmt.Errorf("%w: keyId must be at most %d bytes of UTF-8", ErrInvalidKey, maxKeyIDLen)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: keyId %q contains a control character", ErrInvalidKey, id)
		}
	}
	return nil
}
