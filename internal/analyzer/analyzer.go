// Package analyzer defines how package extractors plug into the scanner. An Analyzer decides from a
// path whether it wants a file and turns that file's content into components. Analyzers never open
// archives, walk directories or follow symlinks: internal/image walks layers and root filesystems,
// asks every analyzer, and hands each wanted file over once.
//
// The OS analyzers live in os/<name>, the language analyzers in lang/<name>, the release-file
// detector in osrelease; list.Default assembles them.
package analyzer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// Analyzer extracts components from single files.
//
// Implementations must be safe for concurrent use: the walker may analyse several layers at once.
type Analyzer interface {
	// Name is a stable identifier such as "os/dpkg" or "lang/npm"; it is recorded in
	// Component.FoundBy and in diagnostics.
	Name() string
	// Version changes whenever the analyzer's output for the same input changes; cached layer
	// results made by another version are not reused.
	Version() int
	// Required reports, from the path alone (slash-separated, relative to the root, no leading
	// slash) and the file's metadata, whether Analyze wants the file. It is called for every
	// regular file of every layer and must be cheap: no I/O.
	Required(path string, info fs.FileInfo) bool
	// Analyze reads one file. A nil result with a nil error means "nothing here". An error means
	// the file could not be (fully) understood; the walker records it as a diagnostic against
	// this analyzer and goes on. A non-nil result returned with an error is a partial result (some
	// records skipped) and is kept. Analyze must not retain in.Content after it returns.
	Analyze(ctx context.Context, in *Input) (*Result, error)
}

// Input is one file handed to an analyzer.
type Input struct {
	// Path is slash-separated, relative to the root, without a leading slash.
	Path string
	// Info is the file's metadata (mode, size) as recorded in the layer or on disk.
	Info fs.FileInfo
	// Content holds the whole file and allows random access (ELF sections, zip directories).
	Content *io.SectionReader
	// TempDir is a directory private to this scan where an analyzer may write a copy of Content
	// when a library insists on a real file (rpm databases). The walker removes it.
	TempDir string
}

// Result is what an analyzer found in one file.
type Result struct {
	// Components found. Analyzers set Ecosystem, Name, Version and what else the format gives,
	// and Locations to the file's path (or the path of the nested artifact); the walker fills
	// Layer, FoundBy and, for OS packages, Distro.
	Components []inventory.Component
	// Distro is set by the release-file detector.
	Distro *inventory.Distro
	// OwnedFiles lists the paths (slash-separated, relative, no leading slash) that the OS package
	// database in this file says its packages installed. Language components found in such files
	// are dropped, as the OS package already accounts for them.
	OwnedFiles []string
}

// ErrTooLarge is returned (wrapped) when a file is bigger than an analyzer's limit. The walker
// records it as a diagnostic, so a skipped file is never mistaken for an empty one.
var ErrTooLarge = errors.New("file exceeds the size limit")

// ReadAll returns the whole content of the input, refusing files over limit bytes (limit <= 0
// means no limit) so that a hostile layer cannot make an analyzer allocate without bound. It reads
// with ReadAt only, leaving the section reader's offset alone for other analyzers of the file.
func (in *Input) ReadAll(limit int64) ([]byte, error) {
	if in == nil || in.Content == nil {
		return nil, errors.New("read input: no content")
	}
	size := in.Content.Size()
	if limit > 0 && size > limit {
		return nil, fmt.Errorf("read %s: %w (%d bytes, limit %d)", in.Path, ErrTooLarge, size, limit)
	}
	buf := make([]byte, size)
	n, err := in.Content.ReadAt(buf, 0)
	if int64(n) == size {
		return buf, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("read %s: %w", in.Path, err)
}

// Empty reports whether the result holds nothing.
func (r *Result) Empty() bool {
	return r == nil || (len(r.Components) == 0 && r.Distro == nil && len(r.OwnedFiles) == 0)
}

// Fingerprint identifies a set of analyzers and their versions. It is part of every layer cache
// key, so changing or upgrading an analyzer invalidates cached layer results.
func Fingerprint(as []Analyzer) string {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = fmt.Sprintf("%s@%d", a.Name(), a.Version())
	}
	slices.Sort(ids)
	sum := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	return hex.EncodeToString(sum[:8])
}
