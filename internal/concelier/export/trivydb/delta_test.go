package trivydb

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/jsontree"
)

// subset is a slice of the bundled advisories, enough for planning tests and quick to export.
func subset(t *testing.T, n int) []*advisory.Advisory {
	t.Helper()
	all := bundledAdvisories(t)
	out := make([]*advisory.Advisory, 0, n)
	for _, a := range all {
		if len(a.Affected) > 0 && a.Withdrawn.IsZero() {
			out = append(out, a)
		}
		if len(out) == n {
			break
		}
	}
	return out
}

func exportAt(t *testing.T, advs []*advisory.Advisory, dir, base string, at time.Time) Result {
	t.Helper()
	res, err := Export(context.Background(), advs, dir, Options{UpdatedAt: at, Baseline: base})
	if err != nil {
		t.Fatal(err)
	}
	md, err := ReadMetadata(dir)
	if err != nil {
		t.Fatal(err)
	}
	if mdJSON, resJSON := mustJSON(t, md), mustJSON(t, res.Metadata); !bytes.Equal(mdJSON, resJSON) {
		t.Fatalf("oci/metadata.json = %s\nResult.Metadata = %s", mdJSON, resJSON)
	}
	return res
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFullMetadata(t *testing.T) {
	advs := subset(t, 300)
	dir := t.TempDir()
	res := exportAt(t, advs, dir, "", testOpts.UpdatedAt)
	md := res.Metadata
	tree, err := jsontree.Build(context.Background(), advs)
	if err != nil {
		t.Fatal(err)
	}
	if md.Mode != "full" || md.ResetBaseline || md.BaseExportID != "" || md.Delta != nil {
		t.Errorf("full export metadata = %+v", md)
	}
	if md.TreeDigest != tree.Digest || md.TreeBytes != tree.Bytes || md.AdvisoryCount != 300 {
		t.Errorf("tree fields = %s %d %d, want %s %d 300", md.TreeDigest, md.TreeBytes, md.AdvisoryCount, tree.Digest, tree.Bytes)
	}
	if md.ExportID != "trivydb-"+res.ManifestDigest[len("sha256:"):][:16] || md.ExporterVersion != ExporterVersion {
		t.Errorf("exportId %q exporterVersion %q", md.ExportID, md.ExporterVersion)
	}
	// builder is the database's own metadata.json, as Trivy reads it.
	own, _ := os.ReadFile(filepath.Join(dir, "metadata.json"))
	if !bytes.Equal(md.Builder, own) {
		t.Errorf("builder = %s, metadata.json = %s", md.Builder, own)
	}
	if !md.CreatedAt.Equal(testOpts.UpdatedAt) {
		t.Errorf("createdAt = %v", md.CreatedAt)
	}
}

// TestDeltaUnchanged: a delta over the same data reuses the baseline's database, archive and
// every blob but the manifest, and says what it is based on.
func TestDeltaUnchanged(t *testing.T) {
	advs := subset(t, 300)
	baseDir, dir := t.TempDir(), t.TempDir()
	base := exportAt(t, advs, baseDir, "", testOpts.UpdatedAt)
	res := exportAt(t, advs, dir, baseDir, testOpts.UpdatedAt.Add(6*time.Hour))
	md := res.Metadata
	if md.Mode != "delta" || md.ResetBaseline || md.BaseExportID != base.Metadata.ExportID || md.BaseManifestDigest != base.ManifestDigest {
		t.Fatalf("delta metadata = %+v (baseline %s %s)", md, base.Metadata.ExportID, base.ManifestDigest)
	}
	if md.Delta == nil || len(md.Delta.ChangedFiles) != 0 || len(md.Delta.RemovedPaths) != 0 {
		t.Errorf("delta = %+v, want nothing changed", md.Delta)
	}
	for _, name := range []string{"trivy.db", "metadata.json", "db.tar.gz"} {
		a, _ := os.ReadFile(filepath.Join(baseDir, name))
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s was rebuilt; an unchanged delta copies it", name)
		}
	}
	if len(res.ReusedBlobs) != 2 || res.ManifestDigest == base.ManifestDigest || md.ExportID == base.Metadata.ExportID {
		t.Errorf("reused %v, manifest %s (baseline %s)", res.ReusedBlobs, res.ManifestDigest, base.ManifestDigest)
	}
	if md.TreeDigest != base.Metadata.TreeDigest {
		t.Errorf("treeDigest changed without a change in data")
	}
}

