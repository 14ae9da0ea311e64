package tlog

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/compact"
)

// Config configures a Log. A zero (or negative) limit takes its DefaultConfig value.
type Config struct {
	// Origin names the log in its tree heads; it must stay the same for the life of a log
	// (printable ASCII, no spaces or '+', at most 255 bytes).
	Origin string
	// MaxBodyBytes bounds one entry's body.
	MaxBodyBytes int
	// MaxBatch bounds the number of bodies of one AppendBatch.
	MaxBatch int
	// Now is the clock for integrated times and tree head timestamps; time.Now when nil.
	Now func() time.Time
}

// DefaultConfig returns the defaults: a 64 MiB body (a DSSE envelope of a large SBOM
// statement, base64 and all) and batches of up to 10,000 bodies.
func DefaultConfig() Config {
	return Config{
		Origin:       "stellaops.local/tlog",
		MaxBodyBytes: 64 << 20,
		MaxBatch:     10_000,
	}
}

// Log is a transparency log on a Store, signing tree heads with one Ed25519 key. It is safe for
// concurrent use; several Logs (in several processes) may share one store.
type Log struct {
	store  Store
	signer crypto.Signer
	pub    ed25519.PublicKey
	keyID  string
	cfg    Config
	now    func() time.Time
	rf     *compact.RangeFactory
}

// New returns a Log on store. signer must hold an Ed25519 key (an ed25519.PrivateKey, or a
// KMS/HSM crypto.Signer whose Public is an ed25519.PublicKey); it signs only tree heads.
func New(store Store, signer crypto.Signer, cfg Config) (*Log, error) {
	if store == nil || signer == nil {
		return nil, fmt.Errorf("new log: %w: store and signer are required", ErrInvalid)
	}
	pub, ok := signer.Public().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("new log: %w: signer key is %T, want ed25519.PublicKey", ErrInvalid, signer.Public())
	}
	keyID, err := KeyID(pub)
	if err != nil {
		return nil, fmt.Errorf("new log: %w", err)
	}
	if !validOrigin(cfg.Origin) {
		return nil, fmt.Errorf("new log: %w: origin %.80q (printable ASCII without spaces or '+')", ErrInvalid, cfg.Origin)
	}
	d := DefaultConfig()
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = d.MaxBodyBytes
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = d.MaxBatch
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Log{
		store: store, signer: signer, pub: pub, keyID: keyID, cfg: cfg,
		now: func() time.Time { return Timestamp(now()) },
		rf:  &compact.RangeFactory{Hash: hasher.HashChildren},
	}, nil
}

// PublicKey returns the key verifiers need.
func (l *Log) PublicKey() ed25519.PublicKey { return l.pub }

// KeyID returns the ID of the log's key.
func (l *Log) KeyID() string { return l.keyID }

// Origin returns the log's name.
func (l *Log) Origin() string { return l.cfg.Origin }

// Appended is the result of appending one body.
type Appended struct {
	Entry
	// Duplicate is true when the body was in the log already (or earlier in the same batch):
	// Entry is then the existing entry.
	Duplicate bool
}

// Append appends body, or returns the existing entry when the same bytes were appended before.
// The log compares bytes, not meaning: callers canonicalise bodies (internal/canonjson) so that
// equal content is one entry.
func (l *Log) Append(ctx context.Context, body []byte) (Appended, error) {
	out, err := l.AppendBatch(ctx, [][]byte{body})
	if err != nil {
		return Appended{}, err
	}
	return out[0], nil
}

