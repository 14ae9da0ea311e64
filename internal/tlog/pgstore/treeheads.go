package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/stellaops/stellaops/internal/tlog"
)

// PutTreeHead implements tlog.Store.
func (s *Store) PutTreeHead(ctx context.Context, sth tlog.SignedTreeHead) (tlog.SignedTreeHead, error) {
	if sth.TreeSize > math.MaxInt64 {
		return tlog.SignedTreeHead{}, fmt.Errorf("put tree head: %w: size %d", tlog.ErrInvalid, sth.TreeSize)
	}
	// Two statements, not one: when a concurrent signer inserts the same (key, size) first, our
	// INSERT waits for it and does nothing, and only a new statement's snapshot sees its row.
	_, err := s.pool.Exec(ctx, `INSERT INTO tlog_tree_heads (key_id, tree_size, origin, root_hash, timestamp, signature)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_id, tree_size) DO NOTHING`,
		sth.KeyID, int64(sth.TreeSize), sth.Origin, sth.RootHash[:], tlog.Timestamp(sth.Timestamp), sth.Signature)
	if err != nil {
		return tlog.SignedTreeHead{}, fmt.Errorf("put tree head %d: %w", sth.TreeSize, err)
	}
	return s.TreeHeadAt(ctx, sth.TreeSize, sth.KeyID)
}

// LatestTreeHead implements tlog.Store.
func (s *Store) LatestTreeHead(ctx context.Context, keyID string) (tlog.SignedTreeHead, error) {
	return s.treeHead(ctx, `SELECT `+headCols+` FROM tlog_tree_heads WHERE key_id = $1 ORDER BY tree_size DESC LIMIT 1`, keyID)
}

// TreeHeadAt implements tlog.Store.
func (s *Store) TreeHeadAt(ctx context.Context, size uint64, keyID string) (tlog.SignedTreeHead, error) {
	if size > math.MaxInt64 {
		return tlog.SignedTreeHead{}, fmt.Errorf("tree head %d: %w", size, tlog.ErrNotFound)
	}
	return s.treeHead(ctx, `SELECT `+headCols+` FROM tlog_tree_heads WHERE key_id = $1 AND tree_size = $2`, keyID, int64(size))
}

const headCols = `key_id, tree_size, origin, root_hash, timestamp, signature`

func (s *Store) treeHead(ctx context.Context, query string, args ...any) (tlog.SignedTreeHead, error) {
	var (
		sth  tlog.SignedTreeHead
		size int64
		root []byte
	)
	err := s.pool.QueryRow(ctx, query, args...).Scan(&sth.KeyID, &size, &sth.Origin, &root, &sth.Timestamp, &sth.Signature)
	if errors.Is(err, pgx.ErrNoRows) {
		return sth, fmt.Errorf("tree head: %w", tlog.ErrNotFound)
	}
	if err != nil {
		return sth, fmt.Errorf("tree head: %w", err)
	}
	if len(root) != tlog.HashSize {
		return sth, fmt.Errorf("tree head %d: stored root of %d bytes", size, len(root))
	}
	sth.TreeSize, sth.Timestamp = uint64(size), sth.Timestamp.UTC()
	copy(sth.RootHash[:], root)
	return sth, nil
}
