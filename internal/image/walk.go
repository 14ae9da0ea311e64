package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
)

// EntryKind classifies a layer entry after whiteout interpretation.
type EntryKind uint8

// Entry kinds.
const (
	KindFile     EntryKind = iota + 1 // regular file; content readable
	KindDir                           // directory
	KindSymlink                       // symbolic link; Linkname is the target as written
	KindHardlink                      // hard link; Linkname is the cleaned path it links to
	KindWhiteout                      // Path was deleted from the layers below
	KindOpaque                        // the directory Path hides everything below it
)

// Entry is one normalised member of a layer tar.
type Entry struct {
	// Path is slash-separated, relative to the root, without a leading slash; never escapes.
	Path     string
	Kind     EntryKind
	Mode     fs.FileMode
	Size     int64
	Linkname string
	ModTime  time.Time
	// Content reads a regular file's bytes; valid only during the visit callback.
	Content io.Reader
}

// Info returns the entry's metadata as an fs.FileInfo.
func (e *Entry) Info() fs.FileInfo { return entryInfo{e} }

type entryInfo struct{ e *Entry }

func (i entryInfo) Name() string       { return path.Base(i.e.Path) }
func (i entryInfo) Size() int64        { return i.e.Size }
func (i entryInfo) Mode() fs.FileMode  { return i.e.Mode }
func (i entryInfo) ModTime() time.Time { return i.e.ModTime }
func (i entryInfo) IsDir() bool        { return i.e.Kind == KindDir }
func (i entryInfo) Sys() any           { return nil }

// WalkStats summarise one walked layer.
type WalkStats struct {
	Entries int
	Bytes   int64 // sum of declared entry sizes
}

// Walk reads a layer tar stream and calls visit for every entry, in archive order, after
// normalising its path and interpreting whiteouts. It refuses (ErrHostile) entries whose path or
// hard-link target climbs above the root, device nodes and FIFOs (unless lim.AllowSpecialFiles),
// symlinks that climb above the root (unless lim.AllowHostileSymlinks), and entries, entry
// counts or totals over the limits. Nothing is written anywhere: content is streamed to visit.
func Walk(ctx context.Context, r io.Reader, lim Limits, visit func(*Entry) error) (WalkStats, error) {
	lim = lim.withDefaults()
	var st WalkStats
	tr := tar.NewReader(r)
	var e Entry
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("read layer tar after %d entries: %w", st.Entries, err)
		}
		st.Entries++
		if lim.MaxEntries >= 0 && st.Entries > lim.MaxEntries {
			return st, hostile("layer has more than %d entries", lim.MaxEntries)
		}
		ok, err := fillEntry(&e, hdr, lim)
		if err != nil {
			return st, err
		}
		if !ok {
			continue
		}
		st.Bytes += e.Size
		if exceeds(st.Bytes, lim.MaxLayerSize) {
			return st, hostile("layer expands beyond %d bytes", lim.MaxLayerSize)
		}
		if e.Kind == KindFile {
			e.Content = tr
		}
		if err := visit(&e); err != nil {
			return st, err
		}
	}
}

// fillEntry normalises hdr into e; ok is false for entries that carry nothing for us.
func fillEntry(e *Entry, hdr *tar.Header, lim Limits) (ok bool, err error) {
	*e = Entry{}
	p, err := CleanPath(hdr.Name)
	if err != nil {
		return false, err
	}
	e.Path, e.Size, e.ModTime = p, hdr.Size, hdr.ModTime
	e.Mode = hdr.FileInfo().Mode()
	if exceeds(hdr.Size, lim.MaxEntrySize) {
		return false, hostile("entry %q is %d bytes, over the %d-byte limit", p, hdr.Size, lim.MaxEntrySize)
	}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if strings.HasPrefix(base, ".wh.") {
		switch {
		case base == ".wh..wh..opq":
			e.Kind, e.Path, e.Size = KindOpaque, dir, 0
		case strings.HasPrefix(base, ".wh..wh."):
			return false, nil // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs)
		default:
			e.Kind, e.Path, e.Size = KindWhiteout, path.Join(dir, base[len(".wh."):]), 0
		}
		return true, nil
	}
	if p == "" {
		return false, nil // the root directory itself
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse: // archive/tar reports old "\x00" regular files as TypeReg
		e.Kind = KindFile
	case tar.TypeDir:
		e.Kind, e.Size = KindDir, 0
	case tar.TypeSymlink:
		e.Kind, e.Linkname, e.Size = KindSymlink, hdr.Linkname, 0
		if !lim.AllowHostileSymlinks && SymlinkEscapes(p, hdr.Linkname) {
			return false, hostile("symlink %q -> %q points outside the root", p, hdr.Linkname)
		}
	case tar.TypeLink:
		target, err := CleanPath(hdr.Linkname)
		if err != nil {
			return false, hostile("hard link %q: %v", p, err)
		}
		e.Kind, e.Linkname, e.Size = KindHardlink, target, 0
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if lim.AllowSpecialFiles {
			return false, nil
		}
		return false, hostile("special file %q (device or FIFO) in layer", p)
	default:
		return false, nil
	}
	return true, nil
}

// CleanPath turns an archive member name into a root-relative slash path ("" for the root). It
// refuses NUL bytes and names whose ".." components climb above the root, rather than silently
// clamping them, because such names only appear in archives built to attack extractors.
func CleanPath(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", hostile("entry name %q contains a NUL byte", name)
	}
	if !strings.Contains(name, "..") {
		// Fast path: no climbing possible.
		c := path.Clean("/" + name)
		return c[1:], nil
	}
	depth := 0
	for seg := range strings.SplitSeq(name, "/") {
		switch seg {
		case "", ".":
		case "..":
			if depth == 0 {
				return "", hostile("entry %q climbs above the root", name)
			}
			depth--
		default:
			depth++
		}
	}
	c := path.Clean("/" + name)
	return c[1:], nil
}

// SymlinkEscapes reports whether the symlink at linkPath (root-relative) with the given target
// climbs above the root when resolved lexically: absolute targets from the root, relative ones
// from the link's directory. Linux would clamp such a climb at "/", but a well-formed image never
// needs it, and following it outside a chroot is exactly the attack.
func SymlinkEscapes(linkPath, target string) bool {
	depth := 0
	if !strings.HasPrefix(target, "/") {
		if dir := path.Dir(linkPath); dir != "." {
			depth = strings.Count(dir, "/") + 1
		}
	}
	for seg := range strings.SplitSeq(target, "/") {
		switch seg {
		case "", ".":
		case "..":
			if depth == 0 {
				return true
			}
			depth--
		default:
			depth++
		}
	}
	return false
}
