package authority

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Signing algorithms: ES256 is the default (every JOSE library verifies it); EdDSA is smaller
// and faster where verifiers support it.
const (
	AlgES256 = string(jose.ES256)
	AlgEdDSA = string(jose.EdDSA)
)

// maxKeyFile bounds a PEM read: a key is a few hundred bytes.
const maxKeyFile = 64 << 10

// GenerateKeyFile writes a new private key for alg to path as PKCS#8 PEM (mode 0600, parent
// directories 0700), refusing to overwrite an existing file.
func GenerateKeyFile(path, alg string) error {
	var priv crypto.PrivateKey
	var err error
	switch alg {
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return fmt.Errorf("authority: unsupported signing algorithm %q (ES256 or EdDSA)", alg)
	}
	if err != nil {
		return fmt.Errorf("authority: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("authority: encode key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("authority: key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("authority: create key file: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return fmt.Errorf("authority: write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("authority: write key file: %w", err)
	}
	return nil
}

// LoadKeyFile reads a PEM private key (PKCS#8, or SEC 1 "EC PRIVATE KEY") and returns it with
// its JWS algorithm: ES256 for a P-256 key, EdDSA for Ed25519. Other keys are refused: RSA
// tokens would be larger and slower to sign for no gain, and other curves are not ES256.
func LoadKeyFile(path string) (crypto.Signer, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("authority: signing key: %w", err)
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, "", fmt.Errorf("authority: signing key: %w", err)
	}
	if len(buf) > maxKeyFile {
		return nil, "", fmt.Errorf("authority: signing key %s: larger than %d bytes", path, maxKeyFile)
	}
	return ParseKeyPEM(buf)
}

// ParseKeyPEM parses the first private key block of data.
func ParseKeyPEM(data []byte) (crypto.Signer, string, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, "", errors.New("authority: no PEM private key found")
		}
		var key any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("authority: parse private key: %w", err)
		}
		switch k := key.(type) {
		case *ecdsa.PrivateKey:
			if k.Curve != elliptic.P256() {
				return nil, "", errors.New("authority: ECDSA signing keys must be on P-256 (ES256)")
			}
			return k, AlgES256, nil
		case ed25519.PrivateKey:
			return k, AlgEdDSA, nil
		default:
			return nil, "", fmt.Errorf("authority: unsupported private key type %T (ES256 or EdDSA)", key)
		}
	}
}

// PublicJWK returns the JWKS entry of key's public half under kid.
func PublicJWK(key crypto.Signer, kid, alg string) ([]byte, error) {
	jwk := jose.JSONWebKey{Key: key.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}
	b, err := jwk.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("authority: public JWK: %w", err)
	}
	return b, nil
}

// keyState is one snapshot of the store's keys with the active private key loaded.
type keyState struct {
	loadedAt  time.Time
	active    *signingKey
	verifiers map[string]verifyKey
	records   []KeyRecord
}

type signingKey struct {
	kid    string
	alg    string
	signer jose.Signer
	key    crypto.Signer
}

type verifyKey struct {
	key       jose.JSONWebKey
	retiredAt time.Time
}

// KeyRing caches the store's signing keys. Replicas share the store, so a rotation on one is
// seen by the others within refresh (and at once when they meet a token with an unknown kid).
type KeyRing struct {
	store Store
	now   func() time.Time
	// refresh is how long a loaded key set is trusted; retention is how long a retired key
	// keeps verifying (the longest token lifetime).
	refresh   time.Duration
	retention time.Duration
	// resolve maps a key record's location to a path (relative locations are under the data
	// directory).
	resolve func(string) string

	mu          sync.Mutex
	state       *keyState
	lastUnknown time.Time
}

func newKeyRing(store Store, now func() time.Time, refresh, retention time.Duration, resolve func(string) string) *KeyRing {
	return &KeyRing{store: store, now: now, refresh: refresh, retention: retention, resolve: resolve}
}

// current returns the cached key set, reloading it when stale.
func (k *KeyRing) current(ctx context.Context) (*keyState, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.state != nil && k.now().Sub(k.state.loadedAt) < k.refresh {
		return k.state, nil
	}
	return k.reloadLocked(ctx)
}

// reload drops the cache and reads the store again.
func (k *KeyRing) reload(ctx context.Context) (*keyState, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reloadLocked(ctx)
}

