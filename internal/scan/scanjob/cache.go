package scanjob

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/indexer"
	"github.com/stellaops/stellaops/internal/layercache"
	"github.com/stellaops/stellaops/internal/scan/scanstore"
)

// LayerCache is the workers' layer cache: the data directory's cache (fast, this process's
// disk, shared with stellaops-cli) in front of the scan store's (shared by every replica).
// A hit in the store is copied to the directory; a put goes to both. The store keeps values
// up to a size bound; a larger one is recorded there as known, its value staying local.
type LayerCache struct {
	Dir   *layercache.Dir
	Store scanstore.Store
	// MaxShared bounds a value stored in the scan store (0: none are).
	MaxShared int64
	Now       func() time.Time
	Log       *slog.Logger
}

var _ indexer.LayerCache = (*LayerCache)(nil)

// splitKey turns the indexer's "<fingerprint>/<diff ID>" into its halves.
func splitKey(key string) (fp, diffID string, ok bool) {
	return strings.Cut(key, "/")
}

// Get implements indexer.LayerCache.
func (c *LayerCache) Get(ctx context.Context, key string) ([]byte, error) {
	if c.Dir != nil {
		b, err := c.Dir.Get(ctx, key)
		if err == nil || !errors.Is(err, indexer.ErrCacheMiss) {
			return b, err
		}
	}
	fp, diffID, ok := splitKey(key)
	if !ok || c.Store == nil {
		return nil, indexer.ErrCacheMiss
	}
	b, err := c.Store.GetLayer(ctx, fp, diffID, c.Now())
	if errors.Is(err, scanstore.ErrNotFound) {
		return nil, indexer.ErrCacheMiss
	}
	if err != nil {
		return nil, err
	}
	if c.Dir != nil {
		if err := c.Dir.Put(ctx, key, b); err != nil {
			c.Log.WarnContext(ctx, "layer cache: local copy failed", "component", "scanjob", "layer", diffID, "error", err)
		}
	}
	return b, nil
}

// Put implements indexer.LayerCache.
func (c *LayerCache) Put(ctx context.Context, key string, value []byte) error {
	var errs []error
	if c.Dir != nil {
		errs = append(errs, c.Dir.Put(ctx, key, value))
	}
	if fp, diffID, ok := splitKey(key); ok && c.Store != nil {
		shared := value
		if int64(len(value)) > c.MaxShared {
			shared = nil
		}
		errs = append(errs, c.Store.PutLayer(ctx, fp, diffID, shared, c.Now()))
	}
	return errors.Join(errs...)
}
