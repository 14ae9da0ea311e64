package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/transparency-dev/merkle/compact"

	"github.com/stellaops/stellaops/internal/tlog"
)

// querier is what reads need: the pool outside a transaction, the transaction inside one.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// reader implements tlog.Reader on q.
type reader struct{ q querier }

// Size implements tlog.Reader.
func (s *Store) Size(ctx context.Context) (uint64, error) { return reader{s.pool}.Size(ctx) }

// EntryAt implements tlog.Reader.
func (s *Store) EntryAt(ctx context.Context, index uint64) (tlog.Entry, error) {
	return reader{s.pool}.EntryAt(ctx, index)
}

// EntryByHash implements tlog.Reader.
func (s *Store) EntryByHash(ctx context.Context, h tlog.Hash) (tlog.Entry, error) {
	return reader{s.pool}.EntryByHash(ctx, h)
}

// Lookup implements tlog.Reader.
func (s *Store) Lookup(ctx context.Context, hashes []tlog.Hash) (map[tlog.Hash]uint64, error) {
	return reader{s.pool}.Lookup(ctx, hashes)
}

// Hashes implements tlog.Reader.
func (s *Store) Hashes(ctx context.Context, ids []compact.NodeID) ([]tlog.Hash, error) {
	return reader{s.pool}.Hashes(ctx, ids)
}

func (r reader) Size(ctx context.Context) (uint64, error) {
	var n int64
	// max over the primary key is one index probe; count(*) would scan the table.
	if err := r.q.QueryRow(ctx, `SELECT coalesce(max(log_index) + 1, 0) FROM tlog_entries`).Scan(&n); err != nil {
		return 0, fmt.Errorf("size: %w", err)
	}
	return uint64(n), nil
}

const entryCols = `log_index, leaf_hash, body, integrated_time`

func scanEntry(row pgx.Row) (tlog.Entry, error) {
	var (
		e    tlog.Entry
		idx  int64
		leaf []byte
	)
	if err := row.Scan(&idx, &leaf, &e.Body, &e.IntegratedTime); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return e, tlog.ErrNotFound
		}
		return e, err
	}
	if len(leaf) != tlog.HashSize {
		return e, fmt.Errorf("entry %d: stored leaf hash of %d bytes", idx, len(leaf))
	}
	e.Index, e.IntegratedTime = uint64(idx), e.IntegratedTime.UTC()
	copy(e.LeafHash[:], leaf)
	return e, nil
}

func (r reader) EntryAt(ctx context.Context, index uint64) (tlog.Entry, error) {
	if index > math.MaxInt64 {
		return tlog.Entry{}, fmt.Errorf("entry %d: %w", index, tlog.ErrNotFound)
	}
	e, err := scanEntry(r.q.QueryRow(ctx, `SELECT `+entryCols+` FROM tlog_entries WHERE log_index = $1`, int64(index)))
	if err != nil {
		return e, fmt.Errorf("entry %d: %w", index, err)
	}
	return e, nil
}

func (r reader) EntryByHash(ctx context.Context, h tlog.Hash) (tlog.Entry, error) {
	e, err := scanEntry(r.q.QueryRow(ctx, `SELECT `+entryCols+` FROM tlog_entries WHERE leaf_hash = $1`, h[:]))
	if err != nil {
		return e, fmt.Errorf("entry %s: %w", h, err)
	}
	return e, nil
}

