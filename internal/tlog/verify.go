package tlog

import (
	"crypto/ed25519"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
)

// VerifyInclusion checks a bundle offline with the log's public key: the tree head's key ID
// and signature, that the entry ID is the body's leaf hash, that the proof is for the entry's
// index and the tree head's size, and that the audit path leads from the leaf to the signed
// root. Any failure wraps ErrVerification.
func VerifyInclusion(b Bundle, pub ed25519.PublicKey) error {
	if err := VerifyTreeHead(b.TreeHead, pub); err != nil {
		return err
	}
	leaf := LeafHash(b.Entry.Body)
	p := b.InclusionProof
	switch {
	case leaf != b.Entry.LeafHash:
		return fmt.Errorf("%w: entry id %s is not the body's leaf hash %s", ErrVerification, b.Entry.LeafHash, leaf)
	case p.LogIndex != b.Entry.Index:
		return fmt.Errorf("%w: proof for index %d, entry at %d", ErrVerification, p.LogIndex, b.Entry.Index)
	case p.TreeSize != b.TreeHead.TreeSize:
		return fmt.Errorf("%w: proof for tree size %d, tree head of %d", ErrVerification, p.TreeSize, b.TreeHead.TreeSize)
	case len(p.Hashes) > MaxProofHashes:
		return fmt.Errorf("%w: proof of %d hashes", ErrVerification, len(p.Hashes))
	}
	root := b.TreeHead.RootHash
	if err := proof.VerifyInclusion(hasher, p.LogIndex, p.TreeSize, leaf[:], byteSlices(p.Hashes), root[:]); err != nil {
		return fmt.Errorf("%w: inclusion of entry %d in tree of %d: %w", ErrVerification, p.LogIndex, p.TreeSize, err)
	}
	return nil
}

// VerifyConsistency checks a consistency bundle offline with the log's public key: both tree
// heads' signatures, that the proof is between their sizes, and that it shows the newer tree
// extends the older one. A verifier that trusts an earlier head should also check that b.Old
// is that head. Any failure wraps ErrVerification.
func VerifyConsistency(b ConsistencyBundle, pub ed25519.PublicKey) error {
	if err := VerifyTreeHead(b.Old, pub); err != nil {
		return fmt.Errorf("old tree head: %w", err)
	}
	if err := VerifyTreeHead(b.New, pub); err != nil {
		return fmt.Errorf("new tree head: %w", err)
	}
	p := b.Proof
	switch {
	case b.Old.Origin != b.New.Origin:
		return fmt.Errorf("%w: tree heads of two logs (%q, %q)", ErrVerification, b.Old.Origin, b.New.Origin)
	case p.OldSize != b.Old.TreeSize || p.NewSize != b.New.TreeSize:
		return fmt.Errorf("%w: proof %d to %d for tree heads of %d and %d", ErrVerification, p.OldSize, p.NewSize, b.Old.TreeSize, b.New.TreeSize)
	case p.OldSize > p.NewSize:
		return fmt.Errorf("%w: old tree size %d above new %d", ErrVerification, p.OldSize, p.NewSize)
	case len(p.Hashes) > MaxProofHashes:
		return fmt.Errorf("%w: proof of %d hashes", ErrVerification, len(p.Hashes))
	}
	r1, r2 := b.Old.RootHash, b.New.RootHash
	if err := proof.VerifyConsistency(hasher, p.OldSize, p.NewSize, byteSlices(p.Hashes), r1[:], r2[:]); err != nil {
		return fmt.Errorf("%w: consistency %d to %d: %w", ErrVerification, p.OldSize, p.NewSize, err)
	}
	return nil
}
