package signing

import (
	"context"
	"errors"
	"fmt"
)

// DefaultEnvPrefix starts the names of the variables Env reads.
const DefaultEnvPrefix = "STELLAOPS_SIGNING_"

// Env reads one active key from environment variables (names with the default prefix):
//
//	STELLAOPS_SIGNING_KEY        PEM PKCS#8 private key, or an hs256 secret in base64
//	STELLAOPS_SIGNING_KEY_FILE   path to a key file instead (see ParsePrivateKey)
//	STELLAOPS_SIGNING_KEY_ID     the keyId written into signatures (required)
//	STELLAOPS_SIGNING_ALGORITHM  hs256, ed25519 or ecdsa-p256 (optional: inferred from the key)
//
// The environment is read through an injected lookup (os.LookupEnv in main), because domain
// packages never read the process environment themselves. Env holds no history: verifying
// envelopes of rotated-out keys needs a Dir or a Keyring built by the caller.
type Env struct {
	lookup func(string) (string, bool)
	prefix string
}

var _ KeyProvider = (*Env)(nil)

// NewEnv returns an Env reading variables through lookup; an empty prefix means
// DefaultEnvPrefix.
func NewEnv(lookup func(string) (string, bool), prefix string) *Env {
	if prefix == "" {
		prefix = DefaultEnvPrefix
	}
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	return &Env{lookup: lookup, prefix: prefix}
}

func (e *Env) get(name string) string {
	v, _ := e.lookup(e.prefix + name)
	return v
}

// Keyring returns a keyring with the configured key as its active key. When neither KEY nor
// KEY_FILE is set the error wraps ErrNoKeys, so a caller can fall back to another provider.
func (e *Env) Keyring(ctx context.Context) (*Keyring, error) {
	material, file := e.get("KEY"), e.get("KEY_FILE")
	if material == "" && file == "" {
		return nil, fmt.Errorf("%w: neither %sKEY nor %sKEY_FILE is set", ErrNoKeys, e.prefix, e.prefix)
	}
	if material != "" && file != "" {
		return nil, fmt.Errorf("both %sKEY and %sKEY_FILE are set; set one", e.prefix, e.prefix)
	}
	keyID := e.get("KEY_ID")
	if keyID == "" {
		return nil, fmt.Errorf("%w: %sKEY_ID is not set", ErrInvalidKey, e.prefix)
	}
	var alg Algorithm
	if s := e.get("ALGORITHM"); s != "" {
		a, err := ParseAlgorithm(s)
		if err != nil {
			return nil, fmt.Errorf("%sALGORITHM: %w", e.prefix, err)
		}
		alg = a
	}
	var k *Key
	var err error
	if file != "" {
		k, err = LoadKeyFile(ctx, file, keyID, alg)
	} else {
		// A variable cannot carry arbitrary bytes reliably, so a secret there must be base64.
		if !looksPEM([]byte(material)) {
			if _, berr := decodeStdBase64([]byte(material)); berr != nil {
				return nil, fmt.Errorf("%sKEY: %w: an hs256 secret must be standard base64: %w", e.prefix, ErrInvalidKey, berr)
			}
		}
		k, err = ParsePrivateKey(keyID, alg, []byte(material))
		if err != nil {
			err = fmt.Errorf("%sKEY: %w", e.prefix, err)
		}
	}
	if err != nil {
		return nil, err
	}
	return NewKeyring(k)
}

// Chain returns a provider that asks each provider in turn and uses the first that has keys:
// a provider's error wrapping ErrNoKeys moves on to the next, any other error stops. For
// example Chain(NewEnv(os.LookupEnv, ""), NewDir(dir, CreateOnFirstUse())) lets the
// environment override the data directory.
func Chain(providers ...KeyProvider) KeyProvider { return chain(providers) }

type chain []KeyProvider

func (c chain) Keyring(ctx context.Context) (*Keyring, error) {
	var errs []error
	for _, p := range c {
		kr, err := p.Keyring(ctx)
		if err == nil {
			return kr, nil
		}
		if !errors.Is(err, ErrNoKeys) {
			return nil, err
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, ErrNoKeys
	}
	return nil, errors.Join(errs...)
}
