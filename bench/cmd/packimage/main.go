// Command packimage packs a stack of root filesystem trees into a layered container image,
// written both as a docker-archive tarball (`docker save` format) and as an OCI image layout.
//
// It is benchmark tooling (see bench/build-debian-image.sh), not part of the scanner.
//
//	packimage [-tag T] [-docker OUT.tar] [-oci DIR] [-work DIR] [-level N] ROOTFS1 [ROOTFS2 ...]
//
// Layer 1 is the whole of ROOTFS1. Layer i>1 is the diff ROOTFS(i-1) -> ROOTFS(i): entries whose
// type, mode, owner, link target or content changed (plus their parent directories), and a
// ".wh.NAME" whiteout for each path that exists below but not above. The contents of /dev, /proc
// and /sys, device nodes and sockets are left out. Layers are gzip-compressed tar files written to
// -work; a summary line per layer is printed to stdout.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

func main() {
	tag := flag.String("tag", "stellaops.bench/image:latest", "image reference recorded in the outputs")
	dockerOut := flag.String("docker", "", "write a docker-archive tarball to this file")
	ociOut := flag.String("oci", "", "write an OCI image layout to this directory")
	work := flag.String("work", "packimage-work", "directory for the layer .tar.gz files")
	level := flag.Int("level", gzip.DefaultCompression, "gzip level for the layers")
	flag.Parse()
	roots := flag.Args()
	if len(roots) == 0 || (*dockerOut == "" && *ociOut == "") {
		fmt.Fprintln(os.Stderr, "usage: packimage [-tag T] [-docker OUT.tar] [-oci DIR] [-work DIR] ROOTFS...")
		os.Exit(2)
	}
	log.SetFlags(0)
	log.SetPrefix("packimage: ")
	if err := os.MkdirAll(*work, 0o755); err != nil {
		log.Fatal(err)
	}

	var adds []mutate.Addendum
	for i, root := range roots {
		lower := ""
		if i > 0 {
			lower = roots[i-1]
		}
		start := time.Now()
		out := filepath.Join(*work, fmt.Sprintf("layer-%d.tar.gz", i+1))
		l, st, err := writeLayer(out, lower, root, *level)
		if err != nil {
			log.Fatalf("layer %d (%s): %v", i+1, root, err)
		}
		fmt.Printf("layer %d  %-12s entries=%-6d whiteouts=%-4d uncompressed=%-10d (%5.1f MB)  gzip=%-10d (%5.1f MB)  %s  %.1fs\n",
			i+1, filepath.Base(root), st.entries, st.whiteouts, st.usize, mb(st.usize), st.csize, mb(st.csize),
			l.digest, time.Since(start).Seconds())
		adds = append(adds, mutate.Addendum{
			Layer:     l,
			MediaType: types.DockerLayer,
			History: v1.History{
				CreatedBy: "packimage: diff " + filepath.Base(lower) + " -> " + filepath.Base(root),
				Created:   v1.Time{Time: time.Now().UTC().Truncate(time.Second)},
			},
		})
	}

	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		log.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		log.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: time.Now().UTC().Truncate(time.Second)}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.Cmd = []string{"bash"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		log.Fatal(err)
	}

	ref, err := name.NewTag(*tag)
	if err != nil {
		log.Fatal(err)
	}
	if *dockerOut != "" {
		if err := tarball.WriteToFile(*dockerOut, ref, img); err != nil {
			log.Fatal(err)
		}
	}
	if *ociOut != "" {
		p, err := layout.Write(*ociOut, empty.Index)
		if err != nil {
			log.Fatal(err)
		}
		ann := map[string]string{"org.opencontainers.image.ref.name": ref.String()}
		if err := p.AppendImage(img, layout.WithAnnotations(ann)); err != nil {
			log.Fatal(err)
		}
	}
	d, _ := img.Digest()
	fmt.Printf("image %s  manifest=%s\n", ref, d)
}

func mb(n int64) float64 { return float64(n) / 1e6 }

type stats struct {
	entries, whiteouts int
	usize, csize       int64
}

// fileLayer is a v1.Layer backed by a gzip file whose digests were computed while writing it.
type fileLayer struct {
	path           string
	digest, diffID v1.Hash
	size           int64
}

func (l *fileLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)             { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                 { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error)  { return types.DockerLayer, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) { return gunzipFile(l.path) }

type gzFile struct {
	*gzip.Reader
	f *os.File
}

func (g gzFile) Close() error { g.Reader.Close(); return g.f.Close() }

func gunzipFile(p string) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return gzFile{zr, f}, nil
}

type countingHash struct {
	hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) { c.n += int64(len(p)); return c.Hash.Write(p) }

