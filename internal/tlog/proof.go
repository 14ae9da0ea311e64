package tlog

import (
	"context"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
)

// MaxProofHashes bounds the hashes of any proof in a tree of up to 2^63 entries (an inclusion
// proof has at most 63, a consistency proof at most 64); decoders refuse longer lists.
const MaxProofHashes = 64

// InclusionProof shows that the entry at LogIndex is in the tree of TreeSize entries: the
// RFC 6962 audit path, from the leaf's sibling up.
type InclusionProof struct {
	LogIndex uint64 `json:"logIndex"`
	TreeSize uint64 `json:"treeSize"`
	Hashes   []Hash `json:"hashes"`
}

// ConsistencyProof shows that the tree of NewSize entries extends the tree of OldSize entries:
// the RFC 6962 consistency proof.
type ConsistencyProof struct {
	OldSize uint64 `json:"oldSize"`
	NewSize uint64 `json:"newSize"`
	Hashes  []Hash `json:"hashes"`
}

// checkSize returns ErrNotFound when size is beyond the log.
func (l *Log) checkSize(ctx context.Context, size uint64) error {
	n, err := l.store.Size(ctx)
	if err != nil {
		return err
	}
	if size > n {
		return fmt.Errorf("%w: tree size %d beyond the log's %d", ErrNotFound, size, n)
	}
	return nil
}

// Root returns the root hash of the tree of the first size entries (EmptyRoot for 0).
func (l *Log) Root(ctx context.Context, size uint64) (Hash, error) {
	if err := l.checkSize(ctx, size); err != nil {
		return Hash{}, fmt.Errorf("root at %d: %w", size, err)
	}
	root, err := l.root(ctx, l.store, size)
	if err != nil {
		return Hash{}, fmt.Errorf("root at %d: %w", size, err)
	}
	return root, nil
}

func (l *Log) root(ctx context.Context, r Reader, size uint64) (Hash, error) {
	if size == 0 {
		return EmptyRoot(), nil
	}
	rng, err := l.border(ctx, r, size)
	if err != nil {
		return Hash{}, err
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return Hash{}, err
	}
	return hashOf(root), nil
}

// InclusionProof proves the entry at index is in the tree of size entries.
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) (InclusionProof, error) {
	p, err := l.inclusionProof(ctx, index, size)
	if err != nil {
		return InclusionProof{}, fmt.Errorf("inclusion proof of %d at %d: %w", index, size, err)
	}
	return p, nil
}

func (l *Log) inclusionProof(ctx context.Context, index, size uint64) (InclusionProof, error) {
	if index >= size {
		return InclusionProof{}, fmt.Errorf("%w: index %d not below tree size %d", ErrInvalid, index, size)
	}
	if err := l.checkSize(ctx, size); err != nil {
		return InclusionProof{}, err
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return InclusionProof{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	hs, err := l.rehash(ctx, nodes)
	if err != nil {
		return InclusionProof{}, err
	}
	return InclusionProof{LogIndex: index, TreeSize: size, Hashes: hs}, nil
}

// ConsistencyProof proves that the tree of newSize entries extends the tree of oldSize.
func (l *Log) ConsistencyProof(ctx context.Context, oldSize, newSize uint64) (ConsistencyProof, error) {
	p, err := l.consistencyProof(ctx, oldSize, newSize)
	if err != nil {
		return ConsistencyProof{}, fmt.Errorf("consistency proof %d to %d: %w", oldSize, newSize, err)
	}
	return p, nil
}

func (l *Log) consistencyProof(ctx context.Context, oldSize, newSize uint64) (ConsistencyProof, error) {
	if oldSize > newSize {
		return ConsistencyProof{}, fmt.Errorf("%w: old size %d above new size %d", ErrInvalid, oldSize, newSize)
	}
	if err := l.checkSize(ctx, newSize); err != nil {
		return ConsistencyProof{}, err
	}
	nodes, err := proof.Consistency(oldSize, newSize)
	if err != nil {
		return ConsistencyProof{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	hs, err := l.rehash(ctx, nodes)
	if err != nil {
		return ConsistencyProof{}, err
	}
	return ConsistencyProof{OldSize: oldSize, NewSize: newSize, Hashes: hs}, nil
}

// rehash reads the stored nodes a proof needs (all perfect subtrees, one query) and folds the
// ones under the proof's ephemeral node into it.
func (l *Log) rehash(ctx context.Context, nodes proof.Nodes) ([]Hash, error) {
	raw, err := l.hashes(ctx, l.store, nodes.IDs)
	if err != nil {
		return nil, err
	}
	folded, err := nodes.Rehash(raw, hasher.HashChildren)
	if err != nil {
		return nil, err
	}
	out := make([]Hash, len(folded))
	for i, h := range folded {
		out[i] = hashOf(h)
	}
	return out, nil
}
