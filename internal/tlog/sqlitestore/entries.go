package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/transparency-dev/merkle/compact"

	"github.com/stellaops/stellaops/internal/tlog"
)

// querier is what reads need: the read pool outside a transaction, the transaction inside one.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader implements tlog.Reader on q.
type reader struct{ q querier }

// Size implements tlog.Reader.
func (s *Store) Size(ctx context.Context) (uint64, error) { return reader{s.r}.Size(ctx) }

// EntryAt implements tlog.Reader.
func (s *Store) EntryAt(ctx context.Context, index uint64) (tlog.Entry, error) {
	return reader{s.r}.EntryAt(ctx, index)
}

// EntryByHash implements tlog.Reader.
func (s *Store) EntryByHash(ctx context.Context, h tlog.Hash) (tlog.Entry, error) {
	return reader{s.r}.EntryByHash(ctx, h)
}

// Lookup implements tlog.Reader.
func (s *Store) Lookup(ctx context.Context, hashes []tlog.Hash) (map[tlog.Hash]uint64, error) {
	return reader{s.r}.Lookup(ctx, hashes)
}

// Hashes implements tlog.Reader.
func (s *Store) Hashes(ctx context.Context, ids []compact.NodeID) ([]tlog.Hash, error) {
	return reader{s.r}.Hashes(ctx, ids)
}

func (r reader) Size(ctx context.Context) (uint64, error) {
	var n int64
	if err := r.q.QueryRowContext(ctx, sizeQuery).Scan(&n); err != nil {
		return 0, fmt.Errorf("size: %w", err)
	}
	return uint64(n), nil
}

// sizeQuery reads the log size: MAX over the rowid is one index probe, count(*) a table scan.
const sizeQuery = `SELECT coalesce(max(log_index) + 1, 0) FROM tlog_entries`

const entryCols = `log_index, leaf_hash, body, integrated_time`

func scanEntry(row *sql.Row) (tlog.Entry, error) {
	var (
		e    tlog.Entry
		idx  int64
		leaf []byte
		at   int64
	)
	if err := row.Scan(&idx, &leaf, &e.Body, &at); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return e, tlog.ErrNotFound
		}
		return e, err
	}
	if len(leaf) != tlog.HashSize {
		return e, fmt.Errorf("entry %d: stored leaf hash of %d bytes", idx, len(leaf))
	}
	e.Index, e.IntegratedTime = uint64(idx), fromMicros(at)
	copy(e.LeafHash[:], leaf)
	return e, nil
}

func (r reader) EntryAt(ctx context.Context, index uint64) (tlog.Entry, error) {
	if index > math.MaxInt64 {
		return tlog.Entry{}, tlog.ErrNotFound
	}
	e, err := scanEntry(r.q.QueryRowContext(ctx, `SELECT `+entryCols+` FROM tlog_entries WHERE log_index = ?`, int64(index)))
	if err != nil {
		return e, fmt.Errorf("entry %d: %w", index, err)
	}
	return e, nil
}

func (r reader) EntryByHash(ctx context.Context, h tlog.Hash) (tlog.Entry, error) {
	e, err := scanEntry(r.q.QueryRowContext(ctx, `SELECT `+entryCols+` FROM tlog_entries WHERE leaf_hash = ?`, h[:]))
	if err != nil {
		return e, fmt.Errorf("entry %s: %w", h, err)
	}
	return e, nil
}

func (r reader) Lookup(ctx context.Context, hashes []tlog.Hash) (map[tlog.Hash]uint64, error) {
	out := map[tlog.Hash]uint64{}
	for start := 0; start < len(hashes); start += hashChunk {
		chunk := hashes[start:min(start+hashChunk, len(hashes))]
		args := make([]any, len(chunk))
		for i := range chunk {
			args[i] = chunk[i][:]
		}
		if err := lookupRows(ctx, r.q, lookupQuery(len(chunk)), args, out); err != nil {
			return nil, fmt.Errorf("lookup: %w", err)
		}
	}
	return out, nil
}

// lookupQuery selects the indexes of n leaf hashes.
func lookupQuery(n int) string {
	return `SELECT leaf_hash, log_index FROM tlog_entries WHERE leaf_hash IN (?` + strings.Repeat(", ?", n-1) + `)`
}

func lookupRows(ctx context.Context, q querier, query string, args []any, out map[tlog.Hash]uint64) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			leaf []byte
			idx  int64
		)
		if err := rows.Scan(&leaf, &idx); err != nil {
			return err
		}
		if len(leaf) != tlog.HashSize {
			return fmt.Errorf("entry %d: stored leaf hash of %d bytes", idx, len(leaf))
		}
		out[tlog.Hash(leaf)] = uint64(idx)
	}
	return rows.Err()
}

