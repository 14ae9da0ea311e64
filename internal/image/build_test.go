package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/stellaops/stellaops/internal/image"
)

// alpineImage loads the real alpine image through go-containerregistry, as a source for
// building other archive shapes from real content.
func alpineImage(t *testing.T) v1.Image {
	t.Helper()
	f, err := os.Open(alpineTar)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// ggcr's tarball reader wants an uncompressed archive.
	plain := filepath.Join(t.TempDir(), "alpine.tar")
	out, err := os.Create(plain)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzipReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	out.Close()
	img, err := tarball.ImageFromPath(plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// smallImage builds a one-layer image from files (path -> content).
func smallImage(t *testing.T, files map[string]string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for p, c := range files {
		if err := tw.WriteHeader(&tar.Header{Name: p, Typeflag: tar.TypeReg, Size: int64(len(c)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(c))
	}
	tw.Close()
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestMultiImageArchivePickByTag(t *testing.T) {
	a, b := alpineImage(t), smallImage(t, map[string]string{"etc/hello": "world\n"})
	file := filepath.Join(t.TempDir(), "bundle.tar")
	ta, _ := name.NewTag("alpine:3.10")
	tb, _ := name.NewTag("registry.example.com/team/hello:1")
	if err := tarball.MultiWriteToFile(file, map[name.Tag]v1.Image{ta: a, tb: b}); err != nil {
		t.Fatal(err)
	}
	_, err := image.Open(context.Background(), file, image.Options{TempDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "holds 2 images") || !strings.Contains(err.Error(), "alpine:3.10, registry.example.com/team/hello:1") {
		t.Fatalf("no tag: err = %v, want a list of the tags", err)
	}
	img := open(t, file, image.Options{Tag: "registry.example.com/team/hello:1"})
	w, err := walkLayer(t, img, 0, image.Limits{})
	if err != nil || w.files["etc/hello"] != "world\n" {
		t.Fatalf("hello image: files %v err %v", w.files, err)
	}
	img = open(t, file, image.Options{Tag: "docker.io/library/alpine:3.10"})
	if img.Layers[0].DiffID != alpineDiff {
		t.Errorf("alpine picked by normalised tag: diff ID %s", img.Layers[0].DiffID)
	}
	if _, err := image.Open(context.Background(), file, image.Options{Tag: "nope:1", TempDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no image tagged nope:1") {
		t.Errorf("unknown tag: err = %v", err)
	}
}

func TestRegistryPull(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, err := name.ParseReference(host+"/library/alpine:3.10", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	src := alpineImage(t)
	if err := remote.Write(ref, src); err != nil {
		t.Fatal(err)
	}
	want, _ := src.Digest()
	img := open(t, host+"/library/alpine:3.10", image.Options{Insecure: true})
	if img.Target.Format != "registry" || img.Target.Digest != want.String() {
		t.Errorf("target = %+v, want digest %s", img.Target, want)
	}
	w, err := walkLayer(t, img, 0, image.Limits{})
	if err != nil || !strings.Contains(w.files["lib/apk/db/installed"], "P:musl") {
		t.Fatalf("walk pulled layer: %v", err)
	}
	if _, err := image.Open(context.Background(), host+"/library/missing:1", image.Options{Insecure: true}); err == nil {
		t.Error("missing repository: want an error")
	}
}

func TestOCILayoutZstdAndMultiPlatform(t *testing.T) {
	// A real layer recompressed with zstd, in an OCI layout with a two-platform index.
	src := alpineImage(t)
	ls, _ := src.Layers()
	rc, _ := ls[0].Uncompressed()
	plain, _ := io.ReadAll(rc)
	var zbuf bytes.Buffer
	zw, _ := zstd.NewWriter(&zbuf)
	zw.Write(plain)
	zw.Close()
	zl, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(zbuf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	amd, _ := mutate.AppendLayers(empty.Image, zl)
	amd, _ = mutate.ConfigFile(amd, &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: mustDiffIDs(t, amd)}})
	arm := smallImage(t, map[string]string{"arch": "arm64"})
	cf, _ := arm.ConfigFile()
	cf.OS, cf.Architecture, cf.Variant = "linux", "arm64", "v8"
	arm, _ = mutate.ConfigFile(arm, cf)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	img := open(t, dir, image.Options{Platform: "linux/amd64"})
	w, err := walkLayer(t, img, 0, image.Limits{})
	if err != nil || !strings.Contains(w.files["lib/apk/db/installed"], "P:musl") {
		t.Fatalf("zstd layer: %v", err)
	}
	img = open(t, dir, image.Options{Platform: "linux/arm64/v8"})
	w, err = walkLayer(t, img, 0, image.Limits{})
	if err != nil || w.files["arch"] != "arm64" || img.Target.Platform != "linux/arm64/v8" {
		t.Fatalf("arm64 pick: %v %v %s", w.files, err, img.Target.Platform)
	}
	_, err = image.Open(context.Background(), dir, image.Options{Platform: "linux/s390x"})
	if err == nil || !strings.Contains(err.Error(), "available: linux/amd64, linux/arm64/v8") {
		t.Errorf("missing platform: err = %v", err)
	}
}

func mustDiffIDs(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	ls, _ := img.Layers()
	var out []v1.Hash
	for _, l := range ls {
		d, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func TestDecompressionBombRefused(t *testing.T) {
	// 64 MiB of zeros in one file gzips to ~64 KiB: a ratio of ~1000.
	img := smallImage(t, map[string]string{"zeros": strings.Repeat("\x00", 64<<20)})
	file := filepath.Join(t.TempDir(), "bomb.tar")
	tag, _ := name.NewTag("bomb:1")
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		t.Fatal(err)
	}
	opened := open(t, file, image.Options{})
	lim := image.Limits{RatioFloor: 8 << 20, MaxRatio: 100}
	opened2 := open(t, file, image.Options{Limits: lim})
	if _, err := walkLayer(t, opened, 0, image.Limits{}); err != nil {
		t.Fatalf("default limits (floor 512 MiB) should let 64 MiB through: %v", err)
	}
	_, err := walkLayer(t, opened2, 0, lim)
	if !errors.Is(err, image.ErrHostile) || !strings.Contains(err.Error(), "decompression bomb") {
		t.Fatalf("err = %v, want a decompression bomb refusal", err)
	}
}

func TestDiffIDMismatchDetected(t *testing.T) {
	// Rewrite the alpine archive's config to claim another layer's diff ID.
	src := alpineImage(t)
	cf, _ := src.ConfigFile()
	cf.RootFS.DiffIDs[0], _ = v1.NewHash("sha256:" + strings.Repeat("ab", 32))
	// mutate.ConfigFile keeps the real layer content under the forged config.
	forged, err := mutate.ConfigFile(src, cf)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "forged.tar")
	tag, _ := name.NewTag("forged:1")
	if err := tarball.Write(tag, forged, mustCreate(t, file)); err != nil {
		t.Fatalf("write forged archive: %v", err)
	}
	img := open(t, file, image.Options{})
	_, err = walkLayer(t, img, 0, image.Limits{})
	if !errors.Is(err, image.ErrDiffIDMismatch) {
		t.Fatalf("err = %v, want ErrDiffIDMismatch", err)
	}
}

func mustCreate(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func gzipReader(r io.Reader) (io.Reader, error) { return kgzip.NewReader(r) }

// TestRegistryCredentialsFromDockerConfig puts the in-process registry behind basic auth and
// checks that pulls succeed with credentials from a docker config.json and fail without.
func TestRegistryCredentialsFromDockerConfig(t *testing.T) {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ci-bot" || p != "s3cret-Token" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, _ := name.ParseReference(host+"/team/alpine:3.10", name.Insecure)
	if err := remote.Write(ref, alpineImage(t), remote.WithAuth(&authn.Basic{Username: "ci-bot", Password: "s3cret-Token"})); err != nil {
		t.Fatal(err)
	}

	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials
	_, err := image.Open(context.Background(), host+"/team/alpine:3.10", image.Options{Insecure: true})
	if err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
		t.Fatalf("without credentials: err = %v, want an authorization failure", err)
	}

	cfgDir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("ci-bot:s3cret-Token"))
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", cfgDir)
	img := open(t, host+"/team/alpine:3.10", image.Options{Insecure: true})
	if _, err := walkLayer(t, img, 0, image.Limits{}); err != nil {
		t.Fatalf("with docker config credentials: %v", err)
	}
}
