package signing

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"os"
)

// maxKeyFile bounds how much of a key file is read: PEM keys and secrets are well under 1 KiB,
// so anything bigger is the wrong file.
const maxKeyFile = 64 << 10

const (
	pemPrivate = "PRIVATE KEY"
	pemPublic  = "PUBLIC KEY"
)

// ParsePrivateKey reads key material as found in a key file or environment variable:
//   - a PEM "PRIVATE KEY" block (unencrypted PKCS#8) holding an Ed25519 or ECDSA P-256 key;
//   - otherwise an hs256 secret: the text, surrounding whitespace ignored, when it is valid
//     standard base64 of at least 32 bytes, else the bytes exactly as given (raw).
//
// alg may be empty to infer the algorithm (hs256 for anything not PEM); when set it must match.
func ParsePrivateKey(keyID string, alg Algorithm, data []byte) (*Key, error) {
	if alg != "" {
		if _, err := ParseAlgorithm(string(alg)); err != nil {
			return nil, err
		}
	}
	if !looksPEM(data) {
		if alg != "" && alg != HS256 {
			return nil, fmt.Errorf("%w: %s keys must be PEM PKCS#8 (\"-----BEGIN PRIVATE KEY-----\")", ErrInvalidKey, alg)
		}
		secret := hmacSecret(data)
		if b, err := decodeStdBase64(bytes.TrimSpace(data)); err == nil && len(secret) < minHMACSecret {
			return nil, fmt.Errorf("%w: hs256 secret is %d bytes once base64-decoded, at least %d are required", ErrInvalidKey, len(b), minHMACSecret)
		}
		return NewHMACKey(keyID, secret)
	}
	block, err := onePEM(data)
	if err != nil {
		return nil, err
	}
	if block.Type != pemPrivate {
		return nil, fmt.Errorf("%w: PEM block %q is not an unencrypted PKCS#8 private key; convert it with `openssl pkcs8 -topk8 -nocrypt`", ErrInvalidKey, block.Type)
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	k, err := NewKey(keyID, priv)
	if err != nil {
		return nil, err
	}
	if alg != "" && alg != k.alg {
		return nil, fmt.Errorf("%w: the PEM holds an %s key but the configured algorithm is %s", ErrInvalidKey, k.alg, alg)
	}
	return k, nil
}

// ParsePublicKeyPEM reads a PEM "PUBLIC KEY" block (PKIX) holding an Ed25519 or ECDSA P-256
// key, as written by [Key.PublicKeyPEM] or `openssl pkey -pubout`.
func ParsePublicKeyPEM(keyID string, data []byte) (*PublicKey, error) {
	block, err := onePEM(data)
	if err != nil {
		return nil, err
	}
	if block.Type != pemPublic {
		return nil, fmt.Errorf("%w: PEM block %q is not a PUBLIC KEY", ErrInvalidKey, block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return NewPublicKey(keyID, pub)
}

// ParseVerifier reads anything that can verify: a public key PEM, a private key PEM (its public
// half is used) or an hs256 secret, with the same rules as ParsePrivateKey. An empty keyID gives
// an anonymous key, trusted by VerifyWith whatever keyId a signature names.
func ParseVerifier(keyID string, alg Algorithm, data []byte) (Verifier, error) {
	if looksPEM(data) {
		if block, _ := pem.Decode(data); block != nil && block.Type == pemPublic {
			p, err := ParsePublicKeyPEM(keyID, data)
			if err != nil {
				return nil, err
			}
			if alg != "" && alg != p.alg {
				return nil, fmt.Errorf("%w: the PEM holds an %s key but the configured algorithm is %s", ErrInvalidKey, p.alg, alg)
			}
			return p, nil
		}
	}
	id := keyID
	if id == "" {
		id = "anonymous" // ParsePrivateKey insists on an id; it is cleared below
	}
	k, err := ParsePrivateKey(id, alg, data)
	if err != nil {
		return nil, err
	}
	k.id = keyID
	return k.Verifier(), nil
}

// LoadKeyFile reads a private key or hs256 secret from path; see ParsePrivateKey.
func LoadKeyFile(ctx context.Context, path, keyID string, alg Algorithm) (*Key, error) {
	data, err := readKeyFile(ctx, path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePrivateKey(keyID, alg, data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// LoadVerifierFile reads a public key, private key or hs256 secret from path; see ParseVerifier.
func LoadVerifierFile(ctx context.Context, path, keyID string, alg Algorithm) (Verifier, error) {
	data, err := readKeyFile(ctx, path)
	if err != nil {
		return nil, err
	}
	v, err := ParseVerifier(keyID, alg, data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return v, nil
}

func readKeyFile(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading key: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading key %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("key file %s: %w: over %d bytes", path, ErrInvalidKey, maxKeyFile)
	}
	return data, nil
}

// PrivateKeyPEM returns the key as written to a key file: PKCS#8 PEM for Ed25519 and ECDSA,
// standard base64 and a newline for hs256. ParsePrivateKey reads it back.
func (k *Key) PrivateKeyPEM() ([]byte, error) {
	if k.alg == HS256 {
		return []byte(base64.StdEncoding.EncodeToString(k.secret) + "\n"), nil
	}
	var priv any = k.ed
	if k.alg == ECDSAP256 {
		priv = k.ec
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", k.id, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der}), nil
}

// PublicKeyPEM exports the public half as a PKIX "PUBLIC KEY" PEM for offline verifiers. hs256
// keys have none and return ErrSymmetricKey: sharing their secret is sharing the power to sign.
func (k *Key) PublicKeyPEM() ([]byte, error) {
	if k.alg == HS256 {
		return nil, fmt.Errorf("exporting %s: %w", k.id, ErrSymmetricKey)
	}
	return k.publicKey().PEM()
}

// PEM returns the key as a PKIX "PUBLIC KEY" PEM block.
func (p *PublicKey) PEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(p.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding public key %s: %w", p.id, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der}), nil
}

func looksPEM(data []byte) bool { return bytes.Contains(data, []byte("-----BEGIN ")) }

// onePEM decodes exactly one PEM block; a second block would leave it unclear which key is meant.
func onePEM(data []byte) (*pem.Block, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found", ErrInvalidKey)
	}
	if len(block.Headers) > 0 {
		return nil, fmt.Errorf("%w: PEM headers (legacy encryption?) are not supported; use unencrypted PKCS#8", ErrInvalidKey)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("%w: more than one PEM block", ErrInvalidKey)
	}
	return block, nil
}

// hmacSecret applies the raw-or-base64 rule of ParsePrivateKey.
func hmacSecret(data []byte) []byte {
	trimmed := bytes.TrimSpace(data)
	if b, err := decodeStdBase64(trimmed); err == nil && len(b) >= minHMACSecret {
		return b
	}
	return data
}

// ExportPublicKey returns the PKIX PEM of what verifies v's signatures, for handing to offline
// verifiers; hs256 keys give ErrSymmetricKey.
func ExportPublicKey(v Verifier) ([]byte, error) {
	switch k := v.(type) {
	case *Key:
		return k.PublicKeyPEM()
	case *PublicKey:
		return k.PEM()
	}
	if v != nil && v.Algorithm() == HS256 {
		return nil, fmt.Errorf("exporting %s: %w", v.KeyID(), ErrSymmetricKey)
	}
	return nil, fmt.Errorf("exporting: %w: %T holds no exportable public key", ErrInvalidKey, v)
}
