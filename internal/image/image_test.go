package image_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/image"
)

const (
	alpineTar  = "../../testdata/images/alpine-3.10.4.docker-save.tar.gz"
	alpineDiff = "sha256:531743b7098cb2aaf615641007a129173f63ed86ca32fe7b5a246a1c47286028"
	scalibr    = "../../testdata/images/osv-scalibr/"
)

// walked is what a test sees of one layer: entries by path, plus the walk error.
type walked struct {
	files    map[string]string // regular file path -> content
	symlinks map[string]string
	other    map[string]image.EntryKind
}

func walkLayer(t *testing.T, img *image.Image, i int, lim image.Limits) (walked, error) {
	t.Helper()
	w := walked{files: map[string]string{}, symlinks: map[string]string{}, other: map[string]image.EntryKind{}}
	lr, err := img.OpenLayer(context.Background(), i)
	if err != nil {
		return w, err
	}
	defer lr.Close()
	_, err = image.Walk(context.Background(), lr, lim, func(e *image.Entry) error {
		switch e.Kind {
		case image.KindFile:
			b, err := io.ReadAll(e.Content)
			if err != nil {
				return err
			}
			w.files[e.Path] = string(b)
		case image.KindSymlink:
			w.symlinks[e.Path] = e.Linkname
		default:
			w.other[e.Path] = e.Kind
		}
		return nil
	})
	if err != nil {
		return w, err
	}
	return w, lr.Finish()
}

