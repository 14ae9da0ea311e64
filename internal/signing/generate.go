package signing

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
)

// DefaultKeyIDPrefix starts the keyIds of generated keys.
const DefaultKeyIDPrefix = "stellaops"

// GenerateKey creates a key of alg from random; nil random means crypto/rand. Every byte of the
// key comes from random, read directly (not through ecdsa.GenerateKey, which ignores its reader
// since Go 1.26), so a fixed source gives a fixed key in tests. An empty keyID is derived from
// the key: "stellaops-<alg>-<first 12 hex digits of its fingerprint>".
func GenerateKey(random io.Reader, alg Algorithm, keyID string) (*Key, error) {
	return generateKey(random, alg, keyID, DefaultKeyIDPrefix)
}

func generateKey(random io.Reader, alg Algorithm, keyID, prefix string) (*Key, error) {
	if random == nil {
		random = rand.Reader
	}
	k := &Key{alg: alg}
	switch alg {
	case HS256:
		k.secret = make([]byte, minHMACSecret)
		if _, err := io.ReadFull(random, k.secret); err != nil {
			return nil, fmt.Errorf("generating hs256 key: %w", err)
		}
	case Ed25519:
		seed := make([]byte, ed25519.SeedSize)
		if _, err := io.ReadFull(random, seed); err != nil {
			return nil, fmt.Errorf("generating ed25519 key: %w", err)
		}
		k.ed = ed25519.NewKeyFromSeed(seed)
	case ECDSAP256:
		ec, err := generateP256(random)
		if err != nil {
			return nil, err
		}
		k.ec = ec
	default:
		return nil, fmt.Errorf("generating key: %w %q", ErrUnknownAlgorithm, alg)
	}
	if keyID == "" {
		keyID = prefix + "-" + string(alg) + "-" + k.Fingerprint()[:12]
	}
	if err := checkKeyID(keyID); err != nil {
		return nil, err
	}
	k.id = keyID
	return k, nil
}

// generateP256 draws scalars until one is in [1, n-1]; a 32-byte draw is out of range with
// probability about 2^-32, so the loop bound is never reached with a real random source.
func generateP256(random io.Reader) (*ecdsa.PrivateKey, error) {
	scalar := make([]byte, 32)
	for range 64 {
		if _, err := io.ReadFull(random, scalar); err != nil {
			return nil, fmt.Errorf("generating ecdsa-p256 key: %w", err)
		}
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar); err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("generating ecdsa-p256 key: random source gives no valid scalar")
}

// fingerprintLabel keys the hs256 fingerprint so that it reveals nothing usable about the
// secret and cannot be confused with a MAC the key makes over an envelope (those start "DSSEv1").
const fingerprintLabel = "stellaops signing key fingerprint"

// Fingerprint returns 64 hex digits identifying the key material: SHA-256 of the PKIX public
// key for Ed25519 and ECDSA (what `openssl pkey -pubout -outform DER | sha256sum` prints), and
// an HMAC of a fixed label for hs256, which identifies the secret without disclosing it.
func (k *Key) Fingerprint() string {
	if k.alg == HS256 {
		m := hmac.New(sha256.New, k.secret)
		m.Write([]byte(fingerprintLabel))
		return hex.EncodeToString(m.Sum(nil))
	}
	return k.publicKey().Fingerprint()
}

// Fingerprint returns SHA-256 of the PKIX encoding of the key, in hex.
func (p *PublicKey) Fingerprint() string {
	der, err := x509.MarshalPKIXPublicKey(p.Public())
	if err != nil {
		// Unreachable: constructors admit only Ed25519 and P-256 keys, which always marshal.
		panic(fmt.Sprintf("signing: marshalling a checked public key: %v", err))
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
