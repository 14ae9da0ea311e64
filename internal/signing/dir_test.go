package signing_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/signing"
)

// countingReader is a deterministic random source: SHA-256 of a counter, for reproducible keys.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 32 {
		r.n++
		s := sha256.Sum256([]byte{r.n})
		copy(p[i:], s[:])
	}
	return len(p), nil
}

func fixedClock(ts ...string) func() time.Time {
	i := 0
	return func() time.Time {
		tm, _ := time.Parse(time.RFC3339, ts[min(i, len(ts)-1)])
		i++
		return tm
	}
}

func TestDirFirstUseAndRotation(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", signing.DataSubdir)
	opts := []signing.DirOption{
		signing.WithRand(&countingReader{}),
		signing.WithClock(fixedClock("2025-10-18T20:15:12Z", "2026-01-02T03:04:05Z")),
		signing.CreateOnFirstUse(),
	}
	d := signing.NewDir(path, opts...)
	kr, err := d.Keyring(ctx)
	if err != nil {
		t.Fatal(err)
	}
	active, _ := kr.Active()
	first := active.KeyID()
	if !strings.HasPrefix(first, "stellaops-ed25519-") || len(first) != len("stellaops-ed25519-")+12 {
		t.Errorf("first keyId %q", first)
	}
	// The same random source gives the same key: generation is reproducible.
	again, err := signing.NewDir(filepath.Join(t.TempDir(), "x"), signing.WithRand(&countingReader{}), signing.CreateOnFirstUse()).Keyring(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := again.Active(); a.KeyID() != first {
		t.Errorf("same random source, different key: %s vs %s", a.KeyID(), first)
	}
	if runtime.GOOS != "windows" {
		for _, name := range []string{first + ".pem", signing.KeyringFile} {
			fi, err := os.Stat(filepath.Join(path, name))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, %v; want 0600", name, fi.Mode().Perm(), err)
			}
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o700 {
			t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
		}
	}
	before, err := kr.Sign(ctx, signing.PayloadTypeReport, []byte(smallReport))
	if err != nil {
		t.Fatal(err)
	}

	// A second process (a new Dir, no creation) finds the same key.
	reopened, err := signing.NewDir(path).Keyring(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := reopened.Active(); a.KeyID() != first {
		t.Errorf("reopened active %q, want %q", a.KeyID(), first)
	}

	rotated, err := d.Rotate(ctx, signing.HS256)
	if err != nil {
		t.Fatal(err)
	}
	na, _ := rotated.Active()
	if na.Algorithm() != signing.HS256 || na.KeyID() == first {
		t.Errorf("rotated to %s/%s", na.KeyID(), na.Algorithm())
	}
	// After a reload, the retired key verifies the old envelope and refuses to sign.
	reloaded, err := signing.NewDir(path).Keyring(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := reloaded.Verify(ctx, before)
	if err != nil || v.KeyID != first || !v.Retired {
		t.Errorf("old envelope after rotation: %+v, %v", v, err)
	}
	if _, err := reloaded.Signer(first); !errors.Is(err, signing.ErrRetiredKey) {
		t.Errorf("retired key: %v", err)
	}
	keys, err := d.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].KeyID != na.KeyID() || keys[0].RetiredAt != nil || keys[1].KeyID != first ||
		keys[1].RetiredAt == nil || !keys[1].RetiredAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) ||
		!keys[1].CreatedAt.Equal(time.Date(2025, 10, 18, 20, 15, 12, 0, time.UTC)) || !strings.HasSuffix(keys[0].File, ".key") {
		t.Errorf("manifest keys %+v", keys)
	}
	// Public keys of the directory's keys can be exported for offline verification.
	pemBytes, err := signing.ExportPublicKey(active)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.ParsePublicKeyPEM(first, pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signing.VerifyWith(ctx, before, pub); err != nil {
		t.Errorf("exported public key: %v", err)
	}
}

func TestDirWithoutKeys(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir()
	d := signing.NewDir(path)
	if d.Path() != path {
		t.Errorf("Path() = %q", d.Path())
	}
	_, err := d.Keyring(ctx)
	if !errors.Is(err, signing.ErrNoKeys) || !strings.Contains(err.Error(), path) {
		t.Errorf("empty dir: %v", err)
	}
	if ents, _ := os.ReadDir(path); len(ents) != 0 {
		t.Errorf("loading without CreateOnFirstUse wrote %v", ents)
	}
	// Rotate on an empty directory creates the first key.
	kr, err := signing.NewDir(path).Rotate(ctx, signing.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := kr.Active(); a.Algorithm() != signing.ECDSAP256 || len(kr.Keys()) != 1 {
		t.Errorf("first key by Rotate: %+v", kr.Keys())
	}
	// The keyId prefix is configurable, and must be a plain file name.
	kr, err = signing.NewDir(t.TempDir(), signing.CreateOnFirstUse(), signing.WithKeyIDPrefix("scanner-report-signing")).Keyring(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := kr.Active(); !strings.HasPrefix(a.KeyID(), "scanner-report-signing-ed25519-") {
		t.Errorf("prefixed keyId %q", a.KeyID())
	}
	if _, err := signing.NewDir(t.TempDir(), signing.CreateOnFirstUse(), signing.WithKeyIDPrefix("../up")).Keyring(ctx); err == nil {
		t.Error("a prefix with a path separator was accepted")
	}
}

// Processes starting at once on a fresh data directory all end up with one and the same key.
func TestDirConcurrentFirstUse(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "signing")
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			kr, err := signing.NewDir(path, signing.CreateOnFirstUse()).Keyring(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			a, _ := kr.Active()
			ids[i] = a.KeyID()
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("different first keys: %v", ids)
		}
	}
	ents, _ := os.ReadDir(path)
	if len(ents) != 2 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want the manifest and one key", names)
	}
}

func TestDirRejectsBadManifest(t *testing.T) {
	ctx := context.Background()
	for name, m := range map[string]string{
		"escaping file":   `{"version":1,"active":"a","keys":[{"keyId":"a","algorithm":"hs256","file":"../a.key","createdAt":"2025-01-01T00:00:00Z"}]}`,
		"unknown version": `{"version":2,"active":"a","keys":[]}`,
		"no keys":         `{"version":1,"active":"a","keys":[]}`,
		"active not first": `{"version":1,"active":"b","keys":[{"keyId":"a","algorithm":"hs256","file":"a.key","createdAt":"2025-01-01T00:00:00Z"},` +
			`{"keyId":"b","algorithm":"hs256","file":"b.key","createdAt":"2025-01-01T00:00:00Z","retiredAt":"2025-01-01T00:00:00Z"}]}`,
		"two unretired": `{"version":1,"active":"a","keys":[{"keyId":"a","algorithm":"hs256","file":"a.key","createdAt":"2025-01-01T00:00:00Z"},` +
			`{"keyId":"b","algorithm":"hs256","file":"b.key","createdAt":"2025-01-01T00:00:00Z"}]}`,
		"duplicate": `{"version":1,"active":"a","keys":[{"keyId":"a","algorithm":"hs256","file":"a.key","createdAt":"2025-01-01T00:00:00Z"},` +
			`{"keyId":"a","algorithm":"hs256","file":"b.key","createdAt":"2025-01-01T00:00:00Z","retiredAt":"2025-01-01T00:00:00Z"}]}`,
		"unknown algorithm": `{"version":1,"active":"a","keys":[{"keyId":"a","algorithm":"rsa","file":"a.key","createdAt":"2025-01-01T00:00:00Z"}]}`,
		"missing key file":  `{"version":1,"active":"a","keys":[{"keyId":"a","algorithm":"hs256","file":"a.key","createdAt":"2025-01-01T00:00:00Z"}]}`,
		"not JSON":          `{`,
	} {
		t.Run(name, func(t *testing.T) {
			path := t.TempDir()
			if err := os.WriteFile(filepath.Join(path, signing.KeyringFile), []byte(m), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := signing.NewDir(path, signing.CreateOnFirstUse()).Keyring(ctx); err == nil {
				t.Error("bad manifest loaded")
			}
		})
	}
}

// A manifest entry cannot be exchanged for a file outside the directory, and a key file's
// content is checked against the manifest's algorithm.
func TestDirKeyFileMustMatchManifest(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir()
	d := signing.NewDir(path, signing.CreateOnFirstUse(), signing.WithAlgorithm(signing.HS256))
	if _, err := d.Keyring(ctx); err != nil {
		t.Fatal(err)
	}
	raw := readFile(t, path, signing.KeyringFile)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["keys"].([]any)[0].(map[string]any)["algorithm"] = "ed25519"
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(path, signing.KeyringFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Keyring(ctx); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("hs256 file declared ed25519: %v", err)
	}
}
