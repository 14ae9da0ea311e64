package offlinekit_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/bundled"
	"github.com/stellaops/stellaops/internal/offlinekit"
	"github.com/stellaops/stellaops/internal/signing"
)

var captured = time.Date(2026, 11, 20, 6, 30, 0, 0, time.UTC)

// source publishes a snapshot of the bundled Go advisories (real OSV records) and returns it.
func source(t testing.TB) (*snapshot.Snapshot, *snapshot.Store) { return sourceN(t, 0) }

// sourceN is source with only the first n advisories (all when n is 0).
func sourceN(t testing.TB, n int) (*snapshot.Snapshot, *snapshot.Store) {
	t.Helper()
	ctx := context.Background()
	res, err := advisory.LoadOSVFS(ctx, "osv:Go", bundled.OSV(), "Go/all.zip")
	if err != nil || len(res.Advisories) < 50 {
		t.Fatalf("load: %v (%d advisories)", err, len(res.Advisories))
	}
	if n > 0 {
		res.Advisories = res.Advisories[:n]
	}
	st, err := snapshot.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Publish(ctx, res.Advisories, []snapshot.SourceInfo{{Name: "osv:Go", Documents: res.Documents, Advisories: len(res.Advisories)}}, captured); err != nil {
		t.Fatal(err)
	}
	s, err := st.Current()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, st
}

func key(t testing.TB, id string) *signing.Keyring {
	t.Helper()
	k, err := signing.GenerateKey(rand.Reader, signing.Ed25519, id)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := signing.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

type published struct {
	d     *offlinekit.Descriptor
	dir   string
	files map[string][]byte // by role
}

func build(t testing.TB, snap *snapshot.Snapshot, kr *signing.Keyring) published {
	t.Helper()
	root := t.TempDir()
	d, err := offlinekit.Build(context.Background(), root, snap, kr, "stellaops test")
	if err != nil {
		t.Fatal(err)
	}
	p := published{d: d, dir: filepath.Join(root, d.BundleID), files: map[string][]byte{}}
	for _, f := range d.Files {
		b, err := os.ReadFile(filepath.Join(p.dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		p.files[f.Role] = b
	}
	return p
}

func importer(t testing.TB, trusted *signing.Keyring) (*offlinekit.Importer, *snapshot.Store) {
	t.Helper()
	dir := t.TempDir()
	st, err := snapshot.OpenStore(filepath.Join(dir, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := offlinekit.OpenRecords(filepath.Join(dir, "imports"))
	if err != nil {
		t.Fatal(err)
	}
	return &offlinekit.Importer{Snapshots: st, Records: recs, Keys: trusted, RequireSignatures: true, Now: func() time.Time { return captured.Add(time.Hour) }}, st
}

func request(p published) offlinekit.ImportRequest {
	return offlinekit.ImportRequest{Bundle: bytes.NewReader(p.files[offlinekit.RoleBundle]), Manifest: p.files[offlinekit.RoleManifest],
		BundleSignature: p.files[offlinekit.RoleBundleSignature], ManifestSignature: p.files[offlinekit.RoleManifestSignature]}
}

// A kit built on one site and imported on another installs a snapshot with the same digest and
// the same advisories; importing it again changes nothing.
func TestBuildImportRoundTrip(t *testing.T) {
	snap, _ := source(t)
	kr := key(t, "vendor-1")
	p := build(t, snap, kr)
	if p.d.SnapshotDigest != snap.Digest() || p.d.Advisories != snap.Meta().Advisories || len(p.d.Files) != 4 {
		t.Fatalf("descriptor %+v for snapshot %s", p.d, snap.Digest())
	}
	if !strings.HasPrefix(p.d.BundleID, "stella-ops-offline-kit-20261120-063000-") {
		t.Errorf("bundle id %s", p.d.BundleID)
	}
	im, st := importer(t, kr)
	rec, created, err := im.Import(context.Background(), request(p))
	if err != nil || !created {
		t.Fatalf("import: %v created=%v", err, created)
	}
	if rec.SnapshotDigest != snap.Digest() || rec.Advisories != snap.Meta().Advisories || rec.BundleID != p.d.BundleID ||
		rec.Status != offlinekit.StatusImported || len(rec.SignedBy) != 1 || rec.SignedBy[0] != "vendor-1" {
		t.Fatalf("record %+v", rec)
	}
	got, err := st.Current()
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got.Digest() != snap.Digest() || !got.Meta().CreatedAt.Equal(captured) {
		t.Fatalf("installed %s created %s", got.Digest(), got.Meta().CreatedAt)
	}
	a, err := got.Advisory("GO-2022-0969")
	if err != nil || len(a.Affected) == 0 {
		t.Fatalf("GO-2022-0969 after import: %v", err)
	}
	again, created, err := im.Import(context.Background(), request(p))
	if err != nil || created || again.ImportID != rec.ImportID || !again.ImportedAt.Equal(rec.ImportedAt) {
		t.Fatalf("second import: %v created=%v %+v", err, created, again)
	}
	cur, err := im.Records.Current()
	if err != nil || cur.ImportID != rec.ImportID {
		t.Fatalf("current %v %+v", err, cur)
	}
	// The importing site can publish the kit again, byte for byte.
	p2 := build(t, got, kr)
	for role, b := range p.files {
		if !bytes.Equal(b, p2.files[role]) {
			t.Errorf("%s differs when the imported snapshot is built again", role)
		}
	}
}

// rewrite rebuilds a bundle with edit applied to each entry's content.
func rewrite(t testing.TB, bundle []byte, edit func(name string, b []byte) []byte, extra ...[2]string) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(bundle))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out bytes.Buffer
	gw := gzip.NewWriter(&out)
	tw := tar.NewWriter(gw)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		b = edit(h.Name, b)
		h.Size = int64(len(b))
		tw.WriteHeader(h)
		tw.Write(b)
	}
	for _, e := range extra {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e[0], Size: int64(len(e[1])), Mode: 0o644})
		tw.Write([]byte(e[1]))
	}
	tw.Close()
	gw.Close()
	return out.Bytes()
}

