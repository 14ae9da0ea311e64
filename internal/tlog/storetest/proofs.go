package storetest

import (
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/stellaops/stellaops/internal/tlog"
	"github.com/stellaops/stellaops/internal/tlog/tlogtest"
)

// testRoots appends one entry at a time and checks the root at every size so far against
// the reference, so each node written by every append shape is read back.
func testRoots(t *testing.T, e *env) {
	ctx := context.Background()
	var leaves []tlog.Hash
	if root, err := e.log.Root(ctx, 0); err != nil || root != tlogtest.RefRoot(nil) {
		t.Errorf("root of the empty log: %s, %v", root, err)
	}
	for n := 1; n <= 40; n++ {
		leaves = append(leaves, e.appendN(t, n-1, n)...)
		for size := 0; size <= n; size++ {
			root, err := e.log.Root(ctx, uint64(size))
			if err != nil {
				t.Fatalf("root at %d of %d: %v", size, n, err)
			}
			if want := tlogtest.RefRoot(leaves[:size]); root != want {
				t.Fatalf("root at %d of %d: %s, want %s", size, n, root, want)
			}
		}
	}
}

func testInclusion(t *testing.T, e *env) {
	ctx := context.Background()
	const n = 33
	leaves := e.appendN(t, 0, n)
	for size := 1; size <= n; size++ {
		root := tlogtest.RefRoot(leaves[:size])
		for index := range size {
			p, err := e.log.InclusionProof(ctx, uint64(index), uint64(size))
			if err != nil {
				t.Fatalf("inclusion %d at %d: %v", index, size, err)
			}
			if diff := cmp.Diff(tlogtest.RefPath(index, leaves[:size]), p.Hashes); diff != "" {
				t.Fatalf("inclusion %d at %d: not the RFC 6962 PATH (-want +got):\n%s", index, size, diff)
			}
			if p.LogIndex != uint64(index) || p.TreeSize != uint64(size) {
				t.Fatalf("inclusion %d at %d: proof says %d at %d", index, size, p.LogIndex, p.TreeSize)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.LogIndex, p.TreeSize, leaves[index][:], raw(p.Hashes), root[:]); err != nil {
				t.Fatalf("inclusion %d at %d does not verify: %v", index, size, err)
			}
		}
	}
}

func testConsistency(t *testing.T, e *env) {
	ctx := context.Background()
	const n = 33
	leaves := e.appendN(t, 0, n)
	for newSize := 0; newSize <= n; newSize++ {
		for oldSize := 0; oldSize <= newSize; oldSize++ {
			p, err := e.log.ConsistencyProof(ctx, uint64(oldSize), uint64(newSize))
			if err != nil {
				t.Fatalf("consistency %d to %d: %v", oldSize, newSize, err)
			}
			if diff := cmp.Diff(tlogtest.RefProof(oldSize, leaves[:newSize]), p.Hashes); diff != "" {
				t.Fatalf("consistency %d to %d: not the RFC 6962 PROOF (-want +got):\n%s", oldSize, newSize, diff)
			}
			r1, r2 := tlogtest.RefRoot(leaves[:oldSize]), tlogtest.RefRoot(leaves[:newSize])
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, p.OldSize, p.NewSize, raw(p.Hashes), r1[:], r2[:]); err != nil {
				t.Fatalf("consistency %d to %d does not verify: %v", oldSize, newSize, err)
			}
		}
	}
}

