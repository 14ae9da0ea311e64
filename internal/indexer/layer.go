package indexer

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/inventory"
)

// layerFormat versions the LayerResult encoding; cached results in another format are ignored.
const layerFormat = 4

// LayerResult is what one layer contributed, before layers are stacked: the analysed files and
// the names that matter for stacking (whiteouts, opaque directories, symlinks). It is what the
// layer cache stores, keyed by diff ID and analyzer fingerprint.
type LayerResult struct {
	Format      int          `json:"format"`
	DiffID      string       `json:"diffId,omitempty"`
	Fingerprint string       `json:"fingerprint"`
	Files       []FileResult `json:"files,omitempty"`
	Whiteouts   []string     `json:"whiteouts,omitempty"`
	Opaque      []string     `json:"opaque,omitempty"`
	Symlinks    []Symlink    `json:"symlinks,omitempty"`
	// Empty lists analysed files in which no analyzer found anything; they still hide whatever
	// lower layers had at the same path.
	Empty       []string               `json:"empty,omitempty"`
	Diagnostics []inventory.Diagnostic `json:"diagnostics,omitempty"`
	Entries     int                    `json:"entries"`
	Bytes       int64                  `json:"bytes"`
}

// FileResult is one analyzer's finding in one file.
type FileResult struct {
	Path       string                `json:"path"`
	Analyzer   string                `json:"analyzer"`
	Components []inventory.Component `json:"components,omitempty"`
	Distro     *inventory.Distro     `json:"distro,omitempty"`
	OwnedFiles PathList              `json:"ownedFiles,omitempty"`
}

// PathList is a sorted list of paths.
type PathList []string

// Contains reports whether the sorted list holds p.
func (l PathList) Contains(p string) bool {
	_, ok := slices.BinarySearch(l, p)
	return ok
}

// Symlink is a symlink entry of a layer.
type Symlink struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

// walkFunc streams entries to visit: a layer tar or a directory tree.
type walkFunc func(ctx context.Context, visit func(*image.Entry) error) (image.WalkStats, error)

// analyze runs every analyzer over the entries of one layer (or root filesystem) and returns
// what they found, sorted. Analyzer errors become diagnostics; walk errors (hostile content,
// I/O, cancellation) abort.
func (x *Indexer) analyze(ctx context.Context, walk walkFunc, tmp string) (*LayerResult, error) {
	res := &LayerResult{Format: layerFormat, Fingerprint: x.fingerprint}
	// Per path; a later entry for the same path in one layer replaces the earlier one.
	files := map[string][]FileResult{}
	var buf []byte
	var wanted []analyzer.Analyzer
	st, err := walk(ctx, func(e *image.Entry) error {
		switch e.Kind {
		case image.KindWhiteout:
			res.Whiteouts = append(res.Whiteouts, e.Path)
		case image.KindOpaque:
			res.Opaque = append(res.Opaque, e.Path)
		case image.KindSymlink:
			res.Symlinks = append(res.Symlinks, Symlink{Path: e.Path, Target: e.Linkname})
		case image.KindFile:
			wanted = wanted[:0]
			info := e.Info()
			for _, a := range x.cfg.Analyzers {
				if a.Required(e.Path, info) {
					wanted = append(wanted, a)
				}
			}
			if len(wanted) == 0 {
				return nil
			}
			if e.Size > x.cfg.Limits.MaxAnalyzedFileSize {
				res.Diagnostics = append(res.Diagnostics, inventory.Diagnostic{Source: "indexer", Path: e.Path,
					Message: fmt.Sprintf("file of %d bytes not analysed (limit %d)", e.Size, x.cfg.Limits.MaxAnalyzedFileSize)})
				return nil
			}
			content, cleanup, err := x.materialize(e, &buf, tmp)
			if errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
				// Only a directory walk meets these (a file unreadable or gone); a layer stream cannot.
				res.Diagnostics = append(res.Diagnostics, inventory.Diagnostic{Source: "indexer", Path: e.Path, Message: err.Error()})
				return nil
			}
			if err != nil {
				return err
			}
			defer cleanup()
			found := files[e.Path][:0]
			for _, a := range wanted {
				in := &analyzer.Input{Path: e.Path, Info: info, Content: io.NewSectionReader(content, 0, e.Size), TempDir: tmp}
				r, err := a.Analyze(ctx, in)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					// What the analyzer could read still counts; the diagnostic says it is partial.
					res.Diagnostics = append(res.Diagnostics, inventory.Diagnostic{Source: a.Name(), Path: e.Path, Message: err.Error()})
				}
				if !r.Empty() {
					found = append(found, FileResult{Path: e.Path, Analyzer: a.Name(),
						Components: r.Components, Distro: r.Distro, OwnedFiles: r.OwnedFiles})
				}
			}
			files[e.Path] = found
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Entries, res.Bytes = st.Entries, st.Bytes
	for p, found := range files {
		if len(found) == 0 {
			res.Empty = append(res.Empty, p)
		}
		for _, f := range found {
			for i := range f.Components {
				f.Components[i].FoundBy = f.Analyzer
				f.Components[i].Normalize()
			}
			slices.SortFunc(f.Components, func(a, b inventory.Component) int { return inventory.Compare(&a, &b) })
			slices.Sort(f.OwnedFiles)
			f.OwnedFiles = slices.Compact(f.OwnedFiles)
			res.Files = append(res.Files, f)
		}
	}
	slices.SortFunc(res.Files, func(a, b FileResult) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Analyzer, b.Analyzer))
	})
	slices.Sort(res.Empty)
	slices.SortFunc(res.Symlinks, func(a, b Symlink) int { return cmp.Compare(a.Path, b.Path) })
	slices.Sort(res.Whiteouts)
	slices.Sort(res.Opaque)
	return res, nil
}

// materialize makes the whole of a wanted file available for random access: in the reused
// memory buffer up to Limits.MemoryBuffer, otherwise spooled to a file in the scan's temporary
// directory. Memory stays bounded whatever the image holds.
func (x *Indexer) materialize(e *image.Entry, buf *[]byte, tmp string) (io.ReaderAt, func(), error) {
	if e.Size <= x.cfg.Limits.MemoryBuffer {
		if int64(cap(*buf)) < e.Size {
			*buf = make([]byte, e.Size)
		}
		b := (*buf)[:e.Size]
		if _, err := io.ReadFull(e.Content, b); err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", e.Path, err)
		}
		return bytes.NewReader(b), func() {}, nil
	}
	f, err := os.CreateTemp(tmp, "file-*")
	if err != nil {
		return nil, nil, fmt.Errorf("spool %s: %w", e.Path, err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	n, err := io.Copy(f, io.LimitReader(e.Content, e.Size))
	if err == nil && n != e.Size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("spool %s: %w", e.Path, err)
	}
	return f, cleanup, nil
}
