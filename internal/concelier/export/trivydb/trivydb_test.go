package trivydb

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	bolt "go.etcd.io/bbolt"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/bundled"
)

var testOpts = Options{UpdatedAt: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}

// loadBundled reads the bundled OSV feeds once per test binary (they take a second to parse);
// Export never modifies its input, which the determinism test relies on as well.
var loadBundled = sync.OnceValues(func() ([]*advisory.Advisory, error) {
	var all []*advisory.Advisory
	for _, src := range bundled.OSVSources {
		res, err := advisory.LoadOSVFS(context.Background(), src.Name, bundled.OSV(), src.Path)
		if err != nil {
			return nil, err
		}
		all = append(all, res.Advisories...)
	}
	return advisory.Dedupe(all), nil
})

func bundledAdvisories(tb testing.TB) []*advisory.Advisory {
	tb.Helper()
	advs, err := loadBundled()
	if err != nil {
		tb.Fatal(err)
	}
	return advs
}

// exportBundled exports the bundled data once per test binary into a shared directory.
var exportBundled = sync.OnceValues(func() (exported, error) {
	advs, err := loadBundled()
	if err != nil {
		return exported{}, err
	}
	dir, err := os.MkdirTemp("", "trivydb-test-")
	if err != nil {
		return exported{}, err
	}
	res, err := Export(context.Background(), advs, dir, testOpts)
	return exported{dir, res}, err
})

type exported struct {
	dir string
	res Result
}

func bundledExport(t *testing.T) exported {
	t.Helper()
	e, err := exportBundled()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestExportBundledSummary(t *testing.T) {
	e := bundledExport(t)
	b, _ := json.MarshalIndent(e.res, "", "  ")
	t.Logf("%s", b)
}

// readAdvisory reads one entry back from trivy.db the way Trivy does: top bucket, package
// bucket, vulnerability key.
func readEntry(t *testing.T, path, bucket, pkg, id string) (dbtypes.Advisory, bool) {
	t.Helper()
	db, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var adv dbtypes.Advisory
	var found bool
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		if b = b.Bucket([]byte(pkg)); b == nil {
			return nil
		}
		v := b.Get([]byte(id))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &adv)
	})
	if err != nil {
		t.Fatal(err)
	}
	return adv, found
}