func raw(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

func testTreeHeads(t *testing.T, e *env) {
	ctx := context.Background()
	pub := Key().Public().(ed25519.PublicKey)
	empty, err := e.log.SignTreeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if empty.TreeSize != 0 || empty.RootHash != tlogtest.RefRoot(nil) || !empty.Timestamp.Equal(tlog.Timestamp(e.clock.Now())) {
		t.Errorf("empty tree head: %+v", empty)
	}
	if err := tlog.VerifyTreeHead(empty, pub); err != nil {
		t.Errorf("empty tree head: %v", err)
	}
	leaves := e.appendN(t, 0, 6)
	e.clock.Advance(time.Minute)
	sth, err := e.log.SignTreeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sth.TreeSize != 6 || sth.RootHash != tlogtest.RefRoot(leaves) || sth.KeyID != e.log.KeyID() ||
		sth.Origin != e.log.Origin() || !sth.Timestamp.Equal(tlog.Timestamp(e.clock.Now())) {
		t.Errorf("tree head at 6: %+v", sth)
	}
	if err := tlog.VerifyTreeHead(sth, pub); err != nil {
		t.Error(err)
	}
	// Signing the same size again returns the stored head, not a new signature.
	e.clock.Advance(time.Minute)
	again, err := e.log.SignTreeHead(ctx)
	if err != nil || !headEqual(again, sth) {
		t.Errorf("second signature at the same size: %+v, %v; want the stored %+v", again, err, sth)
	}
	// Another Log on the same store (another process) agrees.
	other := e.newLog(t, e.s)
	if got, err := other.SignTreeHead(ctx); err != nil || !headEqual(got, sth) {
		t.Errorf("second log instance: %+v, %v", got, err)
	}
	for size, want := range map[uint64]tlog.SignedTreeHead{0: empty, 6: sth} {
		if got, err := e.log.TreeHeadAt(ctx, size); err != nil || !headEqual(got, want) {
			t.Errorf("TreeHeadAt(%d) = %+v, %v", size, got, err)
		}
	}
	if got, err := e.log.LatestTreeHead(ctx); err != nil || !headEqual(got, sth) {
		t.Errorf("LatestTreeHead = %+v, %v", got, err)
	}
	// PutTreeHead never replaces: a different head for a stored (size, key) gives the stored one.
	forged := sth
	forged.Timestamp = forged.Timestamp.Add(time.Hour)
	if got, err := e.s.PutTreeHead(ctx, forged); err != nil || !headEqual(got, sth) {
		t.Errorf("PutTreeHead over a stored head: %+v, %v; want the stored one", got, err)
	}
}

func testBundles(t *testing.T, e *env) {
	ctx := context.Background()
	pub := Key().Public().(ed25519.PublicKey)
	e.appendN(t, 0, 11)
	for i := range 11 {
		b, err := e.log.Bundle(ctx, tlog.EntryID(body(i)))
		if err != nil {
			t.Fatal(err)
		}
		if b.TreeHead.TreeSize != 11 {
			t.Errorf("bundle %d: tree head of %d, want the current 11", i, b.TreeHead.TreeSize)
		}
		enc, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		dec, err := tlog.DecodeBundle(enc)
		if err != nil {
			t.Fatalf("bundle %d does not decode: %v\n%s", i, err, enc)
		}
		if err := tlog.VerifyInclusion(dec, pub); err != nil {
			t.Errorf("bundle %d: %v", i, err)
		}
	}
	// After an append, a bundle comes with a head for the new size.
	e.clock.Advance(time.Minute)
	e.appendN(t, 11, 12)
	b, err := e.log.Bundle(ctx, tlog.EntryID(body(11)))
	if err != nil || b.TreeHead.TreeSize != 12 {
		t.Fatalf("bundle of a new entry: tree size %d, %v", b.TreeHead.TreeSize, err)
	}
	if err := tlog.VerifyInclusion(b, pub); err != nil {
		t.Error(err)
	}
	// The log is consistent from 11 to 12, and from 0 (never signed here) is not served.
	cb, err := e.log.ConsistencyBundle(ctx, 11)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := cb.Encode()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := tlog.DecodeConsistencyBundle(enc)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.VerifyConsistency(dec, pub); err != nil {
		t.Error(err)
	}
	if dec.Old.TreeSize != 11 || dec.New.TreeSize != 12 {
		t.Errorf("consistency bundle between %d and %d, want 11 and 12", dec.Old.TreeSize, dec.New.TreeSize)
	}
}

// testLarger builds a tree deep enough for high-level nodes (3,000 entries in batches) and
// checks the root and random proofs against the reference.
func testLarger(t *testing.T, e *env) {
	ctx := context.Background()
	const n = 3000
	leaves := appendBatches(t, e.log, 0, n, 250)
	root, err := e.log.Root(ctx, n)
	if err != nil || root != tlogtest.RefRoot(leaves) {
		t.Fatalf("root of %d: %s, %v; want %s", n, root, err, tlogtest.RefRoot(leaves))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		size := 1 + rng.IntN(n)
		index := rng.IntN(size)
		p, err := e.log.InclusionProof(ctx, uint64(index), uint64(size))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tlogtest.RefPath(index, leaves[:size]), p.Hashes); diff != "" {
			t.Fatalf("inclusion %d at %d (-want +got):\n%s", index, size, diff)
		}
		old := rng.IntN(size + 1)
		c, err := e.log.ConsistencyProof(ctx, uint64(old), uint64(size))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tlogtest.RefProof(old, leaves[:size]), c.Hashes); diff != "" {
			t.Fatalf("consistency %d to %d (-want +got):\n%s", old, size, diff)
		}
	}
}
