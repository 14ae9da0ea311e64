package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/atomicfile"
)

// ErrNoSnapshot is returned when a store has no published snapshot yet.
var ErrNoSnapshot = errors.New("no advisory snapshot published")

// isDigest reports whether s is 64 lower-case hex digits, the name of a snapshot file.
func isDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Store keeps snapshots in a directory, one file per digest ("<hex>.db"), and a pointer file
// "current" naming the one scans should use. Publishing writes the new file, then replaces the
// pointer atomically: scans that already opened a snapshot keep reading theirs.
type Store struct{ dir string }

// OpenStore returns the store in dir, creating the directory if needed.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Publish builds a snapshot of advs and makes it current. If a snapshot with the same digest is
// already published, only the pointer moves.
func (st *Store) Publish(ctx context.Context, advs []*advisory.Advisory, sources []SourceInfo, created time.Time) (Meta, error) {
	return st.publish(func(tmp string) (Meta, error) { return Build(ctx, tmp, advs, sources, created) })
}

// PublishEncoded is Publish through BuildEncoded: for a merge, whose advisories are normalised,
// unique, sorted and already encoded.
func (st *Store) PublishEncoded(ctx context.Context, advs []*advisory.Advisory, canon [][]byte, sources []SourceInfo, created time.Time) (Meta, error) {
	return st.publish(func(tmp string) (Meta, error) { return BuildEncoded(ctx, tmp, advs, canon, sources, created) })
}

// PublishEncodedIf is PublishEncoded that makes the snapshot current only when check accepts
// its metadata (an imported kit's snapshot must have the digest its signed manifest names);
// otherwise nothing changes and check's error is returned.
func (st *Store) PublishEncodedIf(ctx context.Context, advs []*advisory.Advisory, canon [][]byte, sources []SourceInfo, created time.Time, check func(Meta) error) (Meta, error) {
	return st.publish(func(tmp string) (Meta, error) {
		meta, err := BuildEncoded(ctx, tmp, advs, canon, sources, created)
		if err == nil {
			err = check(meta)
		}
		return meta, err
	})
}

func (st *Store) publish(build func(tmp string) (Meta, error)) (Meta, error) {
	tmp := filepath.Join(st.dir, fmt.Sprintf(".build-%d.db", time.Now().UnixNano()))
	defer os.Remove(tmp)
	meta, err := build(tmp)
	if err != nil {
		return Meta{}, err
	}
	hexd := strings.TrimPrefix(meta.Digest, "sha256:")
	final := filepath.Join(st.dir, hexd+".db")
	if _, err := os.Stat(final); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(tmp, final); err != nil {
			return Meta{}, fmt.Errorf("publish snapshot: %w", err)
		}
	}
	if err := atomicfile.Write(filepath.Join(st.dir, "current"), []byte(hexd+"\n"), 0o644); err != nil {
		return Meta{}, fmt.Errorf("publish snapshot: %w", err)
	}
	return meta, nil
}

// CurrentPath returns the file of the current snapshot, or ErrNoSnapshot.
func (st *Store) CurrentPath() (string, error) {
	b, err := os.ReadFile(filepath.Join(st.dir, "current"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNoSnapshot
	}
	if err != nil {
		return "", fmt.Errorf("snapshot store: %w", err)
	}
	hexd := strings.TrimSpace(string(b))
	if !isDigest(hexd) {
		return "", fmt.Errorf("snapshot store: pointer %q is not a digest", hexd)
	}
	return filepath.Join(st.dir, hexd+".db"), nil
}

// Current opens the current snapshot.
func (st *Store) Current() (*Snapshot, error) {
	p, err := st.CurrentPath()
	if err != nil {
		return nil, err
	}
	return Open(p)
}
