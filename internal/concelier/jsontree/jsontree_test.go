package jsontree_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/bundled"
	"github.com/stellaops/stellaops/internal/concelier/jsontree"
)

// bundledAdvisories are the real OSV records shipped with StellaOps, normalised and de-duplicated
// as a merge would hand them over.
var bundledAdvisories = sync.OnceValues(func() ([]*advisory.Advisory, error) {
	var all []*advisory.Advisory
	for _, src := range bundled.OSVSources {
		res, err := advisory.LoadOSVFS(context.Background(), src.Name, bundled.OSV(), src.Path)
		if err != nil {
			return nil, err
		}
		all = append(all, res.Advisories...)
	}
	for _, a := range all {
		a.Normalize()
	}
	return advisory.Dedupe(all), nil
})

func load(t testing.TB) []*advisory.Advisory {
	t.Helper()
	advs, err := bundledAdvisories()
	if err != nil {
		t.Fatal(err)
	}
	return advs
}

func readMeta(t *testing.T, dir string) jsontree.Metadata {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	var md jsontree.Metadata
	if err := json.Unmarshal(b, &md); err != nil {
		t.Fatal(err)
	}
	return md
}

func sha(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// archived lists the regular files of a tree.tar.gz, checking the fixed headers.
func archived(t *testing.T, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() && zr.ModTime.Unix() != 0 {
		t.Errorf("gzip mtime %v", zr.ModTime)
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
		if h.ModTime.Unix() != 0 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" {
			t.Errorf("%s: header %v %d %d %q", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname)
		}
		if h.Typeflag == tar.TypeReg {
			names = append(names, h.Name)
		}
	}
	return names
}