func v1hash(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// writeLayer writes the diff lower -> upper (lower == "" means the whole of upper) to out.
func writeLayer(out, lower, upper string, level int) (*fileLayer, stats, error) {
	var st stats
	f, err := os.Create(out)
	if err != nil {
		return nil, st, err
	}
	defer f.Close()
	ch := &countingHash{Hash: sha256.New()}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(f, ch), level)
	if err != nil {
		return nil, st, err
	}
	uh := &countingHash{Hash: sha256.New()}
	w := &layerWriter{tw: tar.NewWriter(io.MultiWriter(zw, uh)), upper: upper, emitted: map[string]bool{"": true}, links: map[[2]uint64]string{}}

	if err := w.addTree(lower); err != nil {
		return nil, st, err
	}
	if lower != "" {
		if err := w.addWhiteouts(lower); err != nil {
			return nil, st, err
		}
	}
	if err := w.tw.Close(); err != nil {
		return nil, st, err
	}
	if err := zw.Close(); err != nil {
		return nil, st, err
	}
	if err := f.Close(); err != nil {
		return nil, st, err
	}
	st.entries, st.whiteouts, st.usize, st.csize = w.entries, w.whiteouts, uh.n, ch.n
	return &fileLayer{path: out, digest: v1hash(ch), diffID: v1hash(uh), size: ch.n}, st, nil
}

type layerWriter struct {
	tw                 *tar.Writer
	upper              string
	emitted            map[string]bool      // directories already written (rel paths)
	links              map[[2]uint64]string // (dev, inode) -> first name written, for hard links
	entries, whiteouts int
}

// skipped reports whether rel (slash-separated, relative to the rootfs) is left out of layers.
func skipped(rel string) bool {
	for _, d := range []string{"dev/", "proc/", "sys/"} {
		if strings.HasPrefix(rel, d) {
			return true
		}
	}
	return rel == ".complete"
}

func (w *layerWriter) addTree(lower string) error {
	return filepath.WalkDir(w.upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(w.upper, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if skipped(rel) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeSocket) != 0 {
			return nil
		}
		if lower != "" {
			same, err := unchanged(filepath.Join(lower, filepath.FromSlash(rel)), p, fi)
			if err != nil {
				return err
			}
			if same {
				return nil
			}
		}
		return w.emit(rel, p, fi)
	})
}

// unchanged reports whether lowerPath has the same type, mode, owner and content as upperPath.
func unchanged(lowerPath, upperPath string, ufi fs.FileInfo) (bool, error) {
	lfi, err := os.Lstat(lowerPath)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if lfi.Mode() != ufi.Mode() {
		return false, nil
	}
	ls, us := lfi.Sys().(*syscall.Stat_t), ufi.Sys().(*syscall.Stat_t)
	if ls.Uid != us.Uid || ls.Gid != us.Gid {
		return false, nil
	}
	switch {
	case ufi.Mode().IsDir():
		return true, nil // a changed child re-emits its parents
	case ufi.Mode()&fs.ModeSymlink != 0:
		a, err1 := os.Readlink(lowerPath)
		b, err2 := os.Readlink(upperPath)
		return err1 == nil && err2 == nil && a == b, nil
	case ufi.Mode().IsRegular():
		if lfi.Size() != ufi.Size() {
			return false, nil
		}
		return sameContent(lowerPath, upperPath)
	default:
		return true, nil // fifos
	}
}

func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea != nil || eb != nil {
			return (ea == io.EOF || ea == io.ErrUnexpectedEOF) && (eb == io.EOF || eb == io.ErrUnexpectedEOF), nil
		}
	}
}

// ensureParents writes the directory entries of rel's ancestors that are not in the layer yet.
func (w *layerWriter) ensureParents(rel string) error {
	dir := path.Dir(rel)
	if dir == "." || w.emitted[dir] {
		return nil
	}
	if err := w.ensureParents(dir); err != nil {
		return err
	}
	fi, err := os.Lstat(filepath.Join(w.upper, filepath.FromSlash(dir)))
	if err != nil {
		return err
	}
	return w.emit(dir, filepath.Join(w.upper, filepath.FromSlash(dir)), fi)
}

func (w *layerWriter) emit(rel, p string, fi fs.FileInfo) error {
	if err := w.ensureParents(rel); err != nil {
		return err
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	sys := fi.Sys().(*syscall.Stat_t)
	hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = rel, int(sys.Uid), int(sys.Gid), "", ""
	if fi.IsDir() {
		hdr.Name += "/"
		w.emitted[rel] = true
	}
	if fi.Mode().IsRegular() && sys.Nlink > 1 {
		key := [2]uint64{uint64(sys.Dev), sys.Ino}
		if first, ok := w.links[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			w.links[key] = rel
		}
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	w.entries++
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	src, err := os.Open(p)
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = io.CopyN(w.tw, src, hdr.Size)
	return err
}

// addWhiteouts writes a ".wh." entry for every top-most path of lower that is gone from upper.
func (w *layerWriter) addWhiteouts(lower string) error {
	return filepath.WalkDir(lower, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(lower, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if skipped(rel) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if ufi, err := os.Lstat(filepath.Join(w.upper, filepath.FromSlash(rel))); err == nil {
			if d.IsDir() && !ufi.IsDir() {
				return fs.SkipDir // a directory replaced by a non-directory: the new entry hides it
			}
			return nil
		} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return err
		}
		wh := path.Join(path.Dir(rel), ".wh."+path.Base(rel))
		if err := w.ensureParents(wh); err != nil {
			return err
		}
		hdr := &tar.Header{Name: wh, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: time.Unix(0, 0)}
		if err := w.tw.WriteHeader(hdr); err != nil {
			return err
		}
		w.entries++
		w.whiteouts++
		if d.IsDir() {
			return fs.SkipDir
		}
		return nil
	})
}
