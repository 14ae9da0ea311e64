package sbom_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/sbom"
)

var encodeOpts = sbom.EncodeOptions{
	ToolVersion: "0.1.0-test",
	Now:         func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC) },
}

// realInventory is the bookworm inventory (decoded from Trivy's JSON) plus language components
// with layers, locations, licences, hashes and CPEs, as an image scan would give.
func realInventory(t testing.TB) *inventory.Inventory {
	t.Helper()
	inv := decode(t, "corpus/debian-bookworm-minbase/bookworm.trivy.json.gz").Inventory
	inv.Target = inventory.Target{Kind: inventory.TargetImage, Name: "bookworm-minbase:test", Digest: "sha256:726e16ec2ea48adf59ba028c987cb398e25d10fb76c3fb09798308e7df5137a6"}
	inv.Distro.Codename, inv.Distro.PrettyName = "bookworm", "Debian GNU/Linux 12 (bookworm)"
	for i := range inv.Components {
		inv.Components[i].Distro = inv.Distro
	}
	app := "sha256:00000000000000000000000000000000000000000000000000000000000000aa"
	inv.Layers = append(inv.Layers, inventory.Layer{DiffID: app, Digest: "sha256:bb", Size: 4096, CreatedBy: "COPY app /app"})
	inv.Components = append(inv.Components,
		inventory.Component{Ecosystem: inventory.EcosystemNPM, Name: "@babel/core", Version: "7.24.0", Layer: app,
			Locations: []string{"app/package-lock.json"}, Licenses: []string{"MIT"}, Direct: true},
		inventory.Component{Ecosystem: inventory.EcosystemGo, Name: "github.com/BurntSushi/toml", Version: "v1.3.2", Layer: app,
			Locations: []string{"app/bin/server"}, Hashes: []inventory.Hash{{Algorithm: "SHA-256", Value: "8bdfedc14c1035e3750e9f055ac9c1ecd9b5d05d9e6dc6466c4e9237eef407dd"}}},
		inventory.Component{Ecosystem: inventory.EcosystemMaven, Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", Layer: app,
			Locations: []string{"app/lib/a.jar", "app/lib/b.jar"}, Licenses: []string{"Apache-2.0", "GPL-3+ with Bison exception"},
			CPEs:   []string{"cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*", "cpe:2.3:a:apache:log4j-core:2.14.1:*:*:*:*:*:*:*"},
			Hashes: []inventory.Hash{{Algorithm: "SHA-1", Value: "9141212b8507ab50a45525b545b39d224614528b"}, {Algorithm: "CRC32", Value: "abcd"}}},
		inventory.Component{Ecosystem: inventory.EcosystemPyPI, Name: "requests", Version: "2.31.0", Layer: app,
			Locations: []string{"app/requirements.txt"}, Licenses: []string{"Apache-2.0 OR MIT"}},
		inventory.Component{Name: "busybox", Version: "1.36.1", Layer: app, Locations: []string{"bin/busybox"},
			CPEs: []string{"cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*"},
			// An apk-style base64 digest and upper-case hex: neither fits everywhere, both must survive.
			Hashes: []inventory.Hash{{Algorithm: "SHA-1", Value: "Q1EymS6rAgmGs7XYhqdyEoiWgEZ6A="}, {Algorithm: "SHA-256", Value: "8BDFEDC14C1035E3750E9F055AC9C1ECD9B5D05D9E6DC6466C4E9237EEF407DD"}}},
	)
	inv.Finalize()
	return inv
}

// matchingFields drops what decoding legitimately changes: who found a component (the decoder
// says sbom/...), and the target (a decoded SBOM is its own target).
var matchingFields = cmp.Options{
	cmpopts.IgnoreFields(inventory.Component{}, "FoundBy"),
	cmpopts.IgnoreFields(inventory.Inventory{}, "Target"),
	cmpopts.EquateEmpty(),
}

func TestRoundTrip(t *testing.T) {
	want := realInventory(t)
	for _, f := range []sbom.Format{sbom.FormatCycloneDXJSON, sbom.FormatCycloneDXXML, sbom.FormatSPDXJSON, sbom.FormatSPDXTagValue} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := sbom.Encode(context.Background(), &buf, want, f, encodeOpts); err != nil {
				t.Fatal(err)
			}
			doc, err := decoder.DecodeDocument(context.Background(), &buf, f)
			if err != nil {
				t.Fatal(err)
			}
			if doc.Format != f || !doc.Inventory.Complete() {
				t.Errorf("format %s, diagnostics %v", doc.Format, doc.Inventory.Diagnostics)
			}
			if diff := cmp.Diff(want, doc.Inventory, matchingFields); diff != "" {
				t.Errorf("decode(encode(inv)) differs (-want +got):\n%s", diff)
			}
		})
	}
}

