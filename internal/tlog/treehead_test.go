package tlog_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/tlog"
	"github.com/stellaops/stellaops/internal/tlog/tlogtest"
)

func TestCheckpoint(t *testing.T) {
	th := tlog.TreeHead{
		Origin:    "test.stellaops.example/tlog",
		TreeSize:  7,
		RootHash:  tlog.LeafHash([]byte("x")),
		Timestamp: time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.FixedZone("CET", 3600)),
	}
	// Body lines: origin, decimal size, base64 root, then the timestamp extension line (UTC,
	// microseconds: the stored precision).
	want := "test.stellaops.example/tlog\n7\n" +
		"PH6byTDck/AfppmF7yQtn56GHzxTVaokzl70tLinDMs=\n" + // base64(SHA-256(0x00 || "x")), from openssl
		"Timestamp: 2026-11-22T09:00:00.123456Z\n"
	if got := string(th.Checkpoint()); got != want {
		t.Errorf("checkpoint:\n%s\nwant:\n%s", got, want)
	}
}

// TestKeyID recomputes the key ID by hand: SHA-256 of the Ed25519 SubjectPublicKeyInfo, which
// is a fixed 12-byte DER prefix followed by the 32-byte key (RFC 8410).
func TestKeyID(t *testing.T) {
	pub := testKey().Public().(ed25519.PublicKey)
	spki, _ := hex.DecodeString("302a300506032b6570032100")
	sum := sha256.Sum256(append(spki, pub...))
	got, err := tlog.KeyID(pub)
	if err != nil || got != hex.EncodeToString(sum[:]) {
		t.Errorf("KeyID = %s, %v; want %x", got, err, sum)
	}
	if _, err := tlog.KeyID(pub[:31]); !errors.Is(err, tlog.ErrInvalid) {
		t.Errorf("KeyID of a short key: %v", err)
	}
}

func TestSignedTreeHeadTamper(t *testing.T) {
	ctx := context.Background()
	l, clk := newLog(t)
	appendAll(t, l, ctLeaves[1:])
	clk.Advance(time.Second)
	sth, err := l.SignTreeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pub := l.PublicKey()
	if err := tlog.VerifyTreeHead(sth, pub); err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(pub, sth.Checkpoint(), sth.Signature) {
		t.Error("the signature is not plain Ed25519 over the checkpoint")
	}
	other := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	tamper := map[string]func(*tlog.SignedTreeHead){
		"size":      func(s *tlog.SignedTreeHead) { s.TreeSize++ },
		"root":      func(s *tlog.SignedTreeHead) { s.RootHash[31] ^= 1 },
		"timestamp": func(s *tlog.SignedTreeHead) { s.Timestamp = s.Timestamp.Add(time.Microsecond) },
		"origin":    func(s *tlog.SignedTreeHead) { s.Origin += "2" },
		"signature": func(s *tlog.SignedTreeHead) { s.Signature[0] ^= 0x80 },
		"short sig": func(s *tlog.SignedTreeHead) { s.Signature = s.Signature[:63] },
		"key id":    func(s *tlog.SignedTreeHead) { s.KeyID = tlog.EntryID([]byte("k")) },
	}
	for name, f := range tamper {
		bad := sth
		bad.Signature = append([]byte(nil), sth.Signature...)
		f(&bad)
		if err := tlog.VerifyTreeHead(bad, pub); !errors.Is(err, tlog.ErrVerification) {
			t.Errorf("tampered %s: %v, want ErrVerification", name, err)
		}
	}
	if err := tlog.VerifyTreeHead(sth, other); !errors.Is(err, tlog.ErrVerification) {
		t.Errorf("another key: %v, want ErrVerification", err)
	}
}

// TestEmptyTreeHead: a signed head of size 0 must carry the empty root.
func TestEmptyTreeHead(t *testing.T) {
	l, _ := newLog(t)
	sth, err := l.SignTreeHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sth.TreeSize != 0 || sth.RootHash != tlog.EmptyRoot() {
		t.Fatalf("empty head %+v", sth)
	}
	if err := tlog.VerifyTreeHead(sth, l.PublicKey()); err != nil {
		t.Error(err)
	}
}

// badSigner signs with one key but claims another.
type badSigner struct{ crypto.Signer }

func (badSigner) Public() crypto.PublicKey {
	return ed25519.NewKeyFromSeed(make([]byte, 32)).Public()
}

// failingSigner is a remote signer that is down.
type failingSigner struct{ ed25519.PrivateKey }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("kms unavailable")
}

func TestSignerChecks(t *testing.T) {
	cfg := tlog.DefaultConfig()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlog.New(tlogtest.NewMemStore(), ec, cfg); !errors.Is(err, tlog.ErrInvalid) {
		t.Errorf("ECDSA signer: %v, want ErrInvalid", err)
	}
	for name, s := range map[string]crypto.Signer{
		"wrong public key": badSigner{testKey()},
		"signing fails":    failingSigner{testKey()},
	} {
		l, err := tlog.New(tlogtest.NewMemStore(), s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.SignTreeHead(context.Background()); err == nil {
			t.Errorf("%s: SignTreeHead succeeded", name)
		}
	}
}

func TestConfigChecks(t *testing.T) {
	for name, f := range map[string]func(*tlog.Config){
		"empty origin":   func(c *tlog.Config) { c.Origin = "" },
		"origin space":   func(c *tlog.Config) { c.Origin = "a b" },
		"origin newline": func(c *tlog.Config) { c.Origin = "a\nb" },
		"origin plus":    func(c *tlog.Config) { c.Origin = "a+b" },
	} {
		cfg := tlog.DefaultConfig()
		f(&cfg)
		if _, err := tlog.New(tlogtest.NewMemStore(), testKey(), cfg); !errors.Is(err, tlog.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := tlog.New(nil, testKey(), tlog.DefaultConfig()); !errors.Is(err, tlog.ErrInvalid) {
		t.Errorf("nil store: %v", err)
	}
	if _, err := tlog.New(tlogtest.NewMemStore(), testKey(), tlog.Config{Origin: "x.example/log"}); err != nil {
		t.Errorf("zero limits take the defaults: %v", err)
	}
}

func TestAppendLimits(t *testing.T) {
	cfg := tlog.DefaultConfig()
	cfg.MaxBodyBytes, cfg.MaxBatch = 8, 2
	l, err := tlog.New(tlogtest.NewMemStore(), testKey(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, bodies := range map[string][][]byte{
		"empty batch":   {},
		"empty body":    {{}},
		"body too big":  {[]byte("123456789")},
		"batch too big": {[]byte("1"), []byte("2"), []byte("3")},
	} {
		if _, err := l.AppendBatch(ctx, bodies); !errors.Is(err, tlog.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := l.AppendBatch(ctx, [][]byte{[]byte("12345678"), []byte("1")}); err != nil {
		t.Errorf("at the limits: %v", err)
	}
}