func open(t *testing.T, target string, opts image.Options) *image.Image {
	t.Helper()
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	img, err := image.Open(context.Background(), target, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", target, err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

func TestDockerArchiveGzipped(t *testing.T) {
	img := open(t, alpineTar, image.Options{})
	if got, want := len(img.Layers), 1; got != want {
		t.Fatalf("layers = %d, want %d", got, want)
	}
	if img.Layers[0].DiffID != alpineDiff {
		t.Errorf("diff ID = %s, want %s", img.Layers[0].DiffID, alpineDiff)
	}
	tgt := img.Target
	if tgt.Format != "docker-archive" || tgt.Platform != "linux/amd64" || !strings.HasPrefix(tgt.ImageID, "sha256:af341cc") {
		t.Errorf("target = %+v", tgt)
	}
	w, err := walkLayer(t, img, 0, image.Limits{})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	if !strings.Contains(w.files["lib/apk/db/installed"], "P:musl\n") {
		t.Errorf("lib/apk/db/installed missing or without musl")
	}
	if !strings.HasPrefix(w.files["etc/os-release"], `NAME="Alpine Linux"`) {
		t.Errorf("etc/os-release = %q", w.files["etc/os-release"])
	}
	if w.symlinks["bin/sh"] != "/bin/busybox" {
		t.Errorf("bin/sh -> %q, want /bin/busybox", w.symlinks["bin/sh"])
	}
}

func TestOCILayoutDirAndTar(t *testing.T) {
	dir := "../../testdata/images/trivy-test.oci"
	tarFile := filepath.Join(t.TempDir(), "layout.tar")
	if out, err := exec.Command("tar", "-C", dir, "-cf", tarFile, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	for _, target := range []string{dir, tarFile} {
		img := open(t, target, image.Options{})
		if img.Target.Format != "oci-layout" || img.Target.Digest != "sha256:afb744871f99e0ff8e6f253244836ed34c5d805fdb096d3a205ffaf5e9073cab" {
			t.Errorf("%s: target = %+v", target, img.Target)
		}
		if len(img.Layers) != 1 {
			t.Fatalf("%s: %d layers", target, len(img.Layers))
		}
		w, err := walkLayer(t, img, 0, image.Limits{})
		if err != nil {
			t.Fatalf("%s: walk: %v", target, err)
		}
		if len(w.files)+len(w.symlinks)+len(w.other) == 0 {
			t.Errorf("%s: empty layer", target)
		}
	}
}

func TestScalibrArchives(t *testing.T) {
	img := open(t, scalibr+"overwrite-file.tar", image.Options{})
	var contents []string
	for i := range img.Layers {
		w, err := walkLayer(t, img, i, image.Limits{})
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		contents = append(contents, w.files["sample.txt"])
	}
	if diff := cmp.Diff([]string{"sample text file\n", "overwritten sample text file\n"}, contents); diff != "" {
		t.Errorf("sample.txt per layer (-want +got):\n%s", diff)
	}

	img = open(t, scalibr+"permissions.tar", image.Options{})
	w, err := walkLayer(t, img, 0, image.Limits{})
	if err != nil || w.files["sample.txt"] == "" {
		t.Errorf("permissions.tar: a mode-000 file must still be readable from the stream: %v %v", w.files, err)
	}
}

func TestEscapingSymlinksRefused(t *testing.T) {
	for _, f := range []string{"symlink-attack.tar", "symlinks.tar"} {
		img := open(t, scalibr+f, image.Options{})
		var err error
		for i := range img.Layers {
			if _, err = walkLayer(t, img, i, image.Limits{}); err != nil {
				break
			}
		}
		if !errors.Is(err, image.ErrHostile) || !strings.Contains(err.Error(), "attack-symlink") {
			t.Errorf("%s: err = %v, want ErrHostile naming the attack symlink", f, err)
		}
	}
}

// tree merges the symlinks and files of every layer (no whiteouts in these fixtures) into a lookup.
func tree(t *testing.T, img *image.Image, lim image.Limits) image.Lookup {
	t.Helper()
	tr := image.NewTree()
	for i := range img.Layers {
		w, err := walkLayer(t, img, i, lim)
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		for p := range w.files {
			tr.Add(p, image.Node{})
		}
		for p := range w.other {
			tr.Add(p, image.Node{})
		}
		for p, target := range w.symlinks {
			tr.Add(p, image.Node{Symlink: true, Target: target})
		}
	}
	return tr.Lookup
}

func TestResolveSymlinks(t *testing.T) {
	allow := image.Limits{AllowHostileSymlinks: true}
	cases := []struct {
		archive, path string
		want          string
		wantErr       error
		depth         int
	}{
		{"symlinks.tar", "dir1/absolute-symlink.txt", "dir1/sample.txt", nil, 0},
		{"symlinks.tar", "dir1/chain-symlink.txt", "dir1/sample.txt", nil, 0},
		{"symlinks.tar", "dir1/relative-dot-symlink.txt", "dir1/sample.txt", nil, 0},
		{"symlinks.tar", "dir2/dir3/absolute-chain-symlink.txt", "dir1/sample.txt", nil, 0},
		{"symlinks.tar", "dir2/dir3/relative-subfolder-symlink.txt", "dir1/sample.txt", nil, 0},
		{"symlinks.tar", "dir2/dir3/absolute-symlink-inside-root.txt", "dir1/sample.txt", nil, 0},
		{"symlinks.tar", "dir1/attack-symlink.txt", "", image.ErrSymlinkEscape, 0},
		{"symlinks.tar", "dir1/attack-symlink-absolute.txt", "", image.ErrSymlinkEscape, 0},
		{"dangling-symlinks.tar", "dir1/absolute-symlink.txt", "", fs.ErrNotExist, 0},
		{"dangling-symlinks.tar", "dir2/dir3/absolute-chain-symlink.txt", "", fs.ErrNotExist, 0},
		{"symlink-cycle.tar", "dir1/sample.txt", "", image.ErrSymlinkCycle, 0},
		{"symlink-depth-exceeded.tar", "dir1/symlink7.txt", "dir1/sample.txt", nil, 40},
		{"symlink-depth-exceeded.tar", "dir1/symlink7.txt", "", image.ErrSymlinkDepth, 6},
	}
	for _, c := range cases {
		t.Run(c.archive+"/"+c.path, func(t *testing.T) {
			img := open(t, scalibr+c.archive, image.Options{})
			depth := c.depth
			if depth == 0 {
				depth = 40
			}
			got, err := image.Resolve(c.path, tree(t, img, allow), depth)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Resolve = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// TestEscapeTrampoline walks osv-scalibr's escape.tar, a bare layer whose symlinks each look
// harmless but chain through a "." trampoline to climb out of the root. The walk passes (no
// single entry escapes lexically); resolving the chain is what must fail.
func TestEscapeTrampoline(t *testing.T) {
	f, err := os.Open(scalibr + "escape.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := image.NewTree()
	_, err = image.Walk(context.Background(), f, image.Limits{}, func(e *image.Entry) error {
		tr.Add(e.Path, image.Node{Symlink: e.Kind == image.KindSymlink, Target: e.Linkname})
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	lookup := tr.Lookup
	for _, p := range []string{"usr/share/doc/b/copyright", "usr/share/doc/c/copyright"} {
		if _, err := image.Resolve(p, lookup, 40); !errors.Is(err, image.ErrSymlinkEscape) {
			t.Errorf("Resolve(%s) err = %v, want ErrSymlinkEscape", p, err)
		}
	}
}

func TestNotAnImage(t *testing.T) {
	_, err := image.Open(context.Background(), scalibr+"escape.tar", image.Options{TempDir: t.TempDir()})
	if !errors.Is(err, image.ErrNotImage) {
		t.Errorf("bare layer tar: err = %v, want ErrNotImage", err)
	}
	_, err = image.Open(context.Background(), t.TempDir(), image.Options{})
	if !errors.Is(err, image.ErrNotImage) {
		t.Errorf("empty dir: err = %v, want ErrNotImage", err)
	}
	_, err = image.Open(context.Background(), "./no/such/image.tar", image.Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

// layerTar builds a layer tar from headers (content is zero bytes of each header's size).
func layerTar(t *testing.T, hdrs ...*tar.Header) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "layer-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.CopyN(tw, zeros{}, h.Size); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	return f
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestWalkRefusesHostileEntries(t *testing.T) {
	reg := func(name string, size int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size, Mode: 0o644}
	}
	cases := []struct {
		name string
		hdrs []*tar.Header
		lim  image.Limits
		want string
	}{
		{"path escape", []*tar.Header{reg("a/../../etc/passwd", 1)}, image.Limits{}, "climbs above the root"},
		{"hard link escape", []*tar.Header{{Name: "x", Typeflag: tar.TypeLink, Linkname: "../../etc/shadow"}}, image.Limits{}, "climbs above the root"},
		{"char device", []*tar.Header{{Name: "dev/console", Typeflag: tar.TypeChar, Devmajor: 5, Devminor: 1}}, image.Limits{}, "special file"},
		{"fifo", []*tar.Header{{Name: "run/fifo", Typeflag: tar.TypeFifo}}, image.Limits{}, "special file"},
		{"entry size", []*tar.Header{reg("big", 2048)}, image.Limits{MaxEntrySize: 1024}, "over the 1024-byte limit"},
		{"layer size", []*tar.Header{reg("a", 600), reg("b", 600)}, image.Limits{MaxLayerSize: 1000}, "expands beyond 1000 bytes"},
		{"entry count", []*tar.Header{reg("a", 1), reg("b", 1), reg("c", 1)}, image.Limits{MaxEntries: 2}, "more than 2 entries"},
		{"escaping symlink", []*tar.Header{{Name: "etc/passwd", Typeflag: tar.TypeSymlink, Linkname: "../../../../etc/passwd"}}, image.Limits{}, "points outside the root"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := layerTar(t, c.hdrs...)
			_, err := image.Walk(context.Background(), f, c.lim, func(*image.Entry) error { return nil })
			if !errors.Is(err, image.ErrHostile) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrHostile containing %q", err, c.want)
			}
		})
	}
	// Special files are skipped, not refused, when allowed.
	f := layerTar(t, &tar.Header{Name: "dev/null", Typeflag: tar.TypeChar}, reg("ok", 1))
	var seen []string
	_, err := image.Walk(context.Background(), f, image.Limits{AllowSpecialFiles: true}, func(e *image.Entry) error {
		seen = append(seen, e.Path)
		return nil
	})
	if err != nil || !cmp.Equal(seen, []string{"ok"}) {
		t.Errorf("AllowSpecialFiles: seen %v, err %v", seen, err)
	}
}

func TestWalkWhiteouts(t *testing.T) {
	f := layerTar(t,
		&tar.Header{Name: "./etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "etc/.wh.motd", Typeflag: tar.TypeReg},
		&tar.Header{Name: "var/cache/.wh..wh..opq", Typeflag: tar.TypeReg},
		&tar.Header{Name: "/.wh..wh.plnk", Typeflag: tar.TypeReg},
		&tar.Header{Name: "/usr/bin/tool", Typeflag: tar.TypeReg, Size: 3, Mode: 0o755},
	)
	type got struct {
		Path string
		Kind image.EntryKind
	}
	var seen []got
	_, err := image.Walk(context.Background(), f, image.Limits{}, func(e *image.Entry) error {
		seen = append(seen, got{e.Path, e.Kind})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []got{{"etc", image.KindDir}, {"etc/motd", image.KindWhiteout}, {"var/cache", image.KindOpaque}, {"usr/bin/tool", image.KindFile}}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// TestGzippedArchiveLeavesNothingBehind: a .tar.gz archive is expanded into the temporary
// directory to be read at random; closing the image (or failing to open it) must remove the copy.
func TestGzippedArchiveLeavesNothingBehind(t *testing.T) {
	tmp := t.TempDir()
	img, err := image.Open(context.Background(), alpineTar, image.Options{TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 1 {
		t.Fatalf("while open: %d files in the temporary directory, want the one expanded copy", len(left))
	}
	img.Close()
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("after Close: %d files left in the temporary directory", len(left))
	}

	data, err := os.ReadFile(alpineTar)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.tar.gz")
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	if _, err := image.Open(context.Background(), truncated, image.Options{TempDir: tmp}); err == nil {
		t.Fatal("truncated archive opened")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("after a failed open: %d files left in the temporary directory", len(left))
	}
}
