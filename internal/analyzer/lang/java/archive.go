package java

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// errBudget is returned when one file decompresses to more than MaxTotalBytes or holds more
// than MaxEntries entries, nested archives included.
var errBudget = errors.New("archive exceeds the size or entry limits")

// walk is the state of one Analyze call: the limits, the decompression budget left, and the
// entries seen so far in all archives. Counting entries across archives bounds the work that
// overlapping entries (many names for the same stored bytes) could otherwise multiply.
type walk struct {
	cfg     Config
	budget  int64
	entries int
}

// archive reads the zip archive r (size bytes) found at location, depth levels below the file
// handed to the analyzer.
func (w *walk) archive(ctx context.Context, r io.ReaderAt, size int64, location string, depth int) ([]inventory.Component, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("open archive %s: %w", location, err)
	}
	if w.entries += len(zr.File); w.entries > w.cfg.MaxEntries {
		return nil, fmt.Errorf("open archive %s: %w: more than %d entries", location, errBudget, w.cfg.MaxEntries)
	}
	var out []inventory.Component
	var manifest map[string]string
	var nested []*zip.File
	for i, f := range zr.File {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if f.FileInfo().IsDir() {
			continue
		}
		switch {
		case path.Base(f.Name) == "pom.properties":
			b, err := w.read(f)
			if err != nil {
				if errors.Is(err, errBudget) {
					return nil, fmt.Errorf("read %s!/%s: %w", location, f.Name, err)
				}
				continue
			}
			if c, ok := fromPomProperties(parseProperties(b), location); ok {
				out = append(out, c)
			}
		case strings.EqualFold(f.Name, "META-INF/MANIFEST.MF"):
			b, err := w.read(f)
			if err != nil {
				if errors.Is(err, errBudget) {
					return nil, fmt.Errorf("read %s!/%s: %w", location, f.Name, err)
				}
				continue
			}
			manifest = parseManifest(b)
		case isArchive(f.Name) && depth < w.cfg.MaxDepth:
			nested = append(nested, f)
		}
	}
	if len(out) == 0 {
		if c, ok := fromManifest(manifest, location); ok {
			out = append(out, c)
		}
	}
	for _, f := range nested {
		cs, err := w.nested(ctx, r, f, location+"!/"+f.Name, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// nested reads an archive inside another. Stored (uncompressed) entries, as Spring Boot writes
// them, are read in place; compressed ones are decompressed into memory within the limits.
// Entries that are not readable archives are skipped; only a blown budget or a cancelled
// context is an error.
func (w *walk) nested(ctx context.Context, outer io.ReaderAt, f *zip.File, location string, depth int) ([]inventory.Component, error) {
	var r io.ReaderAt
	var size int64
	if f.Method == zip.Store && f.CompressedSize64 == f.UncompressedSize64 && f.UncompressedSize64 <= 1<<62 {
		off, err := f.DataOffset()
		if err != nil {
			return nil, nil
		}
		r, size = io.NewSectionReader(outer, off, int64(f.UncompressedSize64)), int64(f.UncompressedSize64)
	} else {
		b, err := w.read(f)
		if errors.Is(err, errBudget) {
			return nil, fmt.Errorf("read %s: %w", location, err)
		}
		if err != nil {
			return nil, nil
		}
		r, size = bytes.NewReader(b), int64(len(b))
	}
	cs, err := w.archive(ctx, r, size, location, depth)
	if err != nil {
		if errors.Is(err, errBudget) || ctx.Err() != nil {
			return nil, err
		}
		return nil, nil // not a valid archive: nothing here
	}
	return cs, nil
}

// read decompresses one entry, refusing entries declared larger than MaxEntrySize, stopping at
// that size whatever the header says, and charging the bytes to the budget.
func (w *walk) read(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > uint64(w.cfg.MaxEntrySize) {
		return nil, fmt.Errorf("entry %s: declared size %d over the limit", f.Name, f.UncompressedSize64)
	}
	if int64(f.UncompressedSize64) > w.budget {
		return nil, errBudget
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	limit := min(w.cfg.MaxEntrySize, w.budget)
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	w.budget -= int64(len(b))
	if int64(len(b)) > limit {
		if w.budget < 0 {
			return nil, errBudget
		}
		return nil, fmt.Errorf("entry %s: larger than the limit", f.Name)
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}
