package advisory

import (
	"archive/zip"
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Limits on OSV input, so a hostile mirror cannot exhaust memory.
const (
	maxDocument  = 32 << 20 // one OSV record
	maxZipFiles  = 2_000_000
	maxZipExpand = 16 << 30
)

// DocError is a per-document problem: the document is skipped and the import goes on.
type DocError struct {
	Document string `json:"document"`
	Reason   string `json:"reason"`
}

// LoadResult is what an import read.
type LoadResult struct {
	Advisories []*Advisory
	Documents  int
	Errors     []DocError
}

// LoadOSV reads OSV records from path: an all.zip as osv.dev publishes per ecosystem, a directory
// (searched recursively for *.json), or a single .json file. source names the feed ("osv:Go").
// Malformed documents are recorded in Errors and skipped.
func LoadOSV(ctx context.Context, source, p string) (*LoadResult, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("osv %s: %w", source, err)
	}
	if fi.IsDir() {
		return LoadOSVFS(ctx, source, os.DirFS(p), ".")
	}
	return LoadOSVFS(ctx, source, os.DirFS(filepath.Dir(p)), filepath.Base(p))
}

// LoadOSVFS is LoadOSV over a file system (the embedded bundle, a mirror).
func LoadOSVFS(ctx context.Context, source string, fsys fs.FS, p string) (*LoadResult, error) {
	fi, err := fs.Stat(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("osv %s: %w", source, err)
	}
	res := &LoadResult{}
	add := func(doc string, data []byte) {
		res.Documents++
		a, err := ParseOSV(source, doc, data)
		if err != nil {
			res.Errors = append(res.Errors, DocError{Document: doc, Reason: err.Error()})
			return
		}
		res.Advisories = append(res.Advisories, a)
	}
	switch {
	case fi.IsDir():
		err = loadDir(ctx, fsys, p, add)
	case strings.HasSuffix(strings.ToLower(p), ".zip"):
		err = loadZip(ctx, fsys, p, fi.Size(), add)
	default:
		var b []byte
		if b, err = readLimited(fsys, p); err == nil {
			add(path.Base(p), b)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("osv %s: %w", source, err)
	}
	return res, nil
}

func readLimited(fsys fs.FS, p string) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllLimited(f, p)
}

func readAllLimited(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxDocument+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxDocument {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxDocument)
	}
	return b, nil
}

func loadDir(ctx context.Context, fsys fs.FS, dir string, add func(string, []byte)) error {
	return fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		b, err := readLimited(fsys, p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		add(rel, b)
		return nil
	})
}

func loadZip(ctx context.Context, fsys fs.FS, p string, size int64, add func(string, []byte)) error {
	f, err := fsys.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	ra, ok := f.(io.ReaderAt)
	if !ok {
		return fmt.Errorf("%s: file system gives no random access", p)
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return err
	}
	if len(zr.File) > maxZipFiles {
		return fmt.Errorf("zip holds %d files, over the %d limit", len(zr.File), maxZipFiles)
	}
	var total uint64
	for i, f := range zr.File {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if f.FileInfo().IsDir() || path.Ext(f.Name) != ".json" {
			continue
		}
		if total += f.UncompressedSize64; total > maxZipExpand {
			return fmt.Errorf("zip expands beyond %d bytes", uint64(maxZipExpand))
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		b, err := readAllLimited(rc, f.Name)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		add(f.Name, b)
	}
	return nil
}

// Dedupe merges advisories with the same ID (AlmaLinux files the same ALSA once per major
// release; a GO and a GHSA record of one CVE both key on the CVE) and returns them sorted by ID.
func Dedupe(advs []*Advisory) []*Advisory {
	slices.SortStableFunc(advs, func(a, b *Advisory) int { return cmp.Compare(a.ID, b.ID) })
	out := advs[:0]
	for _, a := range advs {
		if n := len(out); n > 0 && out[n-1].ID == a.ID {
			out[n-1].Merge(a)
			continue
		}
		out = append(out, a)
	}
	return out
}