// TestDeltaChanged: one advisory edited, one removed, one added.
func TestDeltaChanged(t *testing.T) {
	advs := subset(t, 301)
	baseDir, dir := t.TempDir(), t.TempDir()
	base := exportAt(t, advs[:300], baseDir, "", testOpts.UpdatedAt)

	edited := *advs[5]
	edited.Summary = "edited: " + edited.Summary
	next := slices.Clone(advs[1:301]) // drops advs[0], adds advs[300]
	next[4] = &edited
	res := exportAt(t, next, dir, baseDir, testOpts.UpdatedAt.Add(time.Hour))
	md := res.Metadata
	if md.Mode != "delta" || md.Delta == nil {
		t.Fatalf("metadata = %+v", md)
	}
	var changed []string
	for _, f := range md.Delta.ChangedFiles {
		changed = append(changed, f.Path)
	}
	want := []string{jsontree.FilePath(advs[5].ID), jsontree.FilePath(advs[300].ID)}
	slices.Sort(want)
	if !slices.Equal(changed, want) || !slices.Equal(md.Delta.RemovedPaths, []string{jsontree.FilePath(advs[0].ID)}) {
		t.Errorf("changed %v removed %v, want %v and [%s]", changed, md.Delta.RemovedPaths, want, jsontree.FilePath(advs[0].ID))
	}
	// The database changed, so the layer is new; the config blob ("{}") comes from the baseline.
	if len(res.ReusedBlobs) != 1 || res.ReusedBlobs[0] != base.Files[3].Digest {
		t.Errorf("reused %v, want only the config blob %s", res.ReusedBlobs, base.Files[3].Digest)
	}
	// The delta's database is the one a full export of the same data gives.
	full := t.TempDir()
	exportAt(t, next, full, "", testOpts.UpdatedAt.Add(time.Hour))
	a, _ := os.ReadFile(filepath.Join(full, "db.tar.gz"))
	b, _ := os.ReadFile(filepath.Join(dir, "db.tar.gz"))
	if !bytes.Equal(a, b) {
		t.Error("a delta's db.tar.gz differs from a full export's of the same data")
	}
}

// TestDeltaReset: when most of the tree changed, the export is a new full baseline.
func TestDeltaReset(t *testing.T) {
	advs := subset(t, 100)
	baseDir, dir := t.TempDir(), t.TempDir()
	exportAt(t, advs[:40], baseDir, "", testOpts.UpdatedAt)
	md := exportAt(t, advs[40:], dir, baseDir, testOpts.UpdatedAt).Metadata
	if md.Mode != "full" || !md.ResetBaseline || md.BaseExportID != "" || md.Delta != nil {
		t.Errorf("metadata = %+v, want a full export with resetBaseline", md)
	}
}

func TestDeltaBaselineErrors(t *testing.T) {
	advs := subset(t, 20)
	full, delta := t.TempDir(), t.TempDir()
	exportAt(t, advs, full, "", testOpts.UpdatedAt)
	exportAt(t, advs, delta, full, testOpts.UpdatedAt)
	for name, base := range map[string]string{"missing": t.TempDir(), "delta baseline": delta} {
		_, err := Export(context.Background(), advs, t.TempDir(), Options{UpdatedAt: testOpts.UpdatedAt, Baseline: base})
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A tampered tree manifest is refused rather than diffed against.
	p := filepath.Join(full, "oci", "tree-manifest.json")
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, bytes.Replace(b, []byte(`"length":`), []byte(`"length":1`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Export(context.Background(), advs, t.TempDir(), Options{UpdatedAt: testOpts.UpdatedAt, Baseline: full}); err == nil {
		t.Error("tampered tree manifest: no error")
	}
}
