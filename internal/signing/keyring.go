package signing

import (
	"context"
	"fmt"
)

// KeyProvider supplies the keyring to sign and verify with. Implementations: [*Dir] (keys in a
// data directory), [*Env] (a key from environment variables), [*Keyring] itself (fixed keys);
// a KMS provider returns a keyring whose Signer calls out to the KMS. Keyring is called per
// operation, so a provider may pick up rotated keys; it must be safe for concurrent use.
type KeyProvider interface {
	Keyring(ctx context.Context) (*Keyring, error)
}

// Keyring holds one active key, the only one that signs, and retired keys that still verify
// the envelopes they signed before rotation but are never asked to sign. A Keyring is
// immutable; Rotate returns a new one, so a keyring shared between goroutines needs no lock.
type Keyring struct {
	active  SignerVerifier // nil: a verify-only keyring
	entries []keyEntry     // the active key first, then retired keys, newest first
	byID    map[string]int
}

type keyEntry struct {
	v       Verifier
	retired bool
}

// KeyInfo describes one key of a keyring.
type KeyInfo struct {
	KeyID     string
	Algorithm Algorithm
	// Retired keys verify but never sign.
	Retired bool
}

var _ KeyProvider = (*Keyring)(nil)

// NewKeyring returns a keyring whose active key is active (nil for a verify-only keyring) and
// whose retired keys are retired, newest first. Every key needs a keyId, unique in the keyring.
func NewKeyring(active SignerVerifier, retired ...Verifier) (*Keyring, error) {
	return newKeyring(active, retired, false)
}

func newKeyring(active SignerVerifier, retired []Verifier, anonymous bool) (*Keyring, error) {
	r := &Keyring{active: active, byID: map[string]int{}}
	add := func(v Verifier, isRetired bool) error {
		if v == nil {
			return fmt.Errorf("%w: nil key", ErrInvalidKey)
		}
		if k, ok := v.(*Key); ok && isRetired {
			v = k.Verifier() // keep no private material for a key that will never sign again
		}
		id := v.KeyID()
		if id == "" && !anonymous {
			return fmt.Errorf("%w: a keyring key needs a keyId", ErrInvalidKey)
		}
		if id != "" {
			if _, dup := r.byID[id]; dup {
				return fmt.Errorf("%w: %q", ErrDuplicateKey, id)
			}
			r.byID[id] = len(r.entries)
		}
		r.entries = append(r.entries, keyEntry{v: v, retired: isRetired})
		return nil
	}
	if active != nil {
		if err := add(active, false); err != nil {
			return nil, err
		}
	}
	for _, v := range retired {
		if err := add(v, true); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Keyring implements KeyProvider by returning r, for callers whose keys are fixed.
func (r *Keyring) Keyring(context.Context) (*Keyring, error) { return r, nil }

// Active returns the key that signs, or ErrNoActiveKey.
func (r *Keyring) Active() (SignerVerifier, error) {
	if r == nil || r.active == nil {
		return nil, ErrNoActiveKey
	}
	return r.active, nil
}

// Signer returns the signer for keyID: the active key, ErrRetiredKey for a retired one, and
// ErrUnknownKey otherwise. It is how a caller asking for a specific key learns it may not sign.
func (r *Keyring) Signer(keyID string) (Signer, error) {
	i, ok := r.byID[keyID]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, keyID)
	case r.entries[i].retired:
		return nil, fmt.Errorf("%q: %w", keyID, ErrRetiredKey)
	}
	return r.active, nil
}

// Keys lists the keyring's keys, the active one first.
func (r *Keyring) Keys() []KeyInfo {
	out := make([]KeyInfo, len(r.entries))
	for i, e := range r.entries {
		out[i] = KeyInfo{KeyID: e.v.KeyID(), Algorithm: e.v.Algorithm(), Retired: e.retired}
	}
	return out
}

// Rotate returns a keyring whose active key is next and in which the current active key (if
// any) is retired ahead of the older retired keys. r is unchanged.
func (r *Keyring) Rotate(next SignerVerifier) (*Keyring, error) {
	if next == nil {
		return nil, fmt.Errorf("rotating: %w: nil key", ErrInvalidKey)
	}
	retired := make([]Verifier, 0, len(r.entries))
	for _, e := range r.entries {
		v := e.v
		if !e.retired {
			v = verifyOnly(r.active)
		}
		retired = append(retired, v)
	}
	nr, err := NewKeyring(next, retired...)
	if err != nil {
		return nil, fmt.Errorf("rotating: %w", err)
	}
	return nr, nil
}

// Sign signs payload with the active key; see the package-level Sign.
func (r *Keyring) Sign(ctx context.Context, payloadType string, payload []byte) (*Envelope, error) {
	active, err := r.Active()
	if err != nil {
		return nil, err
	}
	return Sign(ctx, payloadType, payload, active)
}

// candidates returns the keys that may have made a signature naming keyID: the key with that
// id (or, for an empty id, every key) plus the anonymous keys given to VerifyWith.
func (r *Keyring) candidates(keyID string) []keyEntry {
	if keyID == "" {
		return r.entries
	}
	var out []keyEntry
	if i, ok := r.byID[keyID]; ok {
		out = append(out, r.entries[i])
	}
	for _, e := range r.entries {
		if e.v.KeyID() == "" {
			out = append(out, e)
		}
	}
	return out
}

// verifyOnly strips the signing half from a retired key where there is one to strip, so that a
// retired key cannot sign even through a type assertion on what Keys or Verify hand back.
func verifyOnly(v SignerVerifier) Verifier {
	if k, ok := v.(*Key); ok {
		return k.Verifier()
	}
	return verifierOnly{v}
}

// verifierOnly hides every method but Verifier's.
type verifierOnly struct{ v Verifier }

func (o verifierOnly) KeyID() string        { return o.v.KeyID() }
func (o verifierOnly) Algorithm() Algorithm { return o.v.Algorithm() }
func (o verifierOnly) Verify(ctx context.Context, message, sig []byte) error {
	return o.v.Verify(ctx, message, sig)
}
