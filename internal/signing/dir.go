package signing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// KeyringFile is the manifest of a key directory: which keys exist, which one is active.
const KeyringFile = "keyring.json"

// DataSubdir is where, under a StellaOps data directory, the CLI and server keep their keys.
const DataSubdir = "signing"

const manifestVersion = 1

// Dir keeps a keyring in a directory: one file per key (PKCS#8 PEM, or base64 for hs256, mode
// 0600) and keyring.json naming the active key and the retired ones with their times. It is a
// KeyProvider; with CreateOnFirstUse, Keyring creates a key when the directory has none, which
// is how the CLI signs with "the key in the data directory (created on first use)".
//
// Concurrent first use is safe: the manifest is published with a hard link, which fails if
// another process published first, and the loser adopts the winner's key. Readers never see a
// torn manifest. Two concurrent Rotate calls are not coordinated: the last one wins.
type Dir struct {
	path   string
	now    func() time.Time
	rand   io.Reader
	alg    Algorithm
	prefix string
	create bool
}

var _ KeyProvider = (*Dir)(nil)

// DirOption configures a Dir.
type DirOption func(*Dir)

// WithClock sets the clock stamping createdAt and retiredAt (default time.Now).
func WithClock(now func() time.Time) DirOption { return func(d *Dir) { d.now = now } }

// WithRand sets the random source for new keys (default crypto/rand); tests pass a fixed one.
func WithRand(r io.Reader) DirOption { return func(d *Dir) { d.rand = r } }

// WithAlgorithm sets the algorithm of keys the Dir creates (default ed25519, whose public key
// can be exported for offline verification).
func WithAlgorithm(a Algorithm) DirOption { return func(d *Dir) { d.alg = a } }

// WithKeyIDPrefix sets the prefix of created keyIds (default "stellaops"):
// "<prefix>-<algorithm>-<12 hex digits of the fingerprint>".
func WithKeyIDPrefix(p string) DirOption { return func(d *Dir) { d.prefix = p } }

// CreateOnFirstUse makes Keyring create the first key when the directory has none.
func CreateOnFirstUse() DirOption { return func(d *Dir) { d.create = true } }

// NewDir returns the key directory at path (created, mode 0700, when a key is first written).
func NewDir(path string, opts ...DirOption) *Dir {
	d := &Dir{path: path, now: time.Now, alg: Ed25519, prefix: DefaultKeyIDPrefix}
	for _, o := range opts {
		o(d)
	}
	return d
}

// DirKey is one key of a key directory's manifest.
type DirKey struct {
	KeyID     string    `json:"keyId"`
	Algorithm Algorithm `json:"algorithm"`
	// File is the key file's name inside the directory.
	File      string     `json:"file"`
	CreatedAt time.Time  `json:"createdAt"`
	RetiredAt *time.Time `json:"retiredAt,omitempty"`
}

type manifest struct {
	Version int    `json:"version"`
	Active  string `json:"active"`
	// Keys lists the active key first, then retired keys, most recently retired first.
	Keys []DirKey `json:"keys"`
}

// Path returns the directory.
func (d *Dir) Path() string { return d.path }

// Keys returns the manifest's entries, the active key first; ErrNoKeys when there is none.
func (d *Dir) Keys(ctx context.Context) ([]DirKey, error) {
	m, err := d.readManifest(ctx)
	if err != nil {
		return nil, err
	}
	return slices.Clone(m.Keys), nil
}

// Keyring loads the directory's keys; with CreateOnFirstUse it first creates a key if there is
// none. Without it, an empty directory gives an error wrapping ErrNoKeys.
func (d *Dir) Keyring(ctx context.Context) (*Keyring, error) {
	m, err := d.readManifest(ctx)
	if errors.Is(err, ErrNoKeys) && d.create {
		m, err = d.createFirst(ctx)
	}
	if err != nil {
		return nil, err
	}
	return d.load(ctx, m)
}

// Rotate creates a new active key of alg ("" keeps the current algorithm) and retires the
// current one, stamped with the clock. An empty directory just gets its first key.
func (d *Dir) Rotate(ctx context.Context, alg Algorithm) (*Keyring, error) {
	m, err := d.readManifest(ctx)
	if errors.Is(err, ErrNoKeys) {
		if alg != "" {
			d2 := *d
			d2.alg = alg
			d = &d2
		}
		m, err = d.createFirst(ctx)
		if err != nil {
			return nil, err
		}
		return d.load(ctx, m)
	}
	if err != nil {
		return nil, err
	}
	if alg == "" {
		alg = m.Keys[0].Algorithm
	}
	now := d.now().UTC()
	entry, err := d.writeNewKey(alg, now)
	if err != nil {
		return nil, err
	}
	for i := range m.Keys {
		if m.Keys[i].RetiredAt == nil {
			m.Keys[i].RetiredAt = &now
		}
	}
	m.Active = entry.KeyID
	m.Keys = append([]DirKey{entry}, m.Keys...)
	if err := d.publish(m, false); err != nil {
		_ = os.Remove(filepath.Join(d.path, entry.File))
		return nil, err
	}
	return d.load(ctx, m)
}