func TestBucketsAndCounts(t *testing.T) {
	e := bundledExport(t)
	want := map[string]int{ // advisory entries per bucket on the bundled data
		"alma 10": 30385, "alma 8": 61494, "alma 9": 95440,
		"cargo::Open Source Vulnerabilities crates.io": 1188,
		"go::The Go Vulnerability Database":            6041,
		"pip::Open Source Vulnerabilities PyPI":        2650,
	}
	if diff := cmp.Diff(want, e.res.Buckets); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}
	if e.res.Vulnerabilities != 13016 {
		t.Errorf("vulnerabilities = %d, want 13016", e.res.Vulnerabilities)
	}

	// The file itself: exactly these top-level buckets, every advisory bucket with a data source,
	// and every vulnerability ID used by an advisory present in "vulnerability".
	db, err := bolt.Open(filepath.Join(e.dir, "trivy.db"), 0o444, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var top []string
		used := map[string]bool{}
		counts := map[string]int{}
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			top = append(top, string(name))
			if n := string(name); n == bucketVulnerability || n == bucketDataSource {
				return nil
			}
			return b.ForEachBucket(func(pkg []byte) error {
				return b.Bucket(pkg).ForEach(func(k, _ []byte) error {
					used[string(k)] = true
					counts[string(name)]++
					return nil
				})
			})
		})
		if err != nil {
			return err
		}
		wantTop := append(slices.Sorted(maps.Keys(want)), bucketDataSource, bucketVulnerability)
		slices.Sort(wantTop)
		if diff := cmp.Diff(wantTop, top); diff != "" {
			t.Errorf("top-level buckets (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, counts); diff != "" {
			t.Errorf("entries read back (-want +got):\n%s", diff)
		}
		ds := tx.Bucket([]byte(bucketDataSource))
		for name := range want {
			var src dbtypes.DataSource
			if err := json.Unmarshal(ds.Get([]byte(name)), &src); err != nil || src.ID == "" || src.Name == "" {
				t.Errorf("data-source[%q] = %+v, %v", name, src, err)
			}
		}
		vb := tx.Bucket([]byte(bucketVulnerability))
		if n := vb.Stats().KeyN; n != len(used) {
			t.Errorf("vulnerability bucket holds %d IDs, advisories use %d", n, len(used))
		}
		for id := range used {
			if vb.Get([]byte(id)) == nil {
				t.Errorf("%s: used by an advisory, missing from %q", id, bucketVulnerability)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSpotChecks reads real records of each bundled feed back from trivy.db as Trivy would.
func TestSpotChecks(t *testing.T) {
	e := bundledExport(t)
	path := filepath.Join(e.dir, "trivy.db")
	cases := []struct {
		name, bucket, pkg, id string
		want                  dbtypes.Advisory
	}{{
		// GO-2022-0192 (CVE-2018-17142): introduced 0, fixed at a pseudo-version.
		name: "go", bucket: "go::The Go Vulnerability Database", pkg: "golang.org/x/net", id: "CVE-2018-17142",
		want: dbtypes.Advisory{VendorIDs: []string{"GHSA-2wp2-chmh-r934", "GO-2022-0192"},
			VulnerableVersions: []string{"<0.0.0-20180925071336-cf3bd585ca2a"}, PatchedVersions: []string{"0.0.0-20180925071336-cf3bd585ca2a"}},
	}, {
		// PYSEC-2021-109 (CVE-2021-35042): two intervals; its versions list is covered by them.
		name: "pypi", bucket: "pip::Open Source Vulnerabilities PyPI", pkg: "django", id: "CVE-2021-35042",
		want: dbtypes.Advisory{VendorIDs: []string{"GHSA-xpfp-f569-q3p2", "PYSEC-2021-109"},
			VulnerableVersions: []string{">=3.1, <3.1.13", ">=3.2, <3.2.5"}, PatchedVersions: []string{"3.1.13", "3.2.5"}},
	}, {
		// RUSTSEC-2016-0002 (CVE-2016-10932).
		name: "cargo", bucket: "cargo::Open Source Vulnerabilities crates.io", pkg: "hyper", id: "CVE-2016-10932",
		want: dbtypes.Advisory{VendorIDs: []string{"GHSA-9xjr-m6f3-v5wm", "RUSTSEC-2016-0002"},
			VulnerableVersions: []string{">=0.0.0-0, <0.9.4"}, PatchedVersions: []string{"0.9.4"}},
	}, {
		// GO-2025-3648 (CVE-2023-32198): one entry says every version of github.com/rancher/steve,
		// another lists fixes. No patched versions, or Trivy would call 0.5.13 safe.
		name: "go-open-range", bucket: "go::The Go Vulnerability Database", pkg: "github.com/rancher/steve", id: "CVE-2023-32198",
		want: dbtypes.Advisory{VendorIDs: []string{"GHSA-95fc-g4gj-mqmx", "GO-2025-3648"},
			VulnerableVersions: []string{">=0", ">=0.2.0, <0.2.1", ">=0.4.0, <0.4.4", ">=0.5.0, <0.5.13"}},
	}, {
		// ALSA-2024:0310 fixes CVE-2023-5363 in openssl 1:3.0.7-25.el9_3: filed under the CVE,
		// the erratum in VendorIDs, no status (a fixed version says it).
		name: "alma", bucket: "alma 9", pkg: "openssl", id: "CVE-2023-5363",
		want: dbtypes.Advisory{VendorIDs: []string{"ALSA-2024:0310"}, FixedVersion: "1:3.0.7-25.el9_3"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := readEntry(t, path, c.bucket, c.pkg, c.id)
			if !ok {
				t.Fatalf("%s/%s/%s not found", c.bucket, c.pkg, c.id)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("entry (-want +got):\n%s", diff)
			}
		})
	}

	vulns := []struct {
		id     string
		source dbtypes.SourceID
		sev    dbtypes.Severity
		cvss   dbtypes.CVSS
		title  string
	}{
		{"CVE-2016-10932", "osv", dbtypes.SeverityMedium, dbtypes.CVSS{V3Vector: "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:N", V3Score: 4.8}, ""},
		{"CVE-2023-5363", "alma", dbtypes.SeverityMedium, dbtypes.CVSS{}, "Moderate: openssl security update"},
	}
	for _, v := range vulns {
		got := readVuln(t, path, v.id)
		if got.VendorSeverity[v.source] != v.sev {
			t.Errorf("%s: VendorSeverity[%s] = %v, want %v (all: %v)", v.id, v.source, got.VendorSeverity[v.source], v.sev, got.VendorSeverity)
		}
		if got.CVSS[v.source] != v.cvss {
			t.Errorf("%s: CVSS[%s] = %+v, want %+v", v.id, v.source, got.CVSS[v.source], v.cvss)
		}
		if v.title != "" && got.Title != v.title {
			t.Errorf("%s: title %q, want %q", v.id, got.Title, v.title)
		}
		if got.PublishedDate == nil || len(got.References) == 0 {
			t.Errorf("%s: no published date or references: %+v", v.id, got)
		}
	}
}

func readVuln(t *testing.T, path, id string) dbtypes.Vulnerability {
	t.Helper()
	db, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v dbtypes.Vulnerability
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketVulnerability)).Get([]byte(id))
		if b == nil {
			t.Fatalf("%s not in %q", id, bucketVulnerability)
		}
		return json.Unmarshal(b, &v)
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMetadata(t *testing.T) {
	e := bundledExport(t)
	b, err := os.ReadFile(filepath.Join(e.dir, "metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":2,"NextUpdate":"2026-11-23T00:00:00Z","UpdatedAt":"2026-11-22T00:00:00Z","DownloadedAt":"2026-11-22T00:00:00Z"}`
	if string(b) != want {
		t.Errorf("metadata.json = %s\nwant %s", b, want)
	}
}

// TestDeterministic exports the bundled data a second time and compares every file's bytes.
func TestDeterministic(t *testing.T) {
	e := bundledExport(t)
	dir := t.TempDir()
	res, err := Export(context.Background(), bundledAdvisories(t), dir, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e.res, res); diff != "" {
		t.Errorf("results differ (-first +second):\n%s", diff)
	}
	first, second := readTree(t, e.dir), readTree(t, dir)
	if len(first) != len(second) {
		t.Errorf("file sets differ: %v vs %v", slices.Sorted(maps.Keys(first)), slices.Sorted(maps.Keys(second)))
	}
	for name, b := range first {
		if !bytes.Equal(b, second[name]) {
			t.Errorf("%s differs between two exports", name)
		}
	}
	for _, f := range res.Files {
		if b := second[f.Path]; int64(len(b)) != f.Size || digest(b) != f.Digest {
			t.Errorf("Result file %s: size %d digest %s, file has %d %s", f.Path, f.Size, f.Digest, len(b), digest(b))
		}
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOCILayout reads the layout back with go-containerregistry and checks it is what Trivy's
// OCI client accepts: one layer of Trivy's media type, titled db.tar.gz, holding the archive.
func TestOCILayout(t *testing.T) {
	e := bundledExport(t)
	idx, err := layout.ImageIndexFromPath(filepath.Join(e.dir, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "2" {
		t.Fatalf("index manifests = %+v", im.Manifests)
	}
	if got := im.Manifests[0].Digest.String(); got != e.res.ManifestDigest {
		t.Errorf("manifest digest %s, Result says %s", got, e.res.ManifestDigest)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != mediaTypeConfig || len(m.Layers) != 1 || m.Layers[0].MediaType != mediaTypeLayer ||
		m.Layers[0].Annotations[annotationTitle] != "db.tar.gz" {
		t.Fatalf("manifest = %+v", m)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tgz, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(e.dir, "db.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tgz, onDisk) {
		t.Fatal("layer blob is not db.tar.gz")
	}
	// The archive: metadata.json then trivy.db, equal to the files, with no time or owner.
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" {
		t.Errorf("gzip header carries time %v / name %q", zr.ModTime, zr.Name)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.ModTime.Unix() != 0 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" {
			t.Errorf("%s: header %+v", h.Name, h)
		}
		b, _ := io.ReadAll(tr)
		want, _ := os.ReadFile(filepath.Join(e.dir, h.Name))
		if !bytes.Equal(b, want) {
			t.Errorf("%s in the archive differs from the file", h.Name)
		}
	}
	if diff := cmp.Diff([]string{"metadata.json", "trivy.db"}, names); diff != "" {
		t.Errorf("archive entries (-want +got):\n%s", diff)
	}
}

func TestIntervalStrings(t *testing.T) {
	af := &advisory.Affected{Ecosystem: "pypi", Ranges: []advisory.Range{
		{Type: advisory.RangeEcosystem, Events: []advisory.Event{{Introduced: "0"}, {Fixed: "1.2"}, {Introduced: "2.0"}, {LastAffected: "2.3"}, {Introduced: "3.0"}}},
		{Type: advisory.RangeGit, Events: []advisory.Event{{Introduced: "0"}, {Fixed: "abc123"}}},
		{Type: advisory.RangeEcosystem, Events: []advisory.Event{{Introduced: "4.1"}, {LastAffected: "4.1"}}},
	}, Versions: []string{"1.0", "2.5", "4.1"}}
	vuln, patched := langConstraints(af)
	if diff := cmp.Diff([]string{"<1.2", ">=2.0, <=2.3", ">=3.0", "=4.1", "=2.5"}, vuln); diff != "" {
		t.Errorf("vulnerable (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1.2"}, patched); diff != "" {
		t.Errorf("patched (-want +got):\n%s", diff)
	}
}

func BenchmarkExportBundled(b *testing.B) {
	advs := bundledAdvisories(b)
	dir := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Export(context.Background(), advs, dir, testOpts); err != nil {
			b.Fatal(err)
		}
	}
}
