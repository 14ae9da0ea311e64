package tlog_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/tlog"
)

// knownBundles builds the 7-entry CT-leaf log with a fixed clock and key, so its bundles are
// byte-for-byte stable: the inclusion bundle of entry 2 and the consistency bundle 3 → 7.
func knownBundles(t testing.TB) (*tlog.Log, tlog.Bundle, tlog.ConsistencyBundle) {
	t.Helper()
	ctx := context.Background()
	l, clk := newLog(t)
	appendAll(t, l, ctLeaves[1:4])
	clk.Advance(time.Minute)
	if _, err := l.SignTreeHead(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	appendAll(t, l, ctLeaves[4:])
	clk.Advance(time.Minute)
	b, err := l.Bundle(ctx, tlog.EntryID(ctLeaves[3]))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := l.ConsistencyBundle(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	return l, b, cb
}

// TestBundleGolden pins the bundle formats; the goldens are also the fuzz seeds.
func TestBundleGolden(t *testing.T) {
	l, b, cb := knownBundles(t)
	enc, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "bundle.golden.json", enc)
	enc, err = cb.Encode()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "consistency.golden.json", enc)

	// The goldens verify with nothing but the public key.
	raw, err := os.ReadFile(filepath.Join("testdata", "bundle.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := tlog.DecodeBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.VerifyInclusion(dec, l.PublicKey()); err != nil {
		t.Error(err)
	}
	raw, err = os.ReadFile(filepath.Join("testdata", "consistency.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	cdec, err := tlog.DecodeConsistencyBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.VerifyConsistency(cdec, l.PublicKey()); err != nil {
		t.Error(err)
	}
}

func cloneBundle(b tlog.Bundle) tlog.Bundle {
	b.Entry.Body = append([]byte(nil), b.Entry.Body...)
	b.InclusionProof.Hashes = append([]tlog.Hash(nil), b.InclusionProof.Hashes...)
	b.TreeHead.Signature = append([]byte(nil), b.TreeHead.Signature...)
	return b
}

func TestVerifyInclusionTamper(t *testing.T) {
	l, b, _ := knownBundles(t)
	pub := l.PublicKey()
	if err := tlog.VerifyInclusion(b, pub); err != nil {
		t.Fatal(err)
	}
	if n := len(b.InclusionProof.Hashes); n != 3 {
		t.Fatalf("proof of %d hashes, the test expects 3", n)
	}
	tamper := map[string]func(*tlog.Bundle){
		"body":             func(b *tlog.Bundle) { b.Entry.Body[0] ^= 1 },
		"body and id":      func(b *tlog.Bundle) { b.Entry.Body[0] ^= 1; b.Entry.LeafHash = tlog.LeafHash(b.Entry.Body) },
		"entry id":         func(b *tlog.Bundle) { b.Entry.LeafHash[0] ^= 1 },
		"entry index":      func(b *tlog.Bundle) { b.Entry.Index++ },
		"both indexes":     func(b *tlog.Bundle) { b.Entry.Index++; b.InclusionProof.LogIndex++ },
		"proof index":      func(b *tlog.Bundle) { b.InclusionProof.LogIndex-- },
		"proof size":       func(b *tlog.Bundle) { b.InclusionProof.TreeSize-- },
		"proof hash 0":     func(b *tlog.Bundle) { b.InclusionProof.Hashes[0][5] ^= 1 },
		"proof hash 1":     func(b *tlog.Bundle) { b.InclusionProof.Hashes[1][5] ^= 1 },
		"proof hash 2":     func(b *tlog.Bundle) { b.InclusionProof.Hashes[2][31] ^= 0x80 },
		"proof reordered":  func(b *tlog.Bundle) { h := b.InclusionProof.Hashes; h[0], h[1] = h[1], h[0] },
		"proof truncated":  func(b *tlog.Bundle) { b.InclusionProof.Hashes = b.InclusionProof.Hashes[:2] },
		"proof extended":   func(b *tlog.Bundle) { b.InclusionProof.Hashes = append(b.InclusionProof.Hashes, tlog.Hash{}) },
		"root":             func(b *tlog.Bundle) { b.TreeHead.RootHash[0] ^= 1 },
		"head size":        func(b *tlog.Bundle) { b.TreeHead.TreeSize++; b.InclusionProof.TreeSize++ },
		"head timestamp":   func(b *tlog.Bundle) { b.TreeHead.Timestamp = b.TreeHead.Timestamp.Add(-time.Second) },
		"head signature":   func(b *tlog.Bundle) { b.TreeHead.Signature[10] ^= 1 },
		"head key id":      func(b *tlog.Bundle) { b.TreeHead.KeyID = strings.Repeat("0", 64) },
		"head origin":      func(b *tlog.Bundle) { b.TreeHead.Origin = "evil.example/tlog" },
		"no signature":     func(b *tlog.Bundle) { b.TreeHead.Signature = nil },
		"other entry body": func(b *tlog.Bundle) { b.Entry.Body = ctLeaves[2]; b.Entry.LeafHash = tlog.LeafHash(ctLeaves[2]) },
	}
	for name, f := range tamper {
		bad := cloneBundle(b)
		f(&bad)
		if err := tlog.VerifyInclusion(bad, pub); !errors.Is(err, tlog.ErrVerification) {
			t.Errorf("tampered %s: %v, want ErrVerification", name, err)
		}
	}
	other := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	if err := tlog.VerifyInclusion(b, other); !errors.Is(err, tlog.ErrVerification) {
		t.Errorf("another key: %v", err)
	}
	// The integrated time is not covered by the tree or the head: changing it does not fail
	// verification (documented on Entry.IntegratedTime).
	moved := cloneBundle(b)
	moved.Entry.IntegratedTime = moved.Entry.IntegratedTime.Add(time.Hour)
	if err := tlog.VerifyInclusion(moved, pub); err != nil {
		t.Errorf("integrated time is expected to be unauthenticated: %v", err)
	}
}

func TestVerifyConsistencyTamper(t *testing.T) {
	l, _, cb := knownBundles(t)
	pub := l.PublicKey()
	if err := tlog.VerifyConsistency(cb, pub); err != nil {
		t.Fatal(err)
	}
	clone := func(c tlog.ConsistencyBundle) tlog.ConsistencyBundle {
		c.Proof.Hashes = append([]tlog.Hash(nil), c.Proof.Hashes...)
		c.Old.Signature = append([]byte(nil), c.Old.Signature...)
		c.New.Signature = append([]byte(nil), c.New.Signature...)
		return c
	}
	tamper := map[string]func(*tlog.ConsistencyBundle){
		"proof hash":      func(c *tlog.ConsistencyBundle) { c.Proof.Hashes[1][0] ^= 1 },
		"proof truncated": func(c *tlog.ConsistencyBundle) { c.Proof.Hashes = c.Proof.Hashes[1:] },
		"proof sizes":     func(c *tlog.ConsistencyBundle) { c.Proof.OldSize = 2 },
		"old root":        func(c *tlog.ConsistencyBundle) { c.Old.RootHash[3] ^= 1 },
		"new signature":   func(c *tlog.ConsistencyBundle) { c.New.Signature[3] ^= 1 },
		"old signature":   func(c *tlog.ConsistencyBundle) { c.Old.Signature[3] ^= 1 },
		"swapped heads":   func(c *tlog.ConsistencyBundle) { c.Old, c.New = c.New, c.Old },
		"new is old": func(c *tlog.ConsistencyBundle) {
			c.New = c.Old
			c.Proof.NewSize = c.Old.TreeSize
		},
	}
	for name, f := range tamper {
		bad := clone(cb)
		f(&bad)
		if err := tlog.VerifyConsistency(bad, pub); !errors.Is(err, tlog.ErrVerification) {
			t.Errorf("tampered %s: %v, want ErrVerification", name, err)
		}
	}
}

// TestForkDetected: a log that rewrote entry 3 after signing a head at 4 (a fork, under the
// same key) cannot prove its new head consistent with the old one.
func TestForkDetected(t *testing.T) {
	ctx := context.Background()
	honest, _ := newLog(t)
	forked, _ := newLog(t)
	appendAll(t, honest, ctLeaves[1:5])
	h4, err := honest.SignTreeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, forked, ctLeaves[1:4])
	appendAll(t, forked, [][]byte{[]byte("rewritten"), ctLeaves[5]})
	f5, err := forked.SignTreeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, honest, ctLeaves[5:6])
	for _, from := range []*tlog.Log{forked, honest} {
		p, err := from.ConsistencyProof(ctx, 4, 5)
		if err != nil {
			t.Fatal(err)
		}
		err = tlog.VerifyConsistency(tlog.ConsistencyBundle{Old: h4, New: f5, Proof: p}, honest.PublicKey())
		if !errors.Is(err, tlog.ErrVerification) {
			t.Errorf("honest head at 4 to forked head at 5: %v, want ErrVerification", err)
		}
	}
	// The honest log's own proof from h4 verifies.
	cb, err := honest.ConsistencyBundle(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.VerifyConsistency(cb, honest.PublicKey()); err != nil {
		t.Error(err)
	}
}

func TestDecodeBundleStrict(t *testing.T) {
	_, b, _ := knownBundles(t)
	enc, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	good := string(enc)
	if _, err := tlog.DecodeBundle(enc); err != nil {
		t.Fatal(err)
	}
	hashes := `"hashes":[` + strings.Repeat(`"`+strings.Repeat("0", 64)+`",`, tlog.MaxProofHashes) + `"` + strings.Repeat("0", 64) + `"]`
	for name, in := range map[string]string{
		"not json":         "{",
		"trailing data":    good + " {}",
		"two values":       good + good,
		"unknown member":   strings.Replace(good, `"entry":{`, `"entry":{"extra":1,`, 1),
		"duplicate member": strings.Replace(good, `"entry":{`, `"entry":{"logIndex":0,`, 1),
		"upper-case hash":  strings.Replace(good, b.Entry.LeafHash.String(), strings.ToUpper(b.Entry.LeafHash.String()), 1),
		"short hash":       strings.Replace(good, b.Entry.LeafHash.String(), b.Entry.LeafHash.String()[:62], 1),
		"negative index":   strings.Replace(good, `"logIndex":2`, `"logIndex":-2`, 1),
		"huge index":       strings.Replace(good, `"logIndex":2`, `"logIndex":18446744073709551616`, 1),
		"too many hashes":  strings.Replace(good, good[strings.Index(good, `"hashes":[`):strings.Index(good, `],"logIndex"`)+1], hashes, 1),
		"no body":          strings.Replace(good, good[strings.Index(good, `"body":"`):strings.Index(good, `","id"`)+2], ``, 1),
		"bad signature":    strings.Replace(good, `"signature":"`, `"signature":"AAAA`, 1),
		"bad origin":       strings.Replace(good, `"origin":"`, `"origin":"a b`, 1),
		"array":            "[]",
		"null":             "null",
	} {
		if _, err := tlog.DecodeBundle([]byte(in)); !errors.Is(err, tlog.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
