package signing_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/stellaops/internal/signing"
)

var update = flag.Bool("update", false, "rewrite golden files and the sample envelope")

// seed derives fixed key material from a label, so test keys are the same in every process.
func seed(label string) []byte {
	s := sha256.Sum256([]byte("stellaops signing test: " + label))
	return s[:]
}

// testKey returns the fixed test key of alg, keyId "test-<alg>".
func testKey(t testing.TB, alg signing.Algorithm) *signing.Key {
	t.Helper()
	k, err := fixedKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func fixedKey(alg signing.Algorithm) (*signing.Key, error) {
	id := "test-" + string(alg)
	switch alg {
	case signing.HS256:
		return signing.NewHMACKey(id, seed("hs256"))
	case signing.Ed25519:
		return signing.NewKey(id, ed25519.NewKeyFromSeed(seed("ed25519")))
	default:
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seed("ecdsa-p256"))
		if err != nil {
			return nil, err
		}
		return signing.NewKey(id, priv)
	}
}

// smallReport is a short JSON payload, written out of canonical order on purpose.
const smallReport = `{"verdict":"pass", "reportId":"report-1","imageDigest":"sha256:deadbeef"}`

func sign(t testing.TB, payloadType string, payload []byte, signers ...signing.Signer) *signing.Envelope {
	t.Helper()
	e, err := signing.Sign(context.Background(), payloadType, payload, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func encode(t testing.TB, e *signing.Envelope) []byte {
	t.Helper()
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readFile(t testing.TB, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(elem...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with the file at path, or rewrites the file under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readFile(t, path)
	if string(got) != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n got  %s\n want %s", path, got, want)
	}
}