// AppendBatch appends bodies in order in one transaction (all or none) and returns one result
// per body. All new entries of a batch share one integrated time.
func (l *Log) AppendBatch(ctx context.Context, bodies [][]byte) ([]Appended, error) {
	if len(bodies) == 0 || len(bodies) > l.cfg.MaxBatch {
		return nil, fmt.Errorf("append: %w: %d bodies (1 to %d)", ErrInvalid, len(bodies), l.cfg.MaxBatch)
	}
	leaves := make([]Hash, len(bodies))
	for i, b := range bodies {
		if len(b) == 0 || len(b) > l.cfg.MaxBodyBytes {
			return nil, fmt.Errorf("append: %w: body %d has %d bytes (1 to %d)", ErrInvalid, i, len(b), l.cfg.MaxBodyBytes)
		}
		leaves[i] = LeafHash(b)
	}
	var out []Appended
	err := l.store.Append(ctx, func(ctx context.Context, tx Tx) error {
		out = make([]Appended, len(bodies)) // fresh on every call of fn
		size, err := tx.Size(ctx)
		if err != nil {
			return err
		}
		now := l.now() // read under the lock, so times follow indexes when the clock is monotonic
		existing, err := tx.Lookup(ctx, leaves)
		if err != nil {
			return err
		}
		var (
			rng     *compact.Range
			entries []Entry
			nodes   []Node
			batch   = make(map[Hash]int, len(leaves))
		)
		for i, h := range leaves {
			if err := ctx.Err(); err != nil {
				return err
			}
			if j, ok := batch[h]; ok {
				out[i] = Appended{Entry: out[j].Entry, Duplicate: true}
				continue
			}
			batch[h] = i
			if idx, ok := existing[h]; ok {
				e, err := tx.EntryAt(ctx, idx)
				if err != nil {
					return err
				}
				out[i] = Appended{Entry: e, Duplicate: true}
				continue
			}
			if rng == nil {
				if rng, err = l.border(ctx, tx, size); err != nil {
					return err
				}
			}
			e := Entry{Index: size + uint64(len(entries)), LeafHash: h, Body: bodies[i], IntegratedTime: now}
			err = rng.Append(h[:], func(id compact.NodeID, hash []byte) {
				nodes = append(nodes, Node{ID: id, Hash: hashOf(hash)})
			})
			if err != nil {
				return fmt.Errorf("tree at size %d: %w", rng.End(), err)
			}
			entries = append(entries, e)
			out[i] = Appended{Entry: e}
		}
		if len(entries) == 0 {
			return nil
		}
		return tx.Put(ctx, entries, nodes)
	})
	if err != nil {
		return nil, fmt.Errorf("append: %w", err)
	}
	return out, nil
}

// border loads the compact range [0, size): the hashes of the perfect subtrees on the tree's
// right border, O(log size) of them, which is all an append needs.
func (l *Log) border(ctx context.Context, r Reader, size uint64) (*compact.Range, error) {
	ids := compact.RangeNodes(0, size, nil)
	hs, err := l.hashes(ctx, r, ids)
	if err != nil {
		return nil, err
	}
	return l.rf.NewRange(0, size, hs)
}

// hashes reads nodes as the merkle package wants them.
func (l *Log) hashes(ctx context.Context, r Reader, ids []compact.NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return [][]byte{}, nil
	}
	hs, err := r.Hashes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("tree nodes: %w", err)
	}
	if len(hs) != len(ids) {
		return nil, fmt.Errorf("tree nodes: store returned %d hashes for %d nodes", len(hs), len(ids))
	}
	return byteSlices(hs), nil
}

// Size returns the number of entries.
func (l *Log) Size(ctx context.Context) (uint64, error) {
	n, err := l.store.Size(ctx)
	if err != nil {
		return 0, fmt.Errorf("log size: %w", err)
	}
	return n, nil
}

// Entry returns the entry with ID id (see EntryID), or ErrNotFound.
func (l *Log) Entry(ctx context.Context, id string) (Entry, error) {
	h, err := ParseHash(id)
	if err != nil {
		return Entry{}, fmt.Errorf("entry: %w", err)
	}
	e, err := l.store.EntryByHash(ctx, h)
	if err != nil {
		return Entry{}, fmt.Errorf("entry %s: %w", id, err)
	}
	return e, nil
}

// EntryAt returns the entry at index, or ErrNotFound.
func (l *Log) EntryAt(ctx context.Context, index uint64) (Entry, error) {
	e, err := l.store.EntryAt(ctx, index)
	if err != nil {
		return Entry{}, fmt.Errorf("entry %d: %w", index, err)
	}
	return e, nil
}
