package indexer_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	kgzip "github.com/klauspost/compress/gzip"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/lang/gobinary"
	"github.com/stellaops/stellaops/internal/analyzer/os/apk"
	"github.com/stellaops/stellaops/internal/analyzer/os/dpkg"
	"github.com/stellaops/stellaops/internal/analyzer/os/rpm"
	"github.com/stellaops/stellaops/internal/analyzer/osrelease"
	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/indexer"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/layercache"
)

const alpineTar = "../../testdata/images/alpine-3.10.4.docker-save.tar.gz"

func analyzers() []analyzer.Analyzer {
	return []analyzer.Analyzer{
		apk.New(apk.DefaultConfig()), dpkg.New(dpkg.DefaultConfig()), rpm.New(rpm.DefaultConfig()),
		osrelease.New(osrelease.DefaultConfig()), gobinary.New(gobinary.DefaultConfig()),
	}
}

func newIndexer(t *testing.T, cache indexer.LayerCache, lim image.Limits) *indexer.Indexer {
	t.Helper()
	return indexer.New(indexer.Config{Analyzers: analyzers(), Cache: cache, Limits: lim, TempDir: t.TempDir()})
}

func newIndexerB(b *testing.B, cache indexer.LayerCache) *indexer.Indexer {
	return indexer.New(indexer.Config{Analyzers: analyzers(), Cache: cache, TempDir: b.TempDir()})
}

