// Package tlogtest holds test helpers for code that uses the transparency log: an in-memory
// Store, a settable clock, and a reference RFC 6962 implementation written straight from the
// RFC's recursive definitions (no compact ranges, no stored nodes), against which the log's
// roots and proofs are checked. None of it is for production use.
package tlogtest

import (
	"crypto/sha256"
	"math/bits"
	"sync"
	"time"

	"github.com/stellaops/stellaops/internal/tlog"
)

// Clock is a settable fake clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// RefLeaf is RFC 6962's leaf hash, SHA-256(0x00 || data), computed here without the tlog or
// merkle packages.
func RefLeaf(data []byte) tlog.Hash {
	return sha256.Sum256(append([]byte{0}, data...))
}

func refNode(l, r tlog.Hash) tlog.Hash {
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// split is k, the largest power of two smaller than n (n > 1).
func split(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// RefRoot is MTH(D[n]) of RFC 6962 §2.1 over leaf hashes.
func RefRoot(leaves []tlog.Hash) tlog.Hash {
	switch n := len(leaves); n {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	default:
		k := split(n)
		return refNode(RefRoot(leaves[:k]), RefRoot(leaves[k:]))
	}
}

// RefPath is PATH(m, D[n]) of RFC 6962 §2.1.1: the audit path of leaf m.
func RefPath(m int, leaves []tlog.Hash) []tlog.Hash {
	n := len(leaves)
	if n <= 1 {
		return []tlog.Hash{}
	}
	k := split(n)
	if m < k {
		return append(RefPath(m, leaves[:k]), RefRoot(leaves[k:]))
	}
	return append(RefPath(m-k, leaves[k:]), RefRoot(leaves[:k]))
}

// RefProof is PROOF(m, D[n]) of RFC 6962 §2.1.2: the consistency proof from size m to
// len(leaves). It is empty for m == 0 and m == n.
func RefProof(m int, leaves []tlog.Hash) []tlog.Hash {
	if m == 0 {
		return []tlog.Hash{}
	}
	return refSubproof(m, leaves, true)
}

func refSubproof(m int, leaves []tlog.Hash, whole bool) []tlog.Hash {
	n := len(leaves)
	if m == n {
		if whole {
			return []tlog.Hash{}
		}
		return []tlog.Hash{RefRoot(leaves)}
	}
	k := split(n)
	if m <= k {
		return append(refSubproof(m, leaves[:k], whole), RefRoot(leaves[k:]))
	}
	return append(refSubproof(m-k, leaves[k:], false), RefRoot(leaves[:k]))
}