func (k *KeyRing) reloadLocked(ctx context.Context) (*keyState, error) {
	recs, err := k.store.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("authority: load signing keys: %w", err)
	}
	st := &keyState{loadedAt: k.now(), verifiers: map[string]verifyKey{}, records: recs}
	// Keep the signer of an unchanged active key: reparsing the PEM and building a signer on
	// every refresh would be wasted work on the token path.
	var prev *signingKey
	if k.state != nil {
		prev = k.state.active
	}
	for _, r := range recs {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(r.PublicJWK); err != nil {
			return nil, fmt.Errorf("authority: key %s: public JWK: %w", r.KID, err)
		}
		if r.Status == KeyRetired && !r.RetiredAt.IsZero() && k.now().After(r.RetiredAt.Add(k.retention)) {
			continue
		}
		st.verifiers[r.KID] = verifyKey{key: jwk, retiredAt: r.RetiredAt}
		if r.Status != KeyActive {
			continue
		}
		if prev != nil && prev.kid == r.KID {
			st.active = prev
			continue
		}
		sk, err := k.loadSigner(r)
		if err != nil {
			return nil, err
		}
		st.active = sk
	}
	k.state = st
	return st, nil
}

func (k *KeyRing) loadSigner(r KeyRecord) (*signingKey, error) {
	if r.Source != "file" {
		return nil, fmt.Errorf("authority: key %s: source %q is not supported (file)", r.KID, r.Source)
	}
	key, alg, err := LoadKeyFile(k.resolve(r.Location))
	if err != nil {
		return nil, fmt.Errorf("authority: key %s: %w", r.KID, err)
	}
	if alg != r.Algorithm {
		return nil, fmt.Errorf("authority: key %s: file holds an %s key, the record says %s", r.KID, alg, r.Algorithm)
	}
	return newSigningKey(key, r.KID, alg)
}

func newSigningKey(key crypto.Signer, kid, alg string) (*signingKey, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("authority: signer for %s: %w", kid, err)
	}
	return &signingKey{kid: kid, alg: alg, signer: s, key: key}, nil
}

// active returns the key new tokens are signed with.
func (k *KeyRing) active(ctx context.Context) (*signingKey, error) {
	st, err := k.current(ctx)
	if err != nil {
		return nil, err
	}
	if st.active == nil {
		return nil, errors.New("authority: no active signing key (rotate one in)")
	}
	return st.active, nil
}

// verifier returns the public key of kid, reloading once (at most once a second) when kid is
// unknown so that a key rotated in on another replica verifies at once.
func (k *KeyRing) verifier(ctx context.Context, kid string) (jose.JSONWebKey, bool, error) {
	st, err := k.current(ctx)
	if err != nil {
		return jose.JSONWebKey{}, false, err
	}
	if v, ok := st.verifiers[kid]; ok {
		return v.key, true, nil
	}
	k.mu.Lock()
	throttled := k.now().Sub(k.lastUnknown) < time.Second
	if !throttled {
		k.lastUnknown = k.now()
	}
	k.mu.Unlock()
	if throttled {
		return jose.JSONWebKey{}, false, nil
	}
	st, err = k.reload(ctx)
	if err != nil {
		return jose.JSONWebKey{}, false, err
	}
	v, ok := st.verifiers[kid]
	return v.key, ok, nil
}

// JWKS returns the public keys that currently verify tokens (active and retired within
// retention), sorted by kid, as a JSON Web Key Set document.
func (k *KeyRing) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	st, err := k.current(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	var set jose.JSONWebKeySet
	for _, r := range st.records {
		if v, ok := st.verifiers[r.KID]; ok {
			set.Keys = append(set.Keys, v.key)
		}
	}
	sortJWKs(set.Keys)
	return set, nil
}

func sortJWKs(keys []jose.JSONWebKey) {
	slices.SortFunc(keys, func(a, b jose.JSONWebKey) int { return strings.Compare(a.KeyID, b.KeyID) })
}

// MarshalJWKS encodes set deterministically (keys sorted by kid).
func MarshalJWKS(set jose.JSONWebKeySet) ([]byte, error) {
	if set.Keys == nil {
		set.Keys = []jose.JSONWebKey{} // {"keys":[]}, never null: RFC 7517 requires the array
	}
	sortJWKs(set.Keys)
	return json.Marshal(set)
}