func openImage(t *testing.T, target string, opts image.Options) *image.Image {
	t.Helper()
	opts.TempDir = t.TempDir()
	img, err := image.Open(context.Background(), target, opts)
	if err != nil {
		t.Fatalf("open %s: %v", target, err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

// osvTriple is a (binary name, version, origin) row, as osv-scanner's inventory gives them.
type osvTriple struct{ Name, Version, Origin string }

func TestAlpineMatchesOSVScannerInventory(t *testing.T) {
	res, err := newIndexer(t, nil, image.Limits{}).IndexImage(context.Background(), openImage(t, alpineTar, image.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	inv := res.Inventory
	if inv.Distro.ID != "alpine" || inv.Distro.VersionID != "3.10.4" {
		t.Errorf("distro = %+v", inv.Distro)
	}
	var got []osvTriple
	for _, c := range inv.Components {
		if c.Ecosystem != inventory.EcosystemAPK || c.Layer != "sha256:531743b7098cb2aaf615641007a129173f63ed86ca32fe7b5a246a1c47286028" ||
			c.FoundBy != apk.Name || c.Distro.ID != "alpine" {
			t.Errorf("component %s: ecosystem %s layer %s foundBy %s distro %+v", c.Name, c.Ecosystem, c.Layer, c.FoundBy, c.Distro)
		}
		got = append(got, osvTriple{c.Name, c.Version, c.Source.Name})
	}
	if diff := cmp.Diff(osvScannerAlpine(t), got); diff != "" {
		t.Errorf("inventory vs osv-scanner (-want +got):\n%s", diff)
	}
	if !inv.Complete() {
		t.Errorf("diagnostics: %+v", inv.Diagnostics)
	}
}

// osvScannerAlpine reads osv-scanner 2.4.0's inventory of the same image (its `name` is the
// origin, `os_package_name` the binary package).
func osvScannerAlpine(t *testing.T) []osvTriple {
	t.Helper()
	f, err := os.Open("../../testdata/images/alpine-3.10.4.osv-scanner-2.4.0-inventory.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := kgzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	var out []osvTriple
	for _, chunk := range strings.Split(string(b), `"package": {`)[1:] {
		field := func(k string) string {
			_, rest, _ := strings.Cut(chunk, `"`+k+`": "`)
			v, _, _ := strings.Cut(rest, `"`)
			return v
		}
		out = append(out, osvTriple{field("os_package_name"), field("version"), field("name")})
	}
	if len(out) != 14 {
		t.Fatalf("osv-scanner inventory has %d packages, want 14", len(out))
	}
	return out
}

// layerFrom builds an uncompressed layer from tar entries.
func layerFrom(t *testing.T, entries ...tarEntry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: e.mode, Size: int64(len(e.data))}
		if e.link != "" {
			h = &tar.Header{Name: e.name, Typeflag: tar.TypeSymlink, Linkname: e.link, Mode: 0o777}
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Close()
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithCompressionLevel(1))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type tarEntry struct {
	name string
	data []byte
	mode int64
	link string
}

func alpineBase(t *testing.T) (v1.Image, []byte) {
	t.Helper()
	f, _ := os.Open(alpineTar)
	defer f.Close()
	zr, _ := kgzip.NewReader(f)
	plain := filepath.Join(t.TempDir(), "alpine.tar")
	out, _ := os.Create(plain)
	io.Copy(out, zr)
	out.Close()
	img, err := tarball.ImageFromPath(plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	rc, _ := ls[0].Uncompressed()
	defer rc.Close()
	var installed []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Name == "lib/apk/db/installed" {
			installed, _ = io.ReadAll(tr)
		}
	}
	return img, installed
}

// upgradeDB drops alpine-keys and bumps zlib in a real apk database.
func upgradeDB(t *testing.T, installed []byte) []byte {
	t.Helper()
	var out []string
	for _, st := range strings.Split(strings.TrimRight(string(installed), "\n"), "\n\n") {
		if strings.Contains(st, "\nP:alpine-keys\n") || strings.HasPrefix(st, "P:alpine-keys\n") {
			continue
		}
		if strings.Contains(st, "\nP:zlib\n") {
			st = strings.Replace(st, "\nV:1.2.11-r1\n", "\nV:1.2.11-r9\n", 1)
		}
		out = append(out, st)
	}
	return []byte(strings.Join(out, "\n\n") + "\n\n")
}

func selfBinary(t *testing.T) []byte {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stackedImage is alpine plus: layer 1 upgrades the apk database and adds this test binary as
// bin/busybox (a path apk owns) and usr/local/bin/app; layer 2 deletes app and adds opt/app2.
func stackedImage(t *testing.T) (string, []string) {
	t.Helper()
	base, installed := alpineBase(t)
	self := selfBinary(t)
	l1 := layerFrom(t,
		tarEntry{name: "lib/apk/db/installed", data: upgradeDB(t, installed)},
		tarEntry{name: "bin/busybox", data: self, mode: 0o755},
		tarEntry{name: "usr/local/bin/app", data: self, mode: 0o755},
	)
	l2 := layerFrom(t,
		tarEntry{name: "usr/local/bin/.wh.app"},
		tarEntry{name: "opt/app2", data: self, mode: 0o755},
	)
	img, err := mutate.AppendLayers(base, l1, l2)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "stacked.tar")
	tag, _ := name.NewTag("stacked:1")
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		t.Fatal(err)
	}
	var diffs []string
	ls, _ := img.Layers()
	for _, l := range ls {
		d, _ := l.DiffID()
		diffs = append(diffs, d.String())
	}
	return file, diffs
}

func TestStackedLayers(t *testing.T) {
	file, diffs := stackedImage(t)
	res, err := newIndexer(t, nil, image.Limits{}).IndexImage(context.Background(), openImage(t, file, image.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]inventory.Component{}
	var goLocs []string
	for _, c := range res.Inventory.Components {
		if c.Ecosystem == inventory.EcosystemAPK {
			byName[c.Name] = c
		}
		if c.Ecosystem == inventory.EcosystemGo {
			goLocs = append(goLocs, c.Locations...)
			if c.Layer != diffs[2] {
				t.Errorf("go component %s introduced by %s, want layer 2 %s", c.Name, c.Layer, diffs[2])
			}
		}
	}
	if len(byName) != 13 {
		t.Errorf("apk packages = %d, want 13 (alpine-keys removed)", len(byName))
	}
	if _, ok := byName["alpine-keys"]; ok {
		t.Error("alpine-keys survived its removal")
	}
	if z := byName["zlib"]; z.Version != "1.2.11-r9" || z.Layer != diffs[1] {
		t.Errorf("zlib = %s from %s, want 1.2.11-r9 from layer 1", z.Version, z.Layer)
	}
	if m := byName["musl"]; m.Layer != diffs[0] {
		t.Errorf("musl introduced by %s, want the base layer", m.Layer)
	}
	for _, l := range goLocs {
		if l != "opt/app2" {
			t.Errorf("go component located at %s: bin/busybox is owned by apk and app was deleted", l)
		}
	}
	if len(goLocs) == 0 {
		t.Fatal("no Go components from opt/app2")
	}
	musl := byName["musl"]
	if got := res.Presence[musl.Key()]; !cmp.Equal(got, []int{0, 1}) {
		t.Errorf("musl presence = %v, want [0 1]", got)
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		found := false
		for _, c := range res.Inventory.Components {
			found = found || (c.Ecosystem == inventory.EcosystemGo && c.Name == bi.Main.Path)
		}
		if !found && bi.Main.Path != "" {
			t.Errorf("main module %s of the test binary not found", bi.Main.Path)
		}
	}
}

func TestLayerCacheReuse(t *testing.T) {
	file, _ := stackedImage(t)
	cache, err := layercache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	x := newIndexer(t, cache, image.Limits{})
	first, err := x.IndexImage(context.Background(), openImage(t, file, image.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	second, err := x.IndexImage(context.Background(), openImage(t, file, image.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range first.Layers {
		if st.Cached || !second.Layers[i].Cached {
			t.Errorf("layer %d: cached first=%v second=%v", i, st.Cached, second.Layers[i].Cached)
		}
	}
	if diff := cmp.Diff(first.Inventory, second.Inventory); diff != "" {
		t.Errorf("warm inventory differs (-cold +warm):\n%s", diff)
	}
	if diff := cmp.Diff(first.Presence, second.Presence); diff != "" {
		t.Errorf("warm presence differs:\n%s", diff)
	}
}

// TestRegistryWarmScanFetchesNoLayer pulls from an in-process registry and counts blob fetches:
// a re-scan with every layer cached must download no layer at all.
func TestRegistryWarmScanFetchesNoLayer(t *testing.T) {
	var layerGets atomic.Int64
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			layerGets.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	file, _ := stackedImage(t)
	src, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/app:1", name.Insecure)
	if err := remote.Write(ref, src); err != nil {
		t.Fatal(err)
	}
	cache, _ := layercache.Open(t.TempDir())
	x := newIndexer(t, cache, image.Limits{})
	opts := image.Options{Insecure: true}
	if _, err := x.IndexImage(context.Background(), openImage(t, host+"/app:1", opts)); err != nil {
		t.Fatal(err)
	}
	cold := layerGets.Swap(0)
	res, err := x.IndexImage(context.Background(), openImage(t, host+"/app:1", opts))
	if err != nil {
		t.Fatal(err)
	}
	warm := layerGets.Load()
	// Opening fetches the config blob once; a cold scan also fetches the three layers.
	if cold != 4 || warm != 1 {
		t.Errorf("blob GETs: cold %d (want 4: config + 3 layers), warm %d (want 1: config only)", cold, warm)
	}
	if len(res.Inventory.Components) == 0 {
		t.Error("warm scan lost the inventory")
	}
}

func TestHostileSymlinksRefusedAfterStacking(t *testing.T) {
	img := openImage(t, "../../testdata/images/osv-scalibr/symlink-cycle.tar", image.Options{})
	_, err := newIndexer(t, nil, image.Limits{}).IndexImage(context.Background(), img)
	if !errors.Is(err, image.ErrSymlinkCycle) {
		t.Fatalf("err = %v, want ErrSymlinkCycle", err)
	}
	img = openImage(t, "../../testdata/images/osv-scalibr/symlink-cycle.tar", image.Options{})
	if _, err := newIndexer(t, nil, image.Limits{AllowHostileSymlinks: true}).IndexImage(context.Background(), img); err != nil {
		t.Fatalf("AllowHostileSymlinks: %v", err)
	}
}

func TestDiagnosticsKeepPartialInventoryHonest(t *testing.T) {
	base, _ := alpineBase(t)
	l := layerFrom(t, tarEntry{name: "var/lib/rpm/rpmdb.sqlite", data: []byte("SQLite format 3\x00 but then garbage")})
	img, _ := mutate.AppendLayers(base, l)
	file := filepath.Join(t.TempDir(), "broken.tar")
	tag, _ := name.NewTag("broken:1")
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		t.Fatal(err)
	}
	res, err := newIndexer(t, nil, image.Limits{}).IndexImage(context.Background(), openImage(t, file, image.Options{}))
	if err != nil {
		t.Fatalf("a broken package database must not fail the scan: %v", err)
	}
	inv := res.Inventory
	if inv.Complete() || len(inv.Diagnostics) != 1 || inv.Diagnostics[0].Source != rpm.Name ||
		inv.Diagnostics[0].Path != "var/lib/rpm/rpmdb.sqlite" || inv.Diagnostics[0].Layer == "" {
		t.Errorf("diagnostics = %+v", inv.Diagnostics)
	}
	if len(inv.Components) != 14 {
		t.Errorf("components = %d, want the 14 apk packages", len(inv.Components))
	}
}

func TestRootfsMatchesImage(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("sh", "-c", "gzip -dc "+alpineTar+" | tar --wildcards -xO '*/layer.tar' | tar -x -C "+dir).CombinedOutput(); err != nil {
		t.Fatalf("unpack: %v %s", err, out)
	}
	// A symlink out of the tree is recorded, never followed.
	os.Symlink("/etc/shadow", filepath.Join(dir, "etc", "leak"))
	fromDir, err := newIndexer(t, nil, image.Limits{AllowHostileSymlinks: true}).IndexRootfs(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	fromImg, err := newIndexer(t, nil, image.Limits{}).IndexImage(context.Background(), openImage(t, alpineTar, image.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	strip := func(cs []inventory.Component) []inventory.Component {
		out := make([]inventory.Component, len(cs))
		for i, c := range cs {
			c.Layer = ""
			out[i] = c
		}
		return out
	}
	if diff := cmp.Diff(strip(fromImg.Inventory.Components), fromDir.Inventory.Components); diff != "" {
		t.Errorf("rootfs vs image (-image +rootfs):\n%s", diff)
	}
	if fromDir.Inventory.Target.Kind != inventory.TargetRootfs || fromDir.Inventory.Distro != fromImg.Inventory.Distro {
		t.Errorf("rootfs target %+v distro %+v", fromDir.Inventory.Target, fromDir.Inventory.Distro)
	}
}

func TestPartialAnalyzerResultKept(t *testing.T) {
	status := "Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u5\n\n" +
		"Package: broken\nStatus: install ok installed\nArchitecture: amd64\n\n"
	base, _ := alpineBase(t)
	img, _ := mutate.AppendLayers(base, layerFrom(t, tarEntry{name: "var/lib/dpkg/status", data: []byte(status)}))
	file := filepath.Join(t.TempDir(), "partial.tar")
	tag, _ := name.NewTag("partial:1")
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		t.Fatal(err)
	}
	res, err := newIndexer(t, nil, image.Limits{}).IndexImage(context.Background(), openImage(t, file, image.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range res.Inventory.Components {
		found = found || (c.Ecosystem == inventory.EcosystemDeb && c.Name == "base-files")
	}
	d := res.Inventory.Diagnostics
	if !found || len(d) != 1 || d[0].Source != dpkg.Name || !strings.Contains(d[0].Message, "broken") {
		t.Errorf("base-files kept: %v; diagnostics %+v (want one naming the broken stanza)", found, d)
	}
}

// imageWith writes a docker archive of the alpine image plus one layer read from a tar file.
func imageWith(t *testing.T, layerTar string) string {
	t.Helper()
	base, _ := alpineBase(t)
	l, err := tarball.LayerFromFile(layerTar)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "img.tar")
	tag, _ := name.NewTag("img:1")
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestSymlinkValidation(t *testing.T) {
	// osv-scalibr's escape.tar: links that each stay inside the root lexically but climb out
	// when chained through a "." trampoline.
	file := imageWith(t, "../../testdata/images/osv-scalibr/escape.tar")
	_, err := newIndexer(t, nil, image.Limits{}).IndexImage(context.Background(), openImage(t, file, image.Options{}))
	if !errors.Is(err, image.ErrSymlinkEscape) {
		t.Errorf("escape.tar: err = %v, want ErrSymlinkEscape", err)
	}

	// What real images hold must pass: a merged-/usr directory link, library links relative to it,
	// an alternatives chain, absolute links, and a dangling link.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, l := range [][2]string{
		{"lib64", "usr/lib64"},
		{"usr/lib64/ld-linux-x86-64.so.2", "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"},
		{"usr/lib/x86_64-linux-gnu/libz.so.1", "libz.so.1.2.13"},
		{"etc/alternatives/editor", "/usr/bin/vim.basic"},
		{"usr/bin/editor", "/etc/alternatives/editor"},
		{"usr/bin/vi", "../../lib64/../usr/bin/editor"},
		{"etc/os-release", "../usr/lib/os-release"},
		{"usr/share/doc/gone", "/nowhere/at/all"},
	} {
		tw.WriteHeader(&tar.Header{Name: l[0], Typeflag: tar.TypeSymlink, Linkname: l[1]})
	}
	tw.Close()
	lt := filepath.Join(t.TempDir(), "links.tar")
	os.WriteFile(lt, buf.Bytes(), 0o644)
	file = imageWith(t, lt)
	if _, err := newIndexer(t, nil, image.Limits{}).IndexImage(context.Background(), openImage(t, file, image.Options{})); err != nil {
		t.Errorf("ordinary links refused: %v", err)
	}
}
