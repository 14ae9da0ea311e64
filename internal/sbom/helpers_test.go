package sbom_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/sbom"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// testdata reads a file under testdata/, decompressing it when its name ends in .gz.
func testdata(tb testing.TB, name string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	if !strings.HasSuffix(name, ".gz") {
		return raw
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return out
}

// decoder is shared by the tests so the schemas compile once.
var decoder = sbom.NewDecoder(sbom.DefaultConfig())

func TestPrepare(t *testing.T) {
	if err := decoder.Prepare(); err != nil {
		t.Fatalf("compiling the embedded schemas: %v", err)
	}
}

func decode(tb testing.TB, name string) *sbom.Document {
	tb.Helper()
	doc, err := decoder.DecodeDocument(context.Background(), bytes.NewReader(testdata(tb, name)), sbom.FormatAuto)
	if err != nil {
		tb.Fatalf("decoding %s: %v", name, err)
	}
	return doc
}

// golden compares got with testdata/<name>, rewriting the file under -update.
func golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test ./internal/sbom -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		tb.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

// quadruples renders the components as sorted "name version srcname srcversion" lines.
func quadruples(inv *inventory.Inventory) string {
	lines := make([]string, 0, len(inv.Components))
	for _, c := range inv.Components {
		lines = append(lines, c.Name+" "+c.Version+" "+c.Source.Name+" "+c.Source.Version+"\n")
	}
	slices.Sort(lines)
	return strings.Join(lines, "")
}

// TestConcurrentDecode: one Decoder serves concurrent requests (the schemas compile once).
func TestConcurrentDecode(t *testing.T) {
	d := sbom.NewDecoder(sbom.DefaultConfig())
	files := []string{"corpus/trivy/centos-7-cyclonedx.json", "corpus/osv-scanner/alpine.cdx.xml.gz",
		"corpus/trivy/centos-7-spdx.json", "corpus/trivy-json-reports/centos-7.json.gz"}
	for _, f := range files {
		data := testdata(t, f)
		for i := range 3 {
			t.Run(fmt.Sprintf("%s#%d", f, i), func(t *testing.T) {
				t.Parallel()
				if _, err := d.Decode(context.Background(), bytes.NewReader(data), sbom.FormatAuto); err != nil {
					t.Error(err)
				}
			})
		}
	}
}
