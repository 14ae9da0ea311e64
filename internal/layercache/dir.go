// Package layercache stores per-layer analysis results in a content-addressed directory under
// the data directory: one file per "<analyzer fingerprint>/<diff ID>" key, written atomically
// (temporary file + rename) so concurrent scans never read half an entry. It stores opaque
// bytes; internal/indexer owns their meaning.
package layercache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/indexer"
)

// validKey admits "<hex fingerprint>/sha256:<hex digest>" (a fingerprint of 8 to 64 hex digits)
// and nothing that could name a path outside the cache. (A plain function: a package-level
// regexp would be compiled at every process start.)
func validKey(key string) bool {
	fp, digest, ok := strings.Cut(key, "/sha256:")
	return ok && len(fp) >= 8 && len(fp) <= 64 && isLowerHex(fp) && len(digest) == 64 && isLowerHex(digest)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Dir is a layer cache in a directory. It is safe for concurrent use by several processes.
type Dir struct {
	root string
	now  func() time.Time
}

// Open returns the cache rooted at dir, creating it if needed.
func Open(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	return &Dir{root: dir, now: time.Now}, nil
}

func (d *Dir) path(key string) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("layer cache: invalid key %q", key)
	}
	fp, digest := filepath.Split(key)
	return filepath.Join(d.root, filepath.Clean(fp), digest[len("sha256:"):]+".bin"), nil
}

// Get returns the stored value, or indexer.ErrCacheMiss. A hit refreshes the entry's time so
// Prune evicts least recently used entries first.
func (d *Dir) Get(_ context.Context, key string) ([]byte, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, indexer.ErrCacheMiss
	}
	if err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	now := d.now()
	_ = os.Chtimes(p, now, now)
	return b, nil
}

// Has reports whether a value is stored under key.
func (d *Dir) Has(_ context.Context, key string) bool {
	p, err := d.path(key)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// Put stores value under key atomically.
func (d *Dir) Put(_ context.Context, key string, value []byte) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("layer cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("layer cache: %w", err)
	}
	_, werr := f.Write(value)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("layer cache: write: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("layer cache: %w", err)
	}
	return nil
}

// Prune removes entries unused for longer than ttl, then the least recently used ones until the
// cache holds at most maxBytes. It returns the number of entries removed. Zero disables a bound.
func (d *Dir) Prune(ctx context.Context, ttl time.Duration, maxBytes int64) (int, error) {
	type entry struct {
		path string
		size int64
		used time.Time
	}
	var entries []entry
	var total int64
	err := filepath.WalkDir(d.root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if de.Type().IsRegular() && filepath.Ext(p) == ".bin" {
			info, err := de.Info()
			if err != nil {
				return nil
			}
			entries = append(entries, entry{p, info.Size(), info.ModTime()})
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("layer cache: prune: %w", err)
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.used.Compare(b.used) })
	removed := 0
	now := d.now()
	for _, e := range entries {
		stale := ttl > 0 && now.Sub(e.used) > ttl
		over := maxBytes > 0 && total > maxBytes
		if !stale && !over {
			continue
		}
		if err := os.Remove(e.path); err == nil {
			removed++
			total -= e.size
		}
	}
	return removed, nil
}

var _ indexer.LayerCache = (*Dir)(nil)