// The bundled data exported twice, at different times, gives the same tree, manifest and archive.
func TestFullExportDeterministic(t *testing.T) {
	advs := load(t)
	d1, d2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	r1, err := jsontree.Export(context.Background(), advs, d1, jsontree.Options{Now: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	// The same advisories in another order, another day.
	rev := slices.Clone(advs)
	slices.Reverse(rev)
	r2, err := jsontree.Export(context.Background(), rev, d2, jsontree.Options{Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	md := readMeta(t, d1)
	if md.Mode != "full" || md.AdvisoryCount != len(advs) || md.TreeDigest != r2.Metadata.TreeDigest || md.ExportID != r2.Metadata.ExportID {
		t.Errorf("metadata %+v vs %+v", md, r2.Metadata)
	}
	if len(advs) < 13000 {
		t.Errorf("only %d bundled advisories", len(advs))
	}
	for _, f := range []string{"manifest.json", "tree.tar.gz"} {
		if sha(t, filepath.Join(d1, f)) != sha(t, filepath.Join(d2, f)) {
			t.Errorf("%s differs between two exports of the same data", f)
		}
	}
	if r1.ArchiveDigest != r2.ArchiveDigest || r1.ManifestDigest != r2.ManifestDigest {
		t.Error("result digests differ")
	}
	if n := len(archived(t, filepath.Join(d1, "tree.tar.gz"))); n != len(advs) {
		t.Errorf("archive holds %d files, want %d", n, len(advs))
	}
	// A real record round-trips from its file: CVE-2021-43784 (runc), merged from the Go data.
	b, err := os.ReadFile(filepath.Join(d1, "tree", "advisories", "cve", "2021", "CVE-2021-43784.json"))
	if err != nil {
		t.Fatal(err)
	}
	var a advisory.Advisory
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	if a.ID != "CVE-2021-43784" || !slices.Contains(a.Aliases, "GO-2022-0274") || len(a.Affected) == 0 {
		t.Errorf("round trip: %s %v", a.ID, a.Aliases)
	}
}

func TestDeltaAndReset(t *testing.T) {
	all := load(t)[:400]
	base := filepath.Join(t.TempDir(), "base")
	if _, err := jsontree.Export(context.Background(), all[:390], base, jsontree.Options{}); err != nil {
		t.Fatal(err)
	}
	baseMD := readMeta(t, base)

	// Next run: 10 added, one removed, one changed.
	next := slices.Clone(all[1:])
	changed := *next[5]
	changed.Summary = "changed upstream"
	next[5] = &changed
	out := filepath.Join(t.TempDir(), "delta")
	res, err := jsontree.Export(context.Background(), next, out, jsontree.Options{Baseline: base})
	if err != nil {
		t.Fatal(err)
	}
	md := readMeta(t, out)
	if md.Mode != "delta" || md.BaseExportID != baseMD.ExportID || md.ResetBaseline || md.Delta == nil {
		t.Fatalf("metadata %+v", md)
	}
	if md.BaseManifestDigest != "sha256:"+sha(t, filepath.Join(base, "manifest.json")) {
		t.Error("baseManifestDigest is not the baseline manifest's digest")
	}
	if len(md.Delta.ChangedFiles) != 11 || len(md.Delta.RemovedPaths) != 1 || md.Delta.RemovedPaths[0] != jsontree.FilePath(all[0].ID) {
		t.Errorf("delta: %d changed, removed %v", len(md.Delta.ChangedFiles), md.Delta.RemovedPaths)
	}
	var want []string
	for _, f := range md.Delta.ChangedFiles {
		want = append(want, f.Path)
	}
	if got := archived(t, filepath.Join(out, "tree.tar.gz")); !slices.Equal(got, want) {
		t.Errorf("delta archive holds %d files, want the %d changed ones", len(got), len(want))
	}
	if !slices.Contains(want, jsontree.FilePath(changed.ID)) {
		t.Error("the changed advisory is not in the delta")
	}
	// The tree digest of a delta is that of the whole new tree, as a full export would give.
	full := filepath.Join(t.TempDir(), "full")
	fr, err := jsontree.Export(context.Background(), next, full, jsontree.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fr.Metadata.TreeDigest != res.Metadata.TreeDigest {
		t.Error("delta and full exports of the same data disagree on treeDigest")
	}

	// A run that replaces most of the baseline starts a new one.
	reset := filepath.Join(t.TempDir(), "reset")
	if _, err := jsontree.Export(context.Background(), all[200:], reset, jsontree.Options{Baseline: base}); err != nil {
		t.Fatal(err)
	}
	if md := readMeta(t, reset); md.Mode != "full" || !md.ResetBaseline || md.Delta != nil {
		t.Errorf("reset: %+v", md)
	}
}

func TestRefusals(t *testing.T) {
	advs := load(t)[:5]
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "other"), []byte("x"), 0o644)
	if _, err := jsontree.Export(context.Background(), advs, dir, jsontree.Options{}); err == nil {
		t.Error("exported into a non-empty directory")
	}
	base := filepath.Join(t.TempDir(), "base")
	if _, err := jsontree.Export(context.Background(), advs, base, jsontree.Options{}); err != nil {
		t.Fatal(err)
	}
	m, _ := os.ReadFile(filepath.Join(base, "manifest.json"))
	os.WriteFile(filepath.Join(base, "manifest.json"), bytes.Replace(m, []byte(`"length":`), []byte(`"length":1`), 1), 0o644)
	if _, err := jsontree.Export(context.Background(), advs, filepath.Join(t.TempDir(), "d"), jsontree.Options{Baseline: base}); err == nil {
		t.Error("a tampered baseline manifest was accepted")
	}
	dup := []*advisory.Advisory{advs[0], advs[0]}
	if _, err := jsontree.Export(context.Background(), dup, filepath.Join(t.TempDir(), "e"), jsontree.Options{}); err == nil {
		t.Error("duplicate IDs accepted")
	}
}

func TestFilePath(t *testing.T) {
	for id, want := range map[string]string{
		"CVE-2021-43784":      "advisories/cve/2021/CVE-2021-43784.json",
		"GHSA-v95c-p5hm-xq8f": "advisories/ghsa/v9/GHSA-v95c-p5hm-xq8f.json",
		"GO-2022-0274":        "advisories/go/2022/GO-2022-0274.json",
		"ALSA-2023:1234":      "advisories/alsa/2023/ALSA-2023_1234.json",
		"PYSEC-2021-335":      "advisories/pysec/2021/PYSEC-2021-335.json",
		"RUSTSEC-2019-0001":   "advisories/rustsec/2019/RUSTSEC-2019-0001.json",
		"..":                  "advisories/other/_../_...json",
		"../../etc/passwd":    "advisories/other/_../.._.._etc_passwd.json",
		"DSA-12345-1":         "advisories/dsa/12/DSA-12345-1.json",
	} {
		if got := jsontree.FilePath(id); got != want {
			t.Errorf("FilePath(%q) = %q, want %q", id, got, want)
		}
	}
}

func BenchmarkExportBundled(b *testing.B) {
	advs := load(b)
	for b.Loop() {
		dir := filepath.Join(b.TempDir(), "x")
		if _, err := jsontree.Export(context.Background(), advs, dir, jsontree.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
