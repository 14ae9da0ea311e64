package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/klauspost/compress/gzip"
)

// store reads the named members of an image archive: an unpacked directory or a tar file.
// Names are slash-separated and relative; symlinks inside the archive are followed within it.
type store interface {
	open(name string) (io.ReadCloser, error)
	exists(name string) bool
	close() error
}

// dirStore reads from a directory through os.Root, so no name or symlink can leave it.
type dirStore struct{ root *os.Root }

func openDirStore(dir string) (*dirStore, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open image directory: %w", err)
	}
	return &dirStore{root: r}, nil
}

func (d *dirStore) open(name string) (io.ReadCloser, error) {
	f, err := d.root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return f, nil
}

func (d *dirStore) exists(name string) bool {
	_, err := d.root.Stat(name)
	return err == nil
}

func (d *dirStore) close() error { return d.root.Close() }

// tarStore indexes a tar file once, recording where each member's data starts, and then serves
// members as section readers. go-containerregistry's tarball package rescans the whole archive
// for every member it opens; an image with dozens of layers would be read dozens of times.
type tarStore struct {
	f       *os.File
	members map[string]tarMember
	maxLink int
	// expanded is set when f is a temporary copy of a gzipped archive; close removes it.
	expanded bool
}

type tarMember struct {
	offset, size int64
	link         string // symlink or hard-link target (cleaned, archive-relative)
	bad          bool   // the link leaves the archive
}

// openTarStore indexes the tar at file. A gzip-compressed archive (docker save | gzip) is first
// expanded into tmpDir, bounded by maxSize, since members must be read at random.
func openTarStore(ctx context.Context, file, tmpDir string, maxSize int64, maxLink int) (*tarStore, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("open image archive: %w", err)
	}
	s := &tarStore{f: f, members: map[string]tarMember{}, maxLink: maxLink}
	var magic [2]byte
	if _, err := io.ReadFull(f, magic[:]); err == nil && magic == [2]byte{0x1f, 0x8b} {
		plain, err := gunzipToTemp(ctx, f, tmpDir, maxSize)
		f.Close()
		if err != nil {
			return nil, err
		}
		s.f, s.expanded = plain, true
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		s.close()
		return nil, fmt.Errorf("read image archive: %w", err)
	}
	if err := s.index(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func gunzipToTemp(ctx context.Context, f *os.File, tmpDir string, maxSize int64) (*os.File, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read image archive: %w", err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("image archive: gzip: %w", err)
	}
	defer zr.Close()
	out, err := os.CreateTemp(tmpDir, "archive-*.tar")
	if err != nil {
		return nil, fmt.Errorf("expand image archive: %w", err)
	}
	limit := maxSize
	if limit < 0 {
		limit = 1<<63 - 2
	}
	n, err := io.Copy(out, io.LimitReader(ctxReader{ctx, zr}, limit+1))
	if err == nil && n > limit {
		err = hostile("compressed image archive expands beyond %d bytes", maxSize)
	}
	if err != nil {
		out.Close()
		os.Remove(out.Name())
		return nil, fmt.Errorf("expand image archive: %w", err)
	}
	return out, nil
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// offsetReader tracks the position of the underlying file so the data offset of each tar member
// is known; it forwards Seek so archive/tar skips member data without reading it.
type offsetReader struct {
	f   *os.File
	pos int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.f.Read(p)
	o.pos += int64(n)
	return n, err
}

func (o *offsetReader) Seek(off int64, whence int) (int64, error) {
	n, err := o.f.Seek(off, whence)
	if err == nil {
		o.pos = n
	}
	return n, err
}

func (s *tarStore) index(ctx context.Context) error {
	or := &offsetReader{f: s.f}
	tr := tar.NewReader(or)
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if len(s.members) == 0 {
				return errors.New("image archive: not a tar file or empty")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("image archive: not a valid tar file: %w", err)
		}
		name, err := CleanPath(hdr.Name)
		if err != nil {
			return err
		}
		m := tarMember{offset: or.pos, size: hdr.Size}
		switch hdr.Typeflag {
		case tar.TypeReg:
		case tar.TypeSymlink:
			m.link = path.Join(path.Dir(name), hdr.Linkname)
			if path.IsAbs(hdr.Linkname) || SymlinkEscapes(name, hdr.Linkname) {
				// Refused only if something needs to follow it.
				m.link, m.bad = hdr.Linkname, true
			}
		case tar.TypeLink:
			if m.link, err = CleanPath(hdr.Linkname); err != nil {
				return err
			}
		default:
			continue
		}
		s.members[name] = m
	}
}

func (s *tarStore) lookup(name string) (tarMember, error) {
	for range s.maxLink + 1 {
		m, ok := s.members[name]
		if !ok {
			return tarMember{}, fmt.Errorf("%s not found in image archive: %w", name, fs.ErrNotExist)
		}
		if m.bad {
			return tarMember{}, hostile("image archive member %q links outside the archive (%q)", name, m.link)
		}
		if m.link == "" {
			return m, nil
		}
		name = m.link
	}
	return tarMember{}, fmt.Errorf("image archive member %s: %w", name, ErrSymlinkDepth)
}

func (s *tarStore) open(name string) (io.ReadCloser, error) {
	m, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(io.NewSectionReader(s.f, m.offset, m.size)), nil
}

func (s *tarStore) exists(name string) bool {
	_, err := s.lookup(name)
	return err == nil
}

func (s *tarStore) close() error {
	err := s.f.Close()
	if s.expanded {
		if rerr := os.Remove(s.f.Name()); err == nil {
			err = rerr
		}
	}
	return err
}