// createFirst writes a first key and publishes a manifest naming it, unless another process
// published one first, in which case that one is returned and our key file removed.
func (d *Dir) createFirst(ctx context.Context) (*manifest, error) {
	if err := os.MkdirAll(d.path, 0o700); err != nil {
		return nil, fmt.Errorf("creating key directory: %w", err)
	}
	entry, err := d.writeNewKey(d.alg, d.now().UTC())
	if err != nil {
		return nil, err
	}
	m := &manifest{Version: manifestVersion, Active: entry.KeyID, Keys: []DirKey{entry}}
	err = d.publish(m, true)
	if errors.Is(err, fs.ErrExist) {
		_ = os.Remove(filepath.Join(d.path, entry.File))
		return d.readManifest(ctx)
	}
	if err != nil {
		_ = os.Remove(filepath.Join(d.path, entry.File))
		return nil, err
	}
	return m, nil
}

func (d *Dir) writeNewKey(alg Algorithm, now time.Time) (DirKey, error) {
	if err := checkFileSafe(d.prefix); err != nil {
		return DirKey{}, fmt.Errorf("key id prefix: %w", err)
	}
	k, err := generateKey(d.rand, alg, "", d.prefix)
	if err != nil {
		return DirKey{}, err
	}
	data, err := k.PrivateKeyPEM()
	if err != nil {
		return DirKey{}, err
	}
	name := k.id + ".pem"
	if alg == HS256 {
		name = k.id + ".key"
	}
	if err := writeExclusive(filepath.Join(d.path, name), data); err != nil {
		return DirKey{}, err
	}
	return DirKey{KeyID: k.id, Algorithm: alg, File: name, CreatedAt: now}, nil
}

// writeExclusive creates path with mode 0600, failing if it exists, and syncs it.
func writeExclusive(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing key: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("writing key %s: %w", path, err)
	}
	return nil
}

// publish writes the manifest to a temporary file and then links (first: fail if present) or
// renames (replace) it into place, so readers see the old or the new manifest, never half.
func (d *Dir) publish(m *manifest, first bool) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding key manifest: %w", err)
	}
	tmp, err := os.CreateTemp(d.path, ".keyring-*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("writing key manifest: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing key manifest: %w", err)
	}
	target := filepath.Join(d.path, KeyringFile)
	if first {
		err = os.Link(tmp.Name(), target)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			// A filesystem without hard links: fall back to rename, if still nobody has published.
			if _, serr := os.Stat(target); serr == nil {
				return fs.ErrExist
			}
			err = os.Rename(tmp.Name(), target)
		}
	} else {
		err = os.Rename(tmp.Name(), target)
	}
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("publishing key manifest: %w", err)
	}
	if dir, err := os.Open(d.path); err == nil {
		_ = dir.Sync() // make the new name durable; not supported everywhere, hence best effort
		_ = dir.Close()
	}
	return nil
}

func (d *Dir) readManifest(ctx context.Context) (*manifest, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := filepath.Join(d.path, KeyringFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoKeys, d.path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading key manifest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading key manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("key manifest %s: %w", path, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("key manifest %s: %w", path, err)
	}
	return &m, nil
}

// check rejects manifests that name files outside the directory, repeat keyIds or do not
// have exactly one unretired key, the active one, listed first.
func (m *manifest) check() error {
	if m.Version != manifestVersion {
		return fmt.Errorf("version %d, want %d", m.Version, manifestVersion)
	}
	if len(m.Keys) == 0 {
		return ErrNoKeys
	}
	seen := map[string]bool{}
	for i, k := range m.Keys {
		if seen[k.KeyID] {
			return fmt.Errorf("%w: %q", ErrDuplicateKey, k.KeyID)
		}
		seen[k.KeyID] = true
		if _, err := ParseAlgorithm(string(k.Algorithm)); err != nil {
			return fmt.Errorf("key %q: %w", k.KeyID, err)
		}
		if err := checkFileSafe(k.File); err != nil {
			return fmt.Errorf("key %q: file: %w", k.KeyID, err)
		}
		if active := i == 0; active != (k.RetiredAt == nil) {
			return fmt.Errorf("key %q: only the first key may be unretired", k.KeyID)
		}
	}
	if m.Active != m.Keys[0].KeyID {
		return fmt.Errorf("active key %q is not the first key", m.Active)
	}
	return nil
}

func (d *Dir) load(ctx context.Context, m *manifest) (*Keyring, error) {
	var active *Key
	retired := make([]Verifier, 0, len(m.Keys)-1)
	for i, e := range m.Keys {
		k, err := LoadKeyFile(ctx, filepath.Join(d.path, e.File), e.KeyID, e.Algorithm)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			active = k
		} else {
			retired = append(retired, k)
		}
	}
	return NewKeyring(active, retired...)
}

// checkFileSafe admits names made of [A-Za-z0-9._-] that are not "." or "..", so a keyId or a
// manifest entry cannot point outside the directory.
func checkFileSafe(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 200 {
		return fmt.Errorf("%q is not a plain file name", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%q is not a plain file name", name)
		}
	}
	return nil
}
