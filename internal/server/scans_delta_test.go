package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/list"
	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/indexer"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/pkg/client"
)

// scansDelta analyses the layers of the image at path that want selects, as stella --delta
// does, and returns the delta SBOM.
func scansDelta(t *testing.T, path string, want func(string) bool) []byte {
	t.Helper()
	ctx := context.Background()
	img, err := image.Open(ctx, path, image.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	x := indexer.New(indexer.Config{Analyzers: list.Default(), TempDir: t.TempDir()})
	supplied, err := x.AnalyzeLayers(ctx, img, want)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(x.Delta(img, supplied))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScanDeltaSBOM: POST /scan with a delta SBOM (spec §2.2). On a server that lacks the
// layer, the delta supplies it and the scan matches the full image scan; once the server has
// scanned the image, a delta supplying nothing composes from the cache; a delta naming a
// layer nobody has fails with the layer named; bad documents are 400.
func TestScanDeltaSBOM(t *testing.T) {
	ctx := context.Background()
	r := start(t, scansConfig(t), server.Options{DataDir: scansDataDir(t)})
	admin := validated(t, r.url, client.WithBootstrapKey(bootstrap))
	c := validated(t, r.url, client.WithToken(scansToken(t, r.url, admin, "ci", "scanner.scans.enqueue", "scanner.scans.read")))
	img := filepath.Join(scansTestdata(t), "images", "alpine-3.10.4.docker-save.tar.gz")
	opts := client.ScanUploadOptions{ContentType: indexer.DeltaMediaType, Threshold: "low"}
	all := func(string) bool { return true }
	none := func(string) bool { return false }

	// Nothing cached: the layer must come with the delta.
	if missing, err := c.LayersMissing(ctx, []string{scansAlpineLayer}); err != nil || len(missing) != 1 {
		t.Fatalf("layers/missing: %v %v", missing, err)
	}
	_, _, err := c.ScanUpload(ctx, bytes.NewReader(scansDelta(t, img, none)), opts)
	scansWantStatus(t, err, 422, "neither supplied nor cached: "+scansAlpineLayer)
	supplied, _, err := c.ScanUpload(ctx, bytes.NewReader(scansDelta(t, img, all)), opts)
	if err != nil || supplied.Completed == nil {
		t.Fatalf("delta with the layer: %+v %v", supplied, err)
	}
	evs, _ := scansEvents(t, c, supplied.Completed.ScanID, "jsonl", 0)
	if !slices.ContainsFunc(evs, func(e client.ScanEvent) bool { return e.Message == "layer 1/1 supplied" }) {
		t.Fatalf("events of the supplied delta: %v", scansStates(evs))
	}
	// What a client supplied is not cached.
	if missing, err := c.LayersMissing(ctx, []string{scansAlpineLayer}); err != nil || len(missing) != 1 {
		t.Fatalf("a supplied layer was cached: %v %v", missing, err)
	}

	// The full scan of the archive: the server analyses and caches the layer.
	f, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	full, _, err := c.ScanUpload(ctx, bytes.NewReader(f), client.ScanUploadOptions{ContentType: "application/gzip", Threshold: "low"})
	if err != nil || full.Completed == nil {
		t.Fatalf("full scan: %+v %v", full, err)
	}
	if missing, err := c.LayersMissing(ctx, []string{scansAlpineLayer}); err != nil || len(missing) != 0 {
		t.Fatalf("after the full scan: %v %v", missing, err)
	}
	cached, _, err := c.ScanUpload(ctx, bytes.NewReader(scansDelta(t, img, none)), opts)
	if err != nil || cached.Completed == nil {
		t.Fatalf("delta from the cache: %+v %v", cached, err)
	}
	evs, _ = scansEvents(t, c, cached.Completed.ScanID, "jsonl", 0)
	if !slices.ContainsFunc(evs, func(e client.ScanEvent) bool { return e.Message == "layer 1/1 cached" }) {
		t.Fatalf("events of the cached delta: %v", scansStates(evs))
	}
	for _, got := range []*client.ScanCompleted{supplied.Completed, cached.Completed} {
		if got.Digest != full.Completed.Digest || got.Summary != full.Completed.Summary || got.Findings != full.Completed.Findings ||
			got.PolicyStatus != full.Completed.PolicyStatus {
			t.Errorf("delta scan %+v, full scan %+v", got, full.Completed)
		}
		a, b := scansComponents(t, c, got.ScanID), scansComponents(t, c, full.Completed.ScanID)
		if !slices.Equal(a, b) || len(a) != 14 {
			t.Errorf("components of the delta scan %v, of the full scan %v", a, b)
		}
	}

	// Refused documents.
	good := scansDelta(t, img, none)
	for _, bc := range []struct{ body, detail string }{
		{"{", "invalid delta SBOM"},
		{strings.Replace(string(good), `"schemaVersion":"stellaops.delta-sbom/v1"`, `"schemaVersion":"v0"`, 1), `schemaVersion "v0"`},
		{strings.Replace(string(good), `"fingerprint":"`, `"fingerprint":"x`, 1), "another analyzer set"},
		{strings.Replace(string(good), `"supplied":[]`, `"supplied":[],"extra":1`, 1), `unknown field "extra"`},
	} {
		_, _, err := c.ScanUpload(ctx, strings.NewReader(bc.body), opts)
		scansWantStatus(t, err, 400, bc.detail)
	}
}

// scansComponents lists "name version" of a scan result's inventory, sorted.
func scansComponents(t *testing.T, c *client.Client, id string) []string {
	t.Helper()
	raw, err := c.ScanResult(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Inventory struct {
			Components []struct{ Name, Version string }
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, cp := range doc.Inventory.Components {
		out = append(out, cp.Name+" "+cp.Version)
	}
	slices.Sort(out)
	return out
}