// Every tampering is refused with ErrInvalid, and the importing site keeps its snapshot.
func TestImportRefusesTampering(t *testing.T) {
	snap, _ := source(t)
	kr := key(t, "vendor-1")
	p := build(t, snap, kr)
	other := build(t, snap, key(t, "intruder"))
	bundle := p.files[offlinekit.RoleBundle]
	swapLine := func(name string, b []byte) []byte {
		if name != offlinekit.AdvisoriesPath {
			return b
		}
		return bytes.Replace(b, []byte(`"GO-2022-0969"`), []byte(`"GO-2022-0970"`), 1)
	}
	same := func(_ string, b []byte) []byte { return b }
	var bomb bytes.Buffer
	gw := gzip.NewWriter(&bomb)
	tw := tar.NewWriter(gw)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: offlinekit.ManifestName, Size: 1 << 30, Mode: 0o644})
	tw.Write(make([]byte, 1<<20))
	gw.Close()

	cases := []struct {
		name string
		req  func(r *offlinekit.ImportRequest)
		want string
	}{
		{"unsigned", func(r *offlinekit.ImportRequest) { r.BundleSignature, r.ManifestSignature = nil, nil }, "only signed kits"},
		{"untrusted key", func(r *offlinekit.ImportRequest) {
			r.BundleSignature = other.files[offlinekit.RoleBundleSignature]
		}, "does not verify"},
		{"untrusted manifest key", func(r *offlinekit.ImportRequest) {
			r.ManifestSignature = other.files[offlinekit.RoleManifestSignature]
		}, "does not verify"},
		{"edited advisories", func(r *offlinekit.ImportRequest) { r.Bundle = bytes.NewReader(rewrite(t, bundle, swapLine)) }, "sha256"},
		{"re-packed bundle, same content", func(r *offlinekit.ImportRequest) {
			r.Bundle = bytes.NewReader(rewrite(t, bundle, same))
		}, "another bundle"},
		{"extra entry", func(r *offlinekit.ImportRequest) {
			r.Bundle = bytes.NewReader(rewrite(t, bundle, same, [2]string{"../../etc/passwd", "x"}))
		}, "does not list"},
		{"trailing bytes", func(r *offlinekit.ImportRequest) { r.Bundle = bytes.NewReader(append(bytes.Clone(bundle), 0)) }, "after the gzip stream"},
		{"truncated", func(r *offlinekit.ImportRequest) { r.Bundle = bytes.NewReader(bundle[:len(bundle)/2]) }, "unexpected EOF"},
		{"not gzip", func(r *offlinekit.ImportRequest) { r.Bundle = strings.NewReader("PK\x03\x04") }, "not a gzip stream"},
		{"bomb", func(r *offlinekit.ImportRequest) { r.Bundle = bytes.NewReader(bomb.Bytes()) }, "larger than"},
		{"foreign manifest", func(r *offlinekit.ImportRequest) { r.Manifest = []byte(`{}`) }, "not the bundle's own"},
		{"signature garbage", func(r *offlinekit.ImportRequest) { r.BundleSignature = []byte("{") }, "not a DSSE envelope"},
	}
	im, st := importer(t, kr)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := request(p)
			c.req(&r)
			_, _, err := im.Import(context.Background(), r)
			if !errors.Is(err, offlinekit.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrInvalid with %q", err, c.want)
			}
			if _, err := st.CurrentPath(); !errors.Is(err, snapshot.ErrNoSnapshot) {
				t.Fatalf("a refused kit left a snapshot: %v", err)
			}
			if _, err := im.Records.Current(); !errors.Is(err, offlinekit.ErrNoRecord) {
				t.Fatalf("a refused kit left a record: %v", err)
			}
		})
	}
}