// hashChunk bounds the hashes or nodes of one query (at most two bound parameters each) well
// under SQLite's variable limit; proofs need at most about 130 nodes.
const hashChunk = 500

func (r reader) Hashes(ctx context.Context, ids []compact.NodeID) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ids))
	pos := make(map[compact.NodeID][]int, len(ids))
	for i, id := range ids {
		pos[id] = append(pos[id], i)
	}
	found := 0
	for start := 0; start < len(ids); start += hashChunk {
		chunk := ids[start:min(start+hashChunk, len(ids))]
		args := make([]any, 0, 2*len(chunk))
		for _, id := range chunk {
			args = append(args, int64(id.Level), int64(id.Index))
		}
		n, err := scanNodes(ctx, r.q, nodesQuery(len(chunk)), args, pos, out)
		if err != nil {
			return nil, fmt.Errorf("tree nodes: %w", err)
		}
		found += n
	}
	if found != len(ids) {
		return nil, fmt.Errorf("tree nodes: %w: %d of %d nodes stored", tlog.ErrNotFound, found, len(ids))
	}
	return out, nil
}

// nodesQuery selects n nodes by (level, idx). The join drives primary-key lookups from the
// VALUES list on every SQLite version; the shorter "(level, idx) IN (VALUES …)" is planned as
// a full table scan by SQLite 3.40 (the bundled 3.53 happens to plan it well).
func nodesQuery(n int) string {
	return `SELECT t.level, t.idx, t.hash FROM (VALUES (?, ?)` + strings.Repeat(", (?, ?)", n-1) + `) AS q
		JOIN tlog_nodes t ON t.level = q.column1 AND t.idx = q.column2`
}

// scanNodes runs a node query and places each hash at the positions pos gives its ID; it
// returns how many positions it filled.
func scanNodes(ctx context.Context, q querier, query string, args []any, pos map[compact.NodeID][]int, out []tlog.Hash) (int, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			level, idx int64
			hash       []byte
		)
		if err := rows.Scan(&level, &idx, &hash); err != nil {
			return 0, err
		}
		if len(hash) != tlog.HashSize {
			return 0, fmt.Errorf("node (%d, %d): stored hash of %d bytes", level, idx, len(hash))
		}
		for _, i := range pos[compact.NewNodeID(uint(level), uint64(idx))] {
			copy(out[i][:], hash)
			n++
		}
	}
	return n, rows.Err()
}

// Append implements tlog.Store. The single writer connection and BEGIN IMMEDIATE make the
// transaction the append lock, across goroutines and processes.
func (s *Store) Append(ctx context.Context, fn func(context.Context, tlog.Tx) error) error {
	return s.tx(ctx, func(sqlTx *sql.Tx) error {
		t := &tx{reader: reader{sqlTx}, tx: sqlTx}
		return fn(ctx, t)
	})
}

// tx implements tlog.Tx.
type tx struct {
	reader
	tx  *sql.Tx
	put bool
}

func (t *tx) Put(ctx context.Context, entries []tlog.Entry, nodes []tlog.Node) error {
	if t.put {
		return errors.New("put: called twice in one transaction")
	}
	t.put = true
	size, err := t.Size(ctx)
	if err != nil {
		return err
	}
	for i, e := range entries {
		if e.Index != size+uint64(i) {
			return fmt.Errorf("put: entry %d has index %d, want %d: the log must stay dense", i, e.Index, size+uint64(i))
		}
	}
	ins, err := t.tx.PrepareContext(ctx, `INSERT INTO tlog_entries (log_index, leaf_hash, body, integrated_time) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	defer ins.Close()
	for _, e := range entries {
		if _, err := ins.ExecContext(ctx, int64(e.Index), e.LeafHash[:], e.Body, micros(e.IntegratedTime)); err != nil {
			return fmt.Errorf("put entry %d: %w", e.Index, err)
		}
	}
	insNode, err := t.tx.PrepareContext(ctx, `INSERT INTO tlog_nodes (level, idx, hash) VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	defer insNode.Close()
	for _, n := range nodes {
		if _, err := insNode.ExecContext(ctx, int64(n.ID.Level), int64(n.ID.Index), n.Hash[:]); err != nil {
			return fmt.Errorf("put node (%d, %d): %w", n.ID.Level, n.ID.Index, err)
		}
	}
	return nil
}
