package signing_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/signing"
)

func opensslFile(name string) string { return filepath.Join("testdata", "openssl", name) }

func TestLoadKeyFiles(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		file string
		alg  signing.Algorithm // configured; "" infers
		want signing.Algorithm
	}{
		{"ed25519.pem", "", signing.Ed25519},
		{"ed25519.pem", signing.Ed25519, signing.Ed25519},
		{"ecdsa-p256.pem", "", signing.ECDSAP256},
		{"ecdsa-p256.pem", signing.ECDSAP256, signing.ECDSAP256},
	} {
		k, err := signing.LoadKeyFile(ctx, opensslFile(tc.file), "k", tc.alg)
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if k.Algorithm() != tc.want {
			t.Errorf("%s: algorithm %s", tc.file, k.Algorithm())
		}
		// The exported public key is what OpenSSL derived from the same private key.
		got, err := k.PublicKeyPEM()
		if err != nil {
			t.Fatal(err)
		}
		if want := readFile(t, opensslFile(strings.TrimSuffix(tc.file, ".pem")+".pub.pem")); !bytes.Equal(got, want) {
			t.Errorf("%s: public key PEM\n got %s\nwant %s", tc.file, got, want)
		}
		// PrivateKeyPEM round-trips through ParsePrivateKey.
		priv, _ := k.PrivateKeyPEM()
		back, err := signing.ParsePrivateKey("k", "", priv)
		if err != nil || back.Fingerprint() != k.Fingerprint() {
			t.Errorf("%s: PrivateKeyPEM round trip: %v", tc.file, err)
		}
		// LoadVerifierFile reads both halves.
		for _, f := range []string{tc.file, strings.TrimSuffix(tc.file, ".pem") + ".pub.pem"} {
			v, err := signing.LoadVerifierFile(ctx, opensslFile(f), "k", "")
			if err != nil || v.Algorithm() != tc.want {
				t.Errorf("LoadVerifierFile(%s): %v, %v", f, v, err)
			}
			if _, ok := v.(signing.Signer); ok {
				t.Errorf("LoadVerifierFile(%s) returned a signer", f)
			}
		}
	}
}

func TestLoadKeyFileRejects(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		file string
		alg  signing.Algorithm
		text string
	}{
		{"ecdsa-p256.sec1.pem", "", `"EC PRIVATE KEY" is not an unencrypted PKCS#8 private key; convert it with`},
		{"ed25519.enc.pem", "", `"ENCRYPTED PRIVATE KEY" is not an unencrypted PKCS#8`},
		{"ecdsa-p384.pem", "", "not on P-256"},
		{"rsa.pem", "", "unsupported private key type *rsa.PrivateKey"},
		{"ed25519.pem", signing.ECDSAP256, "holds an ed25519 key but the configured algorithm is ecdsa-p256"},
		{"ed25519.pem", signing.HS256, "holds an ed25519 key but the configured algorithm is hs256"},
		{"ed25519.pub.pem", "", `"PUBLIC KEY" is not an unencrypted PKCS#8`},
		{"payload.json", signing.Ed25519, "ed25519 keys must be PEM PKCS#8"},
		{"missing.pem", "", "no such file"},
	} {
		_, err := signing.LoadKeyFile(ctx, opensslFile(tc.file), "k", tc.alg)
		if err == nil || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s (%s): got %v, want %q", tc.file, tc.alg, err, tc.text)
		}
	}
	if _, err := signing.LoadKeyFile(ctx, opensslFile("ed25519.pem"), "k", "rsa"); !errors.Is(err, signing.ErrUnknownAlgorithm) {
		t.Errorf("unknown algorithm: %v", err)
	}
	if _, err := signing.LoadKeyFile(ctx, opensslFile("ed25519.pem"), "", ""); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("empty keyId: %v", err)
	}
	two := append(readFile(t, opensslFile("ed25519.pem")), readFile(t, opensslFile("ecdsa-p256.pem"))...)
	if _, err := signing.ParsePrivateKey("k", "", two); err == nil || !strings.Contains(err.Error(), "more than one PEM block") {
		t.Errorf("two PEM blocks: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("A"), 70<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := signing.LoadKeyFile(ctx, big, "k", ""); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("oversized key file: %v", err)
	}
}

