package sbom_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/sbom"
)

// BenchmarkDecodePostgresStretch is the /scan?sbom-only path for syft's 295 KB CycloneDX XML of
// postgres:11.15-stretch (136 components).
func BenchmarkDecodePostgresStretch(b *testing.B) {
	data := testdata(b, "corpus/osv-scanner/postgres-stretch.cdx.xml.gz")
	benchDecode(b, decoder, data)
}

// BenchmarkDecodeCycloneDXJSON5000 decodes a generated CycloneDX 1.6 JSON of 5,000 components,
// with and without schema validation.
func BenchmarkDecodeCycloneDXJSON5000(b *testing.B) {
	var buf bytes.Buffer
	if err := sbom.Encode(context.Background(), &buf, generated(5000), sbom.FormatCycloneDXJSON, encodeOpts); err != nil {
		b.Fatal(err)
	}
	b.Run("validated", func(b *testing.B) { benchDecode(b, decoder, buf.Bytes()) })
	noSchema := sbom.NewDecoder(sbom.Config{NoSchemaValidation: true})
	b.Run("unvalidated", func(b *testing.B) { benchDecode(b, noSchema, buf.Bytes()) })
}

func BenchmarkEncodeCycloneDXJSON5000(b *testing.B) {
	inv := generated(5000)
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := sbom.Encode(context.Background(), &buf, inv, sbom.FormatCycloneDXJSON, encodeOpts); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(buf.Len()))
	}
}

func benchDecode(b *testing.B, d *sbom.Decoder, data []byte) {
	if _, err := d.Decode(context.Background(), bytes.NewReader(data), sbom.FormatAuto); err != nil {
		b.Fatal(err) // also compiles the schemas outside the timed loop
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	start, n := cpuTime(), 0
	for b.Loop() {
		if _, err := d.Decode(context.Background(), bytes.NewReader(data), sbom.FormatAuto); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if used := cpuTime() - start; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

// generated is an image-like inventory of n components: Debian packages with source packages
// and npm packages with locations, all in one of two layers.
func generated(n int) *inventory.Inventory {
	d := inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm"}
	inv := &inventory.Inventory{
		Target: inventory.Target{Kind: inventory.TargetImage, Name: "generated:latest"},
		Distro: d,
		Layers: []inventory.Layer{{DiffID: "sha256:" + fmt.Sprintf("%064x", 1)}, {DiffID: "sha256:" + fmt.Sprintf("%064x", 2)}},
	}
	for i := range n {
		if i%2 == 0 {
			inv.Components = append(inv.Components, inventory.Component{
				Ecosystem: inventory.EcosystemDeb, Name: fmt.Sprintf("lib%d", i), Version: fmt.Sprintf("1:%d.2-3+b1", i), Arch: "amd64",
				Source: inventory.Source{Name: fmt.Sprintf("src%d", i/4), Version: fmt.Sprintf("1:%d.2-3", i)}, Distro: d,
				Layer: inv.Layers[0].DiffID, Locations: []string{"var/lib/dpkg/status"}, Licenses: []string{"GPL-2.0-only"},
				Hashes: []inventory.Hash{{Algorithm: "SHA-256", Value: fmt.Sprintf("%064x", i)}},
			})
			continue
		}
		inv.Components = append(inv.Components, inventory.Component{
			Ecosystem: inventory.EcosystemNPM, Name: fmt.Sprintf("@scope/pkg-%d", i), Version: fmt.Sprintf("%d.0.%d", i%7, i),
			Layer: inv.Layers[1].DiffID, Locations: []string{fmt.Sprintf("app/node_modules/pkg-%d/package.json", i)}, Licenses: []string{"MIT"},
		})
	}
	inv.Finalize()
	return inv
}
