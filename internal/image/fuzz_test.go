package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/image"
)

// FuzzWalk feeds arbitrary bytes to the layer walker as a tar stream, then resolves every
// symlink it recorded. Whatever the input: no panic, every emitted path is clean and inside the
// root, reads never exceed the declared size, and resolution ends (bounded by the depth limit).
func FuzzWalk(f *testing.F) {
	for _, name := range []string{"escape.tar"} {
		if b, err := os.ReadFile(scalibr + name); err == nil {
			f.Add(b)
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "etc/.wh..wh..opq", Typeflag: tar.TypeReg})
	tw.WriteHeader(&tar.Header{Name: "a/b", Typeflag: tar.TypeSymlink, Linkname: "../c/../b"})
	tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Size: 3})
	tw.Write([]byte("abc"))
	tw.Close()
	f.Add(buf.Bytes())
	lim := image.Limits{MaxEntries: 1000, MaxLayerSize: 1 << 20, MaxEntrySize: 1 << 20, AllowHostileSymlinks: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := image.NewTree()
		_, err := image.Walk(context.Background(), bytes.NewReader(data), lim, func(e *image.Entry) error {
			if strings.HasPrefix(e.Path, "/") || e.Path != path.Clean(e.Path) || e.Path == ".." || strings.HasPrefix(e.Path, "../") {
				t.Fatalf("unclean path %q", e.Path)
			}
			if e.Kind == image.KindFile {
				n, err := io.Copy(io.Discard, e.Content)
				if err == nil && n > e.Size {
					t.Fatalf("%s: read %d bytes, declared %d", e.Path, n, e.Size)
				}
			}
			if e.Path != "" {
				tr.Add(e.Path, image.Node{Symlink: e.Kind == image.KindSymlink, Target: e.Linkname})
			}
			return nil
		})
		if err != nil {
			return
		}
		for _, p := range tr.Symlinks() {
			got, err := image.Resolve(p, tr.Lookup, 40)
			if err == nil && (strings.HasPrefix(got, "/") || strings.HasPrefix(got, "..")) {
				t.Fatalf("Resolve(%s) = %q escapes", p, got)
			}
		}
	})
}

// FuzzCleanPath checks that CleanPath either refuses a name or returns a clean relative path,
// and that SymlinkEscapes agrees with a lexical resolution.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"a/../../b", "/etc/passwd", "./x/./y/", "..", "a/b/../../c", "a\x00b"} {
		f.Add(s, "../x")
	}
	f.Fuzz(func(t *testing.T, name, target string) {
		p, err := image.CleanPath(name)
		if err != nil {
			if !errors.Is(err, image.ErrHostile) {
				t.Fatalf("CleanPath(%q) error %v is not ErrHostile", name, err)
			}
			return
		}
		if p != "" && (p != path.Clean(p) || strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../")) {
			t.Fatalf("CleanPath(%q) = %q", name, p)
		}
		if p == "" || strings.ContainsRune(target, 0) {
			return
		}
		// Differential check: path.Join cleans lexically without clamping relative paths, so the
		// link escapes exactly when the joined path starts with "..".
		base, rel := path.Dir(p), target
		if strings.HasPrefix(target, "/") {
			base, rel = ".", strings.TrimLeft(target, "/")
		}
		j := path.Join(base, rel)
		want := j == ".." || strings.HasPrefix(j, "../")
		if got := image.SymlinkEscapes(p, target); got != want {
			t.Fatalf("SymlinkEscapes(%q, %q) = %v, but path.Join gives %q", p, target, got, j)
		}
	})
}
