package tlogtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/transparency-dev/merkle/compact"

	"github.com/stellaops/stellaops/internal/tlog"
)

// MemStore is an in-memory tlog.Store for tests of code that uses a log. Closing it keeps its
// data, so "reopening" is using it again.
type MemStore struct {
	lock sync.Mutex // the append lock, held for a whole Append

	mu      sync.RWMutex // guards what follows
	entries []tlog.Entry
	byHash  map[tlog.Hash]uint64
	nodes   map[compact.NodeID]tlog.Hash
	heads   map[string]map[uint64]tlog.SignedTreeHead
}

var _ tlog.Store = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{
		byHash: map[tlog.Hash]uint64{},
		nodes:  map[compact.NodeID]tlog.Hash{},
		heads:  map[string]map[uint64]tlog.SignedTreeHead{},
	}
}

// Size implements tlog.Reader.
func (s *MemStore) Size(ctx context.Context) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return uint64(len(s.entries)), ctx.Err()
}

// EntryAt implements tlog.Reader.
func (s *MemStore) EntryAt(ctx context.Context, index uint64) (tlog.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if index >= uint64(len(s.entries)) {
		return tlog.Entry{}, fmt.Errorf("entry %d: %w", index, tlog.ErrNotFound)
	}
	return cloneEntry(s.entries[index]), ctx.Err()
}

// EntryByHash implements tlog.Reader.
func (s *MemStore) EntryByHash(ctx context.Context, h tlog.Hash) (tlog.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.byHash[h]
	if !ok {
		return tlog.Entry{}, fmt.Errorf("entry %s: %w", h, tlog.ErrNotFound)
	}
	return cloneEntry(s.entries[i]), ctx.Err()
}

// Lookup implements tlog.Reader.
func (s *MemStore) Lookup(ctx context.Context, hashes []tlog.Hash) (map[tlog.Hash]uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[tlog.Hash]uint64{}
	for _, h := range hashes {
		if i, ok := s.byHash[h]; ok {
			out[h] = i
		}
	}
	return out, ctx.Err()
}

// Hashes implements tlog.Reader.
func (s *MemStore) Hashes(ctx context.Context, ids []compact.NodeID) ([]tlog.Hash, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]tlog.Hash, len(ids))
	for i, id := range ids {
		h, ok := s.nodes[id]
		if !ok {
			return nil, fmt.Errorf("node (%d, %d): %w", id.Level, id.Index, tlog.ErrNotFound)
		}
		out[i] = h
	}
	return out, ctx.Err()
}

// Append implements tlog.Store: writes are buffered and applied only when fn succeeds.
func (s *MemStore) Append(ctx context.Context, fn func(context.Context, tlog.Tx) error) error {
	s.lock.Lock()
	defer s.lock.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	t := &memTx{MemStore: s}
	if err := fn(ctx, t); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range t.entries {
		s.byHash[e.LeafHash] = e.Index
		s.entries = append(s.entries, e)
	}
	for _, n := range t.nodes {
		s.nodes[n.ID] = n.Hash
	}
	return nil
}

type memTx struct {
	*MemStore
	entries []tlog.Entry
	nodes   []tlog.Node
}

func (t *memTx) Put(ctx context.Context, entries []tlog.Entry, nodes []tlog.Node) error {
	if t.entries != nil {
		return errors.New("put: called twice in one transaction")
	}
	size, _ := t.Size(ctx)
	for i, e := range entries {
		if e.Index != size+uint64(i) {
			return fmt.Errorf("put: entry %d has index %d, want %d", i, e.Index, size+uint64(i))
		}
		if _, err := t.EntryByHash(ctx, e.LeafHash); err == nil {
			return fmt.Errorf("put: entry %s exists", e.LeafHash)
		}
		t.entries = append(t.entries, cloneEntry(e))
	}
	t.nodes = slices.Clone(nodes)
	return ctx.Err()
}

// PutTreeHead implements tlog.Store.
func (s *MemStore) PutTreeHead(ctx context.Context, sth tlog.SignedTreeHead) (tlog.SignedTreeHead, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byKey := s.heads[sth.KeyID]
	if byKey == nil {
		byKey = map[uint64]tlog.SignedTreeHead{}
		s.heads[sth.KeyID] = byKey
	}
	if old, ok := byKey[sth.TreeSize]; ok {
		return cloneHead(old), ctx.Err()
	}
	sth = cloneHead(sth)
	sth.Timestamp = tlog.Timestamp(sth.Timestamp)
	byKey[sth.TreeSize] = sth
	return cloneHead(sth), ctx.Err()
}

// LatestTreeHead implements tlog.Store.
func (s *MemStore) LatestTreeHead(ctx context.Context, keyID string) (tlog.SignedTreeHead, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var (
		best  tlog.SignedTreeHead
		found bool
	)
	for size, sth := range s.heads[keyID] {
		if !found || size > best.TreeSize {
			best, found = sth, true
		}
	}
	if !found {
		return tlog.SignedTreeHead{}, fmt.Errorf("latest tree head: %w", tlog.ErrNotFound)
	}
	return cloneHead(best), ctx.Err()
}

// TreeHeadAt implements tlog.Store.
func (s *MemStore) TreeHeadAt(ctx context.Context, size uint64, keyID string) (tlog.SignedTreeHead, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sth, ok := s.heads[keyID][size]
	if !ok {
		return tlog.SignedTreeHead{}, fmt.Errorf("tree head %d: %w", size, tlog.ErrNotFound)
	}
	return cloneHead(sth), ctx.Err()
}

// Close implements tlog.Store; the data stays.
func (s *MemStore) Close() error { return nil }

func cloneEntry(e tlog.Entry) tlog.Entry {
	e.Body = slices.Clone(e.Body)
	e.IntegratedTime = tlog.Timestamp(e.IntegratedTime)
	return e
}

func cloneHead(sth tlog.SignedTreeHead) tlog.SignedTreeHead {
	sth.Signature = slices.Clone(sth.Signature)
	return sth
}
