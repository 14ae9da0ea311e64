package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/stellaops/stellaops/internal/tlog"
)

// PutTreeHead implements tlog.Store.
func (s *Store) PutTreeHead(ctx context.Context, sth tlog.SignedTreeHead) (tlog.SignedTreeHead, error) {
	if sth.TreeSize > math.MaxInt64 {
		return tlog.SignedTreeHead{}, fmt.Errorf("put tree head: %w: size %d", tlog.ErrInvalid, sth.TreeSize)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO tlog_tree_heads (tree_size, key_id, origin, root_hash, timestamp, signature)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key_id, tree_size) DO NOTHING`,
		int64(sth.TreeSize), sth.KeyID, sth.Origin, sth.RootHash[:], micros(sth.Timestamp), sth.Signature)
	if err != nil {
		return tlog.SignedTreeHead{}, fmt.Errorf("put tree head %d: %w", sth.TreeSize, err)
	}
	return s.treeHead(ctx, s.w, `WHERE key_id = ? AND tree_size = ?`, sth.KeyID, int64(sth.TreeSize))
}

// LatestTreeHead implements tlog.Store.
func (s *Store) LatestTreeHead(ctx context.Context, keyID string) (tlog.SignedTreeHead, error) {
	return s.treeHead(ctx, s.r, `WHERE key_id = ? ORDER BY tree_size DESC LIMIT 1`, keyID)
}

// TreeHeadAt implements tlog.Store.
func (s *Store) TreeHeadAt(ctx context.Context, size uint64, keyID string) (tlog.SignedTreeHead, error) {
	if size > math.MaxInt64 {
		return tlog.SignedTreeHead{}, fmt.Errorf("tree head %d: %w", size, tlog.ErrNotFound)
	}
	return s.treeHead(ctx, s.r, `WHERE key_id = ? AND tree_size = ?`, keyID, int64(size))
}

func (s *Store) treeHead(ctx context.Context, q querier, where string, args ...any) (tlog.SignedTreeHead, error) {
	var (
		sth      tlog.SignedTreeHead
		size, at int64
		root     []byte
	)
	err := q.QueryRowContext(ctx, `SELECT tree_size, key_id, origin, root_hash, timestamp, signature FROM tlog_tree_heads `+where, args...).
		Scan(&size, &sth.KeyID, &sth.Origin, &root, &at, &sth.Signature)
	if errors.Is(err, sql.ErrNoRows) {
		return sth, fmt.Errorf("tree head: %w", tlog.ErrNotFound)
	}
	if err != nil {
		return sth, fmt.Errorf("tree head: %w", err)
	}
	if len(root) != tlog.HashSize {
		return sth, fmt.Errorf("tree head %d: stored root of %d bytes", size, len(root))
	}
	sth.TreeSize, sth.Timestamp = uint64(size), fromMicros(at)
	copy(sth.RootHash[:], root)
	return sth, nil
}