// smallInventory keeps the golden files readable: a few Debian packages of the real inventory
// (one with an epoch and a different source package) and the language components.
func smallInventory(t testing.TB) *inventory.Inventory {
	inv := realInventory(t)
	keep := map[string]bool{"bsdutils": true, "libc6": true, "tzdata": true}
	var cs []inventory.Component
	for _, c := range inv.Components {
		if !c.Ecosystem.IsOS() || keep[c.Name] {
			cs = append(cs, c)
		}
	}
	inv.Components = cs
	return inv
}

func TestEncodeGolden(t *testing.T) {
	inv := smallInventory(t)
	for f, name := range map[sbom.Format]string{
		sbom.FormatCycloneDXJSON: "encode.cdx.json.golden",
		sbom.FormatCycloneDXXML:  "encode.cdx.xml.golden",
		sbom.FormatSPDXJSON:      "encode.spdx.json.golden",
		sbom.FormatSPDXTagValue:  "encode.spdx.txt.golden",
	} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := sbom.Encode(context.Background(), &buf, inv, f, encodeOpts); err != nil {
				t.Fatal(err)
			}
			golden(t, name, buf.Bytes())
		})
	}
}

// TestEncodeDeterministic: the same inventory gives the same bytes whatever the order of its
// components, and the input is left alone; only the clock changes the timestamp.
func TestEncodeDeterministic(t *testing.T) {
	inv := realInventory(t)
	before := cloneForTest(inv)
	shuffled := cloneForTest(inv)
	for i, j := 0, len(shuffled.Components)-1; i < j; i, j = i+1, j-1 {
		shuffled.Components[i], shuffled.Components[j] = shuffled.Components[j], shuffled.Components[i]
	}
	for _, f := range []sbom.Format{sbom.FormatCycloneDXJSON, sbom.FormatCycloneDXXML, sbom.FormatSPDXJSON, sbom.FormatSPDXTagValue} {
		var a, b, c bytes.Buffer
		if err := sbom.Encode(context.Background(), &a, inv, f, encodeOpts); err != nil {
			t.Fatal(err)
		}
		if err := sbom.Encode(context.Background(), &b, shuffled, f, encodeOpts); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: component order changes the output", f)
		}
		if err := sbom.Encode(context.Background(), &c, inv, f, sbom.EncodeOptions{ToolVersion: encodeOpts.ToolVersion}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(c.Bytes(), []byte("1970-01-01T00:00:00")) {
			t.Errorf("%s: no clock should give the Unix epoch", f)
		}
	}
	if diff := cmp.Diff(before, inv); diff != "" {
		t.Errorf("Encode modified its input (-before +after):\n%s", diff)
	}
	if err := sbom.Encode(context.Background(), &bytes.Buffer{}, inv, sbom.FormatTrivyJSON, encodeOpts); err == nil {
		t.Error("encoding Trivy JSON should fail")
	}
}

func cloneForTest(inv *inventory.Inventory) *inventory.Inventory {
	c := *inv
	c.Components = nil
	for _, x := range inv.Components {
		x.Locations = append([]string(nil), x.Locations...)
		x.Licenses = append([]string(nil), x.Licenses...)
		x.Hashes = append([]inventory.Hash(nil), x.Hashes...)
		x.CPEs = append([]string(nil), x.CPEs...)
		c.Components = append(c.Components, x)
	}
	c.Layers = append([]inventory.Layer(nil), inv.Layers...)
	return &c
}

// TestRoundTripCorpus: every real SBOM, once decoded, survives encode → decode in every
// writable format.
func TestRoundTripCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*/*")
	if err != nil || len(files) == 0 {
		t.Fatal("no corpus")
	}
	for _, file := range files {
		name := strings.TrimPrefix(file, "testdata/")
		want := decode(t, name).Inventory
		want.Diagnostics = nil
		for _, f := range []sbom.Format{sbom.FormatCycloneDXJSON, sbom.FormatCycloneDXXML, sbom.FormatSPDXJSON, sbom.FormatSPDXTagValue} {
			var buf bytes.Buffer
			if err := sbom.Encode(context.Background(), &buf, want, f, encodeOpts); err != nil {
				t.Fatalf("%s: encoding %s: %v", name, f, err)
			}
			got, err := decoder.Decode(context.Background(), &buf, f)
			if err != nil {
				t.Fatalf("%s: decoding our %s: %v", name, f, err)
			}
			if diff := cmp.Diff(want, got, matchingFields); diff != "" {
				t.Errorf("%s via %s (-want +got):\n%s", name, f, diff)
			}
		}
	}
}