// An hs256 key file holds base64 (whitespace around it ignored) or the raw secret.
func TestHMACSecretFiles(t *testing.T) {
	ctx := context.Background()
	secret := seed("file secret")
	dir := t.TempDir()
	want, _ := signing.NewHMACKey("k", secret)
	for name, content := range map[string][]byte{
		"base64":         []byte(base64.StdEncoding.EncodeToString(secret)),
		"base64 newline": []byte(base64.StdEncoding.EncodeToString(secret) + "\n"),
		"base64 spaced":  []byte("  " + base64.StdEncoding.EncodeToString(secret) + "\r\n"),
		"raw":            secret,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, alg := range []signing.Algorithm{"", signing.HS256} {
			k, err := signing.LoadKeyFile(ctx, path, "k", alg)
			if err != nil || k.Fingerprint() != want.Fingerprint() || k.Algorithm() != signing.HS256 {
				t.Errorf("%s (%q): %v", name, alg, err)
			}
		}
	}
	// A raw secret that is not base64 is taken byte for byte, a trailing newline included.
	pass := []byte("correct horse battery staple, correct horse battery staple\n")
	k, err := signing.ParsePrivateKey("k", "", pass)
	if err != nil {
		t.Fatal(err)
	}
	if same, _ := signing.NewHMACKey("k", pass); k.Fingerprint() != same.Fingerprint() {
		t.Error("raw secret was altered")
	}
	// Base64 of fewer than 32 bytes is not a base64 secret; as raw text it is too short as well.
	if _, err := signing.ParsePrivateKey("k", "", []byte(base64.StdEncoding.EncodeToString(secret[:16]))); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("short secret: %v", err)
	}
	if _, err := signing.NewHMACKey("k", secret[:31]); err == nil || !strings.Contains(err.Error(), "hs256 secret is 31 bytes, at least 32 are required") {
		t.Errorf("31-byte secret: %v", err)
	}
}

// A verifier without a keyId (an offline verifier handed only the sample key) is trusted for
// any signature of its algorithm.
func TestAnonymousVerifier(t *testing.T) {
	ctx := context.Background()
	env := sign(t, "text/plain", []byte("x"), testKey(t, signing.HS256))
	v, err := signing.ParseVerifier("", "", []byte(base64.StdEncoding.EncodeToString(seed("hs256"))))
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyID() != "" {
		t.Errorf("keyId %q", v.KeyID())
	}
	if res, err := signing.VerifyWith(ctx, env, v); err != nil || res.KeyID != "" || !res.Signatures[0].Verified {
		t.Errorf("got %+v, %v", res, err)
	}
	pub, err := signing.LoadVerifierFile(ctx, opensslFile("ed25519.pub.pem"), "", "")
	if err != nil || pub.KeyID() != "" {
		t.Errorf("anonymous public key: %v, %v", pub, err)
	}
}

func TestExportPublicKeyOfHMAC(t *testing.T) {
	k := testKey(t, signing.HS256)
	if _, err := signing.ExportPublicKey(k); !errors.Is(err, signing.ErrSymmetricKey) {
		t.Errorf("got %v", err)
	}
	if _, err := k.PublicKeyPEM(); !errors.Is(err, signing.ErrSymmetricKey) {
		t.Errorf("got %v", err)
	}
	if k.Public() != nil {
		t.Error("hs256 key has a public half")
	}
}

func TestGenerateKey(t *testing.T) {
	ctx := context.Background()
	for _, alg := range signing.Algorithms() {
		k1, err := signing.GenerateKey(&countingReader{}, alg, "")
		if err != nil {
			t.Fatal(err)
		}
		k2, _ := signing.GenerateKey(&countingReader{}, alg, "")
		if k1.KeyID() != k2.KeyID() || k1.Fingerprint() != k2.Fingerprint() {
			t.Errorf("%s: a fixed random source gave different keys", alg)
		}
		if want := "stellaops-" + string(alg) + "-" + k1.Fingerprint()[:12]; k1.KeyID() != want {
			t.Errorf("keyId %q, want %q", k1.KeyID(), want)
		}
		k3, err := signing.GenerateKey(nil, alg, "mine")
		if err != nil || k3.KeyID() != "mine" || k3.Fingerprint() == k1.Fingerprint() {
			t.Errorf("%s with crypto/rand: %v", alg, err)
		}
		if _, err := signing.VerifyWith(ctx, sign(t, "text/plain", []byte("x"), k1), k1.Verifier()); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
	if _, err := signing.GenerateKey(nil, "rsa", ""); !errors.Is(err, signing.ErrUnknownAlgorithm) {
		t.Errorf("rsa: %v", err)
	}
	if _, err := signing.GenerateKey(strings.NewReader("short"), signing.Ed25519, ""); err == nil {
		t.Error("a short random source gave a key")
	}
	if _, err := signing.GenerateKey(nil, signing.HS256, "bad\nid"); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("control character in keyId: %v", err)
	}
}