func (r reader) Lookup(ctx context.Context, hashes []tlog.Hash) (map[tlog.Hash]uint64, error) {
	args := make([][]byte, len(hashes))
	for i := range hashes {
		args[i] = hashes[i][:]
	}
	rows, err := r.q.Query(ctx, `SELECT leaf_hash, log_index FROM tlog_entries WHERE leaf_hash = ANY($1::bytea[])`, args)
	if err != nil {
		return nil, fmt.Errorf("lookup: %w", err)
	}
	defer rows.Close()
	out := map[tlog.Hash]uint64{}
	for rows.Next() {
		var (
			leaf []byte
			idx  int64
		)
		if err := rows.Scan(&leaf, &idx); err != nil {
			return nil, fmt.Errorf("lookup: %w", err)
		}
		if len(leaf) != tlog.HashSize {
			return nil, fmt.Errorf("entry %d: stored leaf hash of %d bytes", idx, len(leaf))
		}
		out[tlog.Hash(leaf)] = uint64(idx)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lookup: %w", err)
	}
	return out, nil
}

func (r reader) Hashes(ctx context.Context, ids []compact.NodeID) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ids))
	pos := make(map[compact.NodeID][]int, len(ids))
	levels, idxs := make([]int16, len(ids)), make([]int64, len(ids))
	for i, id := range ids {
		pos[id] = append(pos[id], i)
		levels[i], idxs[i] = int16(id.Level), int64(id.Index)
	}
	rows, err := r.q.Query(ctx, `SELECT n.level, n.idx, n.hash
		FROM (SELECT DISTINCT * FROM unnest($1::smallint[], $2::bigint[]) AS q(level, idx)) q
		JOIN tlog_nodes n ON n.level = q.level AND n.idx = q.idx`, levels, idxs)
	if err != nil {
		return nil, fmt.Errorf("tree nodes: %w", err)
	}
	defer rows.Close()
	found := 0
	for rows.Next() {
		var (
			level int16
			idx   int64
			hash  []byte
		)
		if err := rows.Scan(&level, &idx, &hash); err != nil {
			return nil, fmt.Errorf("tree nodes: %w", err)
		}
		if len(hash) != tlog.HashSize {
			return nil, fmt.Errorf("node (%d, %d): stored hash of %d bytes", level, idx, len(hash))
		}
		for _, i := range pos[compact.NewNodeID(uint(level), uint64(idx))] {
			copy(out[i][:], hash)
			found++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tree nodes: %w", err)
	}
	if found != len(ids) {
		return nil, fmt.Errorf("tree nodes: %w: %d of %d nodes stored", tlog.ErrNotFound, found, len(ids))
	}
	return out, nil
}

// Append implements tlog.Store. The table lock conflicts only with itself and with writers,
// so appends queue on it across connections and processes while reads go on; taking it first
// means every read of fn sees all appends committed before.
func (s *Store) Append(ctx context.Context, fn func(context.Context, tlog.Tx) error) error {
	return s.tx(ctx, func(pgTx pgx.Tx) error {
		if _, err := pgTx.Exec(ctx, `LOCK TABLE tlog_entries IN EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("append lock: %w", err)
		}
		return fn(ctx, &tx{reader: reader{pgTx}, tx: pgTx})
	})
}

// tx implements tlog.Tx.
type tx struct {
	reader
	tx  pgx.Tx
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
	rows := make([][]any, len(entries))
	for i, e := range entries {
		if e.Index != size+uint64(i) {
			return fmt.Errorf("put: entry %d has index %d, want %d: the log must stay dense", i, e.Index, size+uint64(i))
		}
		rows[i] = []any{int64(e.Index), e.LeafHash[:], e.Body, tlog.Timestamp(e.IntegratedTime)}
	}
	// COPY: one round trip for a whole batch.
	if _, err := t.tx.CopyFrom(ctx, pgx.Identifier{"tlog_entries"}, []string{"log_index", "leaf_hash", "body", "integrated_time"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("put entries: %w", err)
	}
	rows = make([][]any, len(nodes))
	for i, n := range nodes {
		rows[i] = []any{int16(n.ID.Level), int64(n.ID.Index), n.Hash[:]}
	}
	if _, err := t.tx.CopyFrom(ctx, pgx.Identifier{"tlog_nodes"}, []string{"level", "idx", "hash"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("put nodes: %w", err)
	}
	return nil
}