// Without RequireSignatures an unsigned kit imports; a given signature is still checked.
func TestUnsignedImportWhenAllowed(t *testing.T) {
	snap, _ := source(t)
	p := build(t, snap, key(t, "vendor-1"))
	im, _ := importer(t, key(t, "someone-else"))
	im.RequireSignatures = false
	r := request(p)
	if _, _, err := im.Import(context.Background(), r); !errors.Is(err, offlinekit.ErrInvalid) {
		t.Fatalf("a signature by an untrusted key passed: %v", err)
	}
	r = request(p)
	r.BundleSignature, r.ManifestSignature = nil, nil
	rec, created, err := im.Import(context.Background(), r)
	if err != nil || !created || len(rec.SignedBy) != 0 {
		t.Fatalf("unsigned import: %v %+v", err, rec)
	}
}

func TestParseManifest(t *testing.T) {
	ok := `{"schemaVersion":1,"bundleId":"k1","kind":"full","capturedAt":"2026-11-20T06:30:00Z","generator":"x","components":[{"name":"advisories","version":"sha256:` +
		strings.Repeat("a", 64) + `","path":"advisories/advisories.ndjson","sha256":"` + strings.Repeat("a", 64) + `","size":1}]}`
	if _, err := offlinekit.ParseManifest([]byte(ok)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		strings.Replace(ok, `"schemaVersion":1`, `"schemaVersion":2`, 1),
		strings.Replace(ok, `"kind":"full"`, `"kind":"delta"`, 1),
		strings.Replace(ok, `"bundleId":"k1"`, `"bundleId":"../x"`, 1),
		strings.Replace(ok, `"path":"advisories/advisories.ndjson"`, `"path":"/etc/passwd"`, 1),
		strings.Replace(ok, `"generator":"x"`, `"generator":"x","extra":1`, 1),
		strings.Replace(ok, `"version":"sha256:a`, `"version":"sha256:b`, 1),
		ok + "{}",
	} {
		if _, err := offlinekit.ParseManifest([]byte(bad)); !errors.Is(err, offlinekit.ErrInvalid) {
			t.Errorf("accepted %s", bad)
		}
	}
}

// FuzzOpen: no input makes Open panic or hang, and whatever it accepts is self-consistent.
func FuzzOpen(f *testing.F) {
	snap, _ := sourceN(f, 2) // small, so the fuzzer mutates structure rather than bulk
	p := build(f, snap, key(f, "k"))
	f.Add(p.files[offlinekit.RoleBundle])
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := offlinekit.Open(context.Background(), bytes.NewReader(b), offlinekit.Limits{MaxUncompressed: 64 << 20, MaxAdvisoryBytes: 1 << 20})
		if err != nil {
			if !errors.Is(err, offlinekit.ErrInvalid) {
				t.Fatalf("error not marked invalid: %v", err)
			}
			return
		}
		if len(k.Advisories) != len(k.Canon) || k.Manifest.Component(offlinekit.ComponentAdvisories) == nil {
			t.Fatalf("inconsistent kit")
		}
	})
}

// BenchmarkImport: verifying and installing a kit of the bundled Go advisories.
func BenchmarkImport(b *testing.B) {
	snap, _ := source(b)
	kr := key(b, "vendor-1")
	p := build(b, snap, kr)
	b.SetBytes(int64(len(p.files[offlinekit.RoleBundle])))
	for b.Loop() {
		im, _ := importer(b, kr)
		if _, _, err := im.Import(context.Background(), request(p)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuild: building and signing the kit of the bundled Go advisories.
func BenchmarkBuild(b *testing.B) {
	snap, _ := source(b)
	kr := key(b, "vendor-1")
	for b.Loop() {
		if _, err := offlinekit.Build(context.Background(), b.TempDir(), snap, kr, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
