package tlog_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/stellaops/internal/tlog"
)

func fuzzSeeds(f *testing.F) {
	f.Helper()
	for _, name := range []string{"bundle.golden.json", "consistency.golden.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzDecodeBundle feeds hostile bundle JSON to the decoder and then to offline verification:
// neither may panic, whatever decodes must re-encode stably, and verification may succeed only
// for a bundle whose entry ID is its body's leaf hash.
func FuzzDecodeBundle(f *testing.F) {
	fuzzSeeds(f)
	f.Add([]byte(`{"entry":{"body":"AA==","logIndex":0},"inclusionProof":{"hashes":[],"logIndex":0,"treeSize":1},"treeHead":{}}`))
	pub := testKey().Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := tlog.DecodeBundle(data)
		if err != nil {
			if !errors.Is(err, tlog.ErrInvalid) {
				t.Fatalf("decode error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		enc, err := b.Encode()
		if err != nil {
			t.Fatalf("decoded bundle does not encode: %v", err)
		}
		again, err := tlog.DecodeBundle(enc)
		if err != nil {
			t.Fatalf("re-encoded bundle does not decode: %v\n%s", err, enc)
		}
		if enc2, _ := again.Encode(); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
		if err := tlog.VerifyInclusion(b, pub); err == nil {
			if tlog.LeafHash(b.Entry.Body) != b.Entry.LeafHash {
				t.Fatalf("verified a bundle whose id is not its body's leaf hash")
			}
		} else if !errors.Is(err, tlog.ErrVerification) {
			t.Fatalf("verification error does not wrap ErrVerification: %v", err)
		}
	})
}

// FuzzDecodeConsistencyBundle does the same for consistency bundles.
func FuzzDecodeConsistencyBundle(f *testing.F) {
	fuzzSeeds(f)
	pub := testKey().Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := tlog.DecodeConsistencyBundle(data)
		if err != nil {
			if !errors.Is(err, tlog.ErrInvalid) {
				t.Fatalf("decode error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		enc, err := b.Encode()
		if err != nil {
			t.Fatalf("decoded bundle does not encode: %v", err)
		}
		if _, err := tlog.DecodeConsistencyBundle(enc); err != nil {
			t.Fatalf("re-encoded bundle does not decode: %v\n%s", err, enc)
		}
		if err := tlog.VerifyConsistency(b, pub); err != nil && !errors.Is(err, tlog.ErrVerification) {
			t.Fatalf("verification error does not wrap ErrVerification: %v", err)
		}
	})
}

// FuzzVerifyProofs reaches the Merkle arithmetic that signature checks shield from
// FuzzDecodeBundle: it signs tree heads of arbitrary sizes and roots with the test key and
// verifies arbitrary proofs against them. Nothing may panic, and every failure must wrap
// ErrVerification.
func FuzzVerifyProofs(f *testing.F) {
	f.Add(uint64(2), uint64(7), uint64(3), []byte("body"), make([]byte, 3*32), make([]byte, 32))
	f.Add(uint64(0), uint64(1), uint64(0), []byte{1}, []byte{}, make([]byte, 32))
	f.Add(uint64(1<<63), uint64(1<<64-1), uint64(1<<62), []byte{1}, make([]byte, 64*32), make([]byte, 32))
	key := testKey()
	pub := key.Public().(ed25519.PublicKey)
	keyID, err := tlog.KeyID(pub)
	if err != nil {
		f.Fatal(err)
	}
	sign := func(size uint64, root tlog.Hash) tlog.SignedTreeHead {
		th := tlog.TreeHead{Origin: "fuzz.example/tlog", TreeSize: size, RootHash: root, Timestamp: t0}
		return tlog.SignedTreeHead{TreeHead: th, KeyID: keyID, Signature: ed25519.Sign(key, th.Checkpoint())}
	}
	f.Fuzz(func(t *testing.T, index, size, oldSize uint64, body, proof, root []byte) {
		if len(proof) > 70*32 || len(body) == 0 {
			return
		}
		var hs []tlog.Hash
		for len(proof) >= 32 {
			hs = append(hs, tlog.Hash(proof[:32]))
			proof = proof[32:]
		}
		var r tlog.Hash
		copy(r[:], root)
		sth := sign(size, r)
		b := tlog.Bundle{
			Entry:          tlog.Entry{Index: index, LeafHash: tlog.LeafHash(body), Body: body, IntegratedTime: t0},
			InclusionProof: tlog.InclusionProof{LogIndex: index, TreeSize: size, Hashes: hs},
			TreeHead:       sth,
		}
		if err := tlog.VerifyInclusion(b, pub); err != nil && !errors.Is(err, tlog.ErrVerification) {
			t.Fatalf("inclusion: %v", err)
		}
		old := sign(oldSize, tlog.LeafHash(body))
		cb := tlog.ConsistencyBundle{Old: old, New: sth, Proof: tlog.ConsistencyProof{OldSize: oldSize, NewSize: size, Hashes: hs}}
		if err := tlog.VerifyConsistency(cb, pub); err != nil && !errors.Is(err, tlog.ErrVerification) {
			t.Fatalf("consistency: %v", err)
		}
	})
}
