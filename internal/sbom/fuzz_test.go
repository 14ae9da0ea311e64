package sbom_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/sbom"
)

// Seeds per format, from testdata (small files, so the fuzzer's mutations stay quick).
var fuzzSeeds = map[sbom.Format][]string{
	sbom.FormatCycloneDXJSON: {"corpus/trivy/centos-7-cyclonedx.json", "corpus/osv-scanner/alpine-zlib-16.cdx.json",
		"corpus/cyclonedx-bom-examples/vex-bom.json", "cyclonedx-spec-1.6/valid-component-hashes-1.6.json",
		"cyclonedx-spec-1.6/valid-metadata-tool-1.6.json", "cyclonedx-spec-1.6/invalid-component-type-1.6.json"},
	sbom.FormatCycloneDXXML: {"corpus/osv-scanner/alpine.cdx.xml.gz", "corpus/osv-scanner/bad-purls.cdx.xml.gz"},
	sbom.FormatSPDXJSON: {"corpus/trivy/centos-7-spdx.json", "corpus/spdx-examples/example11-rust.spdx.json",
		"corpus/osv-scanner/only-unimportant.spdx.json", "corpus/spdx-examples/04-SBOMwSecurity.spdx.json"},
	sbom.FormatSPDXTagValue: {"corpus/trivy/centos-7-spdx.txt"},
	sbom.FormatTrivyJSON:    {"corpus/trivy-json-reports/centos-7.json.gz", "corpus/trivy-json-reports/alpine-310.json.gz"},
}

func seed(f *testing.F, formats ...sbom.Format) {
	for _, format := range formats {
		for _, name := range fuzzSeeds[format] {
			f.Add(testdata(f, name))
		}
		f.Add(tinySeed(f, format))
	}
}

// tinySeed is a small document in the format, quick to mutate: our own encoding of a
// three-component inventory (so the stellaops:* properties are exercised), or a minimal Trivy report.
func tinySeed(f *testing.F, format sbom.Format) []byte {
	if format == sbom.FormatTrivyJSON {
		return []byte(`{"SchemaVersion":2,"ArtifactName":"a","Metadata":{"OS":{"Family":"debian","Name":"12.5"},"DiffIDs":["sha256:aa"]},` +
			`"Results":[{"Class":"os-pkgs","Type":"debian","Packages":[{"Name":"bsdutils","Version":"2.38.1","Release":"5","Epoch":1,` +
			`"SrcName":"util-linux","SrcVersion":"2.38.1","SrcRelease":"5","Identifier":{"PURL":"pkg:deb/debian/bsdutils@2.38.1-5?epoch=1"},` +
			`"Layer":{"DiffID":"sha256:aa"}}]},{"Class":"lang-pkgs","Type":"npm","Packages":[{"Name":"a","Version":"1.0.0","FilePath":"p.json"}]}]}`)
	}
	d := inventory.Distro{ID: "alpine", VersionID: "3.19.1", Codename: "x"}
	inv := &inventory.Inventory{
		Target: inventory.Target{Kind: inventory.TargetImage, Name: "t"},
		Distro: d,
		Layers: []inventory.Layer{{DiffID: "sha256:aa", Size: 1}},
		Components: []inventory.Component{
			{Ecosystem: "apk", Name: "libssl3", Version: "3.1.4-r5", Arch: "x86_64", Distro: d, Source: inventory.Source{Name: "openssl", Version: "3.1.4-r5"},
				Layer: "sha256:aa", Locations: []string{"lib/apk/db/installed"}, Licenses: []string{"Apache-2.0", "weird licence"}},
			{Ecosystem: "golang", Name: "golang.org/x/net", Version: "v0.1.0", Hashes: []inventory.Hash{{Algorithm: "SHA-1", Value: "9141212b8507ab50a45525b545b39d224614528b"}}},
			{Name: "busybox", Version: "1.36.1", CPEs: []string{"cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*"}},
		},
	}
	var buf bytes.Buffer
	if err := sbom.Encode(context.Background(), &buf, inv, format, sbom.EncodeOptions{ToolVersion: "fuzz"}); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes()
}

// fuzzDecoder uses smaller limits so the fuzzer explores them too.
var fuzzDecoder = sbom.NewDecoder(sbom.Config{MaxBytes: 1 << 20, MaxDepth: 64})

