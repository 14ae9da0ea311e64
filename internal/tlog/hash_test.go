package tlog_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/tlog"
)

// Hand-made RFC 6962 hashes: MTH({d}) = SHA-256(0x00 || d), and an interior node is
// SHA-256(0x01 || left || right). Nothing here uses the tlog or merkle packages.
func leaf(d []byte) tlog.Hash { return sha256.Sum256(append([]byte{0x00}, d...)) }

func node(l, r tlog.Hash) tlog.Hash {
	return sha256.Sum256(append(append([]byte{0x01}, l[:]...), r[:]...))
}

func mustHex(t *testing.T, s string) tlog.Hash {
	t.Helper()
	h, err := tlog.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestKnownAnswerHashes checks the hash functions against roots written out by hand from the
// definition for the CT test leaves, and those against the published CT vector values.
func TestKnownAnswerHashes(t *testing.T) {
	L := make([]tlog.Hash, len(ctLeaves))
	for i, d := range ctLeaves {
		L[i] = leaf(d)
		if got := tlog.LeafHash(d); got != L[i] {
			t.Errorf("LeafHash(%x) = %s, want %s", d, got, L[i])
		}
	}
	if got := tlog.NodeHash(L[0], L[1]); got != node(L[0], L[1]) {
		t.Errorf("NodeHash = %s, want %s", got, node(L[0], L[1]))
	}
	n01, n23, n45 := node(L[0], L[1]), node(L[2], L[3]), node(L[4], L[5])
	n0123 := node(n01, n23)
	byHand := []struct {
		root tlog.Hash
		want string // the CT test vector
	}{
		{tlog.EmptyRoot(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{L[0], "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"},
		{n01, "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"},
		{node(n01, L[2]), "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"},
		{n0123, "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"},
		{node(n0123, L[4]), "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"},
		{node(n0123, n45), "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"},
		{node(n0123, node(n45, L[6])), "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"},
		{node(n0123, node(n45, node(L[6], L[7]))), "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"},
	}
	for size, c := range byHand {
		if c.root != mustHex(t, c.want) {
			t.Errorf("tree of %d: hand-computed root %s, CT vector %s", size, c.root, c.want)
		}
	}
	if got := tlog.EntryID([]byte{0x10}); got != "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7" {
		t.Errorf("EntryID(10) = %s", got)
	}
}

// TestKnownAnswerLog builds a log of the seven non-empty CT leaves (the log refuses empty
// bodies) and checks roots and proofs against trees written out by hand.
func TestKnownAnswerLog(t *testing.T) {
	ctx := context.Background()
	d := ctLeaves[1:]
	L := make([]tlog.Hash, len(d))
	for i := range d {
		L[i] = leaf(d[i])
	}
	n01, n23, n45 := node(L[0], L[1]), node(L[2], L[3]), node(L[4], L[5])
	n0123 := node(n01, n23)
	roots := []tlog.Hash{
		tlog.EmptyRoot(),
		L[0],
		n01,
		node(n01, L[2]),
		n0123,
		node(n0123, L[4]),
		node(n0123, n45),
		node(n0123, node(n45, L[6])),
	}
	l, _ := newLog(t)
	appendAll(t, l, d)
	for size, want := range roots {
		if got, err := l.Root(ctx, uint64(size)); err != nil || got != want {
			t.Errorf("root at %d: %s, %v; want %s", size, got, err, want)
		}
	}
	// The audit path of leaf 2 in the tree of 7: its sibling, the left half of [0, 4), then
	// the root of the right subtree [4, 7).
	p, err := l.InclusionProof(ctx, 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]tlog.Hash{L[3], n01, node(n45, L[6])}, p.Hashes); diff != "" {
		t.Errorf("inclusion of 2 at 7 (-want +got):\n%s", diff)
	}
	// RFC 6962 PROOF(3, D[7]) = SUBPROOF(3, D[0:4], true) : MTH(D[4:7])
	//                        = L2 : L3 : MTH(D[0:2]) : MTH(D[4:7]).
	c, err := l.ConsistencyProof(ctx, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]tlog.Hash{L[2], L[3], n01, node(n45, L[6])}, c.Hashes); diff != "" {
		t.Errorf("consistency 3 to 7 (-want +got):\n%s", diff)
	}
	// From a power of two the old root is not repeated: PROOF(4, D[7]) = MTH(D[4:7]).
	c, err = l.ConsistencyProof(ctx, 4, 7)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]tlog.Hash{node(n45, L[6])}, c.Hashes); diff != "" {
		t.Errorf("consistency 4 to 7 (-want +got):\n%s", diff)
	}
}

func TestParseHash(t *testing.T) {
	good := "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"
	h, err := tlog.ParseHash(good)
	if err != nil || h.String() != good {
		t.Fatalf("ParseHash(%s) = %s, %v", good, h, err)
	}
	raw, _ := hex.DecodeString(good)
	if !cmp.Equal(h[:], raw) {
		t.Errorf("bytes %x, want %x", h[:], raw)
	}
	for _, bad := range []string{
		"",
		good[:63],
		good + "0",
		"0298D122906DCFC10892CB53A73992FC5B9F493EA4C9BADB27B791B4127A7FE7", // one spelling only
		"g298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
		"sha256:0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7f",
	} {
		if _, err := tlog.ParseHash(bad); !errors.Is(err, tlog.ErrInvalid) {
			t.Errorf("ParseHash(%q): %v, want ErrInvalid", bad, err)
		}
	}
}
