package indexer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/inventory"
)

// skippedTopDirs hold kernel and device views, not installed software.
var skippedTopDirs = map[string]bool{"proc": true, "sys": true, "dev": true}

// IndexRootfs inventories an unpacked root filesystem (or any directory tree, such as a source
// checkout with lockfiles). It opens the directory as an os.Root, so neither ".." nor a symlink
// can lead it outside; symlinks are recorded, never followed. Top-level proc, sys and dev are
// skipped, as are device nodes, sockets and FIFOs.
func (x *Indexer) IndexRootfs(ctx context.Context, dir string) (*Result, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open root filesystem: %w", err)
	}
	defer root.Close()
	tmp, err := os.MkdirTemp(x.cfg.TempDir, "stellaops-index-*")
	if err != nil {
		return nil, fmt.Errorf("index: temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	start := time.Now()
	x.progress(Progress{Layer: 0, Layers: 1, State: "analyzing"})
	lr, err := x.analyze(ctx, func(ctx context.Context, visit func(*image.Entry) error) (image.WalkStats, error) {
		return walkRoot(ctx, root, visit)
	}, tmp)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", dir, err)
	}
	x.progress(Progress{Layer: 0, Layers: 1, State: "done", Bytes: lr.Bytes})
	inv, presence, err := x.stack([]*LayerResult{lr}, nil)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", dir, err)
	}
	name, _ := filepath.Abs(dir)
	inv.Target = inventory.Target{Kind: inventory.TargetRootfs, Name: name, Format: "rootfs"}
	st := LayerStatus{Entries: lr.Entries, Bytes: lr.Bytes, Duration: time.Since(start)}
	return &Result{Inventory: inv, Layers: []LayerStatus{st}, Presence: presence}, nil
}

// walkRoot feeds a directory tree to visit as layer entries. Files are opened only when an
// analyzer reads them; unreadable files and directories become skips, not failures.
func walkRoot(ctx context.Context, root *os.Root, visit func(*image.Entry) error) (image.WalkStats, error) {
	var st image.WalkStats
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if p == "." {
			return nil
		}
		st.Entries++
		if st.Entries%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		switch t := d.Type(); {
		case t.IsDir():
			if filepath.Dir(p) == "." && skippedTopDirs[p] {
				return fs.SkipDir
			}
			return nil
		case t&fs.ModeSymlink != 0:
			target, err := root.Readlink(p)
			if err != nil {
				return nil
			}
			return visit(&image.Entry{Path: p, Kind: image.KindSymlink, Linkname: target, Mode: fs.ModeSymlink | 0o777})
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return nil
			}
			st.Bytes += info.Size()
			lf := &lazyFile{root: root, path: p}
			defer lf.close()
			return visit(&image.Entry{Path: p, Kind: image.KindFile, Mode: info.Mode(), Size: info.Size(),
				ModTime: info.ModTime(), Content: lf})
		}
		return nil // devices, sockets, FIFOs
	})
	return st, err
}

// lazyFile opens a file on its first read, so files no analyzer wants are never opened.
type lazyFile struct {
	root *os.Root
	path string
	f    *os.File
}

func (l *lazyFile) Read(p []byte) (int, error) {
	if l.f == nil {
		f, err := l.root.Open(l.path)
		if err != nil {
			return 0, err
		}
		l.f = f
	}
	return l.f.Read(p)
}

func (l *lazyFile) close() {
	if l.f != nil {
		l.f.Close()
	}
}

var _ io.Reader = (*lazyFile)(nil)