// checkDecode asserts what must hold for any input: no panic; an error about the document
// matches ErrInvalid and comes with no inventory; an inventory is sorted, de-duplicated and
// names its target.
func checkDecode(t *testing.T, data []byte, format sbom.Format) {
	inv, err := fuzzDecoder.Decode(context.Background(), bytes.NewReader(data), format)
	if err != nil {
		if inv != nil {
			t.Fatalf("error %v with an inventory", err)
		}
		if !errors.Is(err, sbom.ErrInvalid) {
			t.Fatalf("error %v does not match ErrInvalid", err)
		}
		return
	}
	if inv.Target.Kind != inventory.TargetSBOM || inv.Target.Digest == "" {
		t.Fatalf("target = %+v", inv.Target)
	}
	if !slices.IsSortedFunc(inv.Components, func(a, b inventory.Component) int { return inventory.Compare(&a, &b) }) {
		t.Fatal("components not sorted")
	}
	keys := map[string]bool{}
	for i := range inv.Components {
		k := inv.Components[i].Key()
		if keys[k] {
			t.Fatalf("duplicate component %s", k)
		}
		keys[k] = true
	}
	if format != sbom.FormatAuto && inv.Target.Format != string(format) {
		t.Fatalf("target format %q, declared %q", inv.Target.Format, format)
	}
}

func FuzzDetect(f *testing.F) {
	seed(f, sbom.Formats()...)
	f.Add(testdata(f, "corpus/grype/alpine.cdx.att.json.gz"))
	f.Fuzz(func(t *testing.T, data []byte) {
		format, err := sbom.Detect(data)
		if err != nil && (format != "" || !errors.Is(err, sbom.ErrInvalid)) {
			t.Fatalf("Detect = %q, %v", format, err)
		}
		if err == nil && format == sbom.FormatAuto {
			t.Fatal("Detect gave no format and no error")
		}
	})
}

func FuzzDecodeAuto(f *testing.F) {
	seed(f, sbom.Formats()...)
	f.Add(testdata(f, "corpus/grype/alpine.cdx.att.json.gz"))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, sbom.FormatAuto) })
}

func FuzzDecodeCycloneDXJSON(f *testing.F) {
	seed(f, sbom.FormatCycloneDXJSON)
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, sbom.FormatCycloneDXJSON) })
}

func FuzzDecodeCycloneDXXML(f *testing.F) {
	seed(f, sbom.FormatCycloneDXXML)
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, sbom.FormatCycloneDXXML) })
}

func FuzzDecodeSPDXJSON(f *testing.F) {
	seed(f, sbom.FormatSPDXJSON)
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, sbom.FormatSPDXJSON) })
}

func FuzzDecodeSPDXTagValue(f *testing.F) {
	seed(f, sbom.FormatSPDXTagValue)
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, sbom.FormatSPDXTagValue) })
}

func FuzzDecodeTrivyJSON(f *testing.F) {
	seed(f, sbom.FormatTrivyJSON)
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, sbom.FormatTrivyJSON) })
}

// FuzzRoundTrip: whatever decodes must survive encode → decode in every writable format with
// everything matching needs intact.
func FuzzRoundTrip(f *testing.F) {
	seed(f, sbom.Formats()...)
	f.Fuzz(func(t *testing.T, data []byte) {
		want, err := fuzzDecoder.Decode(context.Background(), bytes.NewReader(data), sbom.FormatAuto)
		if err != nil {
			return
		}
		want.Diagnostics = nil // diagnostics are about the input document
		for _, format := range []sbom.Format{sbom.FormatCycloneDXJSON, sbom.FormatCycloneDXXML, sbom.FormatSPDXJSON, sbom.FormatSPDXTagValue} {
			var buf bytes.Buffer
			if err := sbom.Encode(context.Background(), &buf, want, format, encodeOpts); err != nil {
				t.Fatalf("encoding %s: %v", format, err)
			}
			got, err := fuzzDecoder.Decode(context.Background(), &buf, format)
			if err != nil {
				t.Fatalf("decoding our own %s: %v\n%s", format, err, buf.Bytes())
			}
			if diff := cmp.Diff(want, got, matchingFields); diff != "" {
				t.Fatalf("%s round trip (-want +got):\n%s", format, diff)
			}
		}
	})
}
