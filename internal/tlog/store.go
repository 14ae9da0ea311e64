package tlog

import (
	"context"
	"errors"
	"time"

	"github.com/transparency-dev/merkle/compact"
)

// Sentinel errors, compared with errors.Is.
var (
	// ErrNotFound: no such entry, node or tree head, or a tree size beyond the log.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: a malformed request (empty or oversized body, an index outside the tree, a
	// hash that is not 64 lowercase hex digits).
	ErrInvalid = errors.New("invalid")
	// ErrVerification: an offline check failed (signature, key, leaf or proof); the wrapping
	// error says which.
	ErrVerification = errors.New("verification failed")
)

// Entry is one log entry. Times are UTC with microsecond precision on every backend.
type Entry struct {
	// Index is the entry's position in the log, from 0, without gaps.
	Index uint64 `json:"logIndex"`
	// LeafHash is RFC 6962's SHA-256(0x00 || Body); its hex form is the entry ID.
	LeafHash Hash `json:"id"`
	// Body is the entry as submitted (canonical bytes, e.g. a DSSE envelope).
	Body []byte `json:"body"`
	// IntegratedTime is the log's clock when the entry was appended. The Merkle tree does not
	// cover it: a verifier learns only that the entry existed at the signing time of any tree
	// head that includes it.
	IntegratedTime time.Time `json:"integratedTime"`
}

// ID returns the entry ID: the lowercase hex of LeafHash.
func (e Entry) ID() string { return e.LeafHash.String() }

// Node is the hash of one perfect subtree, addressed as in RFC 6962 / compact ranges: level 0
// holds leaf hashes, and node (level, index) covers leaves [index<<level, (index+1)<<level).
type Node struct {
	ID   compact.NodeID
	Hash Hash
}

// Reader reads committed log state. Methods are safe for concurrent use.
type Reader interface {
	// Size returns the number of entries.
	Size(ctx context.Context) (uint64, error)
	// EntryAt returns the entry at index, or ErrNotFound.
	EntryAt(ctx context.Context, index uint64) (Entry, error)
	// EntryByHash returns the entry whose leaf hash is h, or ErrNotFound.
	EntryByHash(ctx context.Context, h Hash) (Entry, error)
	// Lookup returns the indexes of those of hashes that are leaf hashes of entries (one query
	// for a whole batch: appends check every body for a duplicate).
	Lookup(ctx context.Context, hashes []Hash) (map[Hash]uint64, error)
	// Hashes returns the stored hashes of the nodes ids, in the order given, or ErrNotFound
	// when any of them is not stored (it is not a complete subtree of the log yet). ids holds
	// at most a few hundred nodes.
	Hashes(ctx context.Context, ids []compact.NodeID) ([]Hash, error)
}

// Tx is an append transaction: reads see the committed log as of the lock and nothing else
// can append until it ends.
type Tx interface {
	Reader
	// Put stores entries and nodes; it is called at most once per transaction, after its
	// reads. Entries carry consecutive indexes starting at the current size (a store refuses
	// anything else, so the log stays dense), nodes every perfect subtree they complete
	// (level 0 included).
	Put(ctx context.Context, entries []Entry, nodes []Node) error
}

// Store is the log's persistence. Everything it holds is append-only: backends refuse updates
// and deletes. Implementations are safe for concurrent use, also from several processes
// sharing one database.
type Store interface {
	Reader
	// Append runs fn in a write transaction that holds the log's append lock, so appends are
	// serialised across goroutines and processes, and commits when fn returns nil. When fn
	// fails (or ctx ends) nothing of it is stored.
	Append(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// PutTreeHead stores a signed tree head unless one for the same tree size and key ID is
	// stored already, and returns the stored one: concurrent signers of one size agree.
	PutTreeHead(ctx context.Context, sth SignedTreeHead) (SignedTreeHead, error)
	// LatestTreeHead returns the stored tree head of keyID with the largest tree size, or
	// ErrNotFound.
	LatestTreeHead(ctx context.Context, keyID string) (SignedTreeHead, error)
	// TreeHeadAt returns the stored tree head of keyID for size, or ErrNotFound.
	TreeHeadAt(ctx context.Context, size uint64, keyID string) (SignedTreeHead, error)
	// Close releases the store's connections.
	Close() error
}

// Timestamp normalises t to the stored precision: UTC, truncated to microseconds.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
