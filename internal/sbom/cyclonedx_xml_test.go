package sbom

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/inventory"
)

// decodeXMLWithDecode is how CycloneDX XML was read before readXMLBOM: encoding/xml's Decode into
// cyclonedx-go's types. It is the reference the token reader is held to.
func decodeXMLWithDecode(ctx context.Context, data []byte, maxDepth int) (*inventory.Inventory, error) {
	var bom bomSubset
	if err := guard(FormatCycloneDXXML, func() error { return xml.NewDecoder(bytes.NewReader(data)).Decode(&bom) }); err != nil {
		return nil, err
	}
	sv, ok := xmlSpecVersion(bom.XMLNS)
	if !ok {
		return nil, ErrUnsupportedVersion
	}
	bom.SpecVersion = sv
	b, err := walkBOM(ctx, FormatCycloneDXXML, &bom, maxDepth)
	if err != nil {
		return nil, err
	}
	return b.finish(), nil
}

// compareXMLReaders fails when Decode accepts data and the token reader does not, or reads it
// differently. (The reader may accept what Decode refuses: it does not decode the sections
// cyclonedx-go is strict about and we do not use.)
func compareXMLReaders(t *testing.T, data []byte) (accepted bool) {
	t.Helper()
	ctx := context.Background()
	maxDepth := DefaultConfig().MaxDepth
	want, werr := decodeXMLWithDecode(ctx, data, maxDepth)
	b, gerr := decodeCycloneDXXML(ctx, data, maxDepth)
	if werr != nil {
		if gerr == nil && strings.Contains(werr.Error(), "nested more than") {
			t.Fatalf("Decode refused the nesting (%v), the token reader did not", werr)
		}
		return false
	}
	if gerr != nil {
		t.Fatalf("Decode read it, the token reader refused it: %v", gerr)
	}
	if got := b.finish(); !reflect.DeepEqual(want, got) { // cmp.Diff only on failure: it is slow under the fuzzer
		t.Fatalf("inventories differ (-Decode +token reader):\n%s", cmp.Diff(want, got))
	}
	return true
}

func xmlSamples(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	files, _ := filepath.Glob("testdata/corpus/*/*.xml.gz")
	files = append(files, "testdata/encode.cdx.xml.golden")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		out[f] = b
	}
	const ns = `<bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">`
	// Edge cases of Decode's rules: text fields ignore child elements and comments and join CDATA;
	// repeated lists append; attributes match by local name; licence choices; evidence; nesting.
	out["edge"] = []byte(`<?xml version="1.0"?>` + ns +
		`<metadata><tools><tool><name>x</name></tool></tools><component type="operating-system"><name>debian</name><version>12.5</version></component></metadata>` +
		`<components><component type="library" bom-ref="a"><name>lib<!-- c -->ssl<b>ignored</b>3</name><version><![CDATA[3.0.11]]>-1</version>` +
		`<purl> pkg:deb/debian/libssl3@3.0.11-1?distro=debian-12.5 </purl><cpe>cpe:2.3:a:openssl:openssl:3.0.11:*:*:*:*:*:*:*</cpe>` +
		`<hashes><hash alg="SHA-256">` + strings.Repeat("ab", 32) + `</hash><other/></hashes>` +
		`<licenses><license><id>Apache-2.0</id><text>long</text></license><license><name>custom</name></license><expression>MIT OR GPL-2.0-only</expression><expression-detailed expression="BSD-3-Clause"/></licenses>` +
		`<properties><property name="syft:package:foundBy">dpkg</property><property name="p2">v<x/>2</property></properties>` +
		`<evidence><occurrences><occurrence><location>/var/lib/dpkg/status</location></occurrence></occurrences></evidence>` +
		`<externalReferences><reference type="website"><url>https://x</url></reference></externalReferences>` +
		`<components><component type="library"><name>inner</name><version>1</version><purl>pkg:npm/inner@1</purl></component></components>` +
		`</component></components><components><component type="library"><name>second-list</name><version>2</version><purl>pkg:pypi/second-list@2</purl></component></components>` +
		`<dependencies><dependency ref="a"/></dependencies></bom>`)
	out["prefixed"] = []byte(`<c:bom xmlns:c="http://cyclonedx.org/schema/bom/1.5" xmlns="http://cyclonedx.org/schema/bom/1.5"><c:components><c:component type="library"><c:name>p</c:name><c:version>1</c:version><c:purl>pkg:npm/p@1</c:purl></c:component></c:components></c:bom>`)
	deep := ns + `<components>` + strings.Repeat(`<component type="library"><name>d</name><components>`, 80) + strings.Repeat(`</components></component>`, 80) + `</components></bom>`
	out["deep"] = []byte(deep)
	return out
}

// TestXMLReaderMatchesDecode: on every CycloneDX XML sample, the token reader reads exactly what
// Decode read.
func TestXMLReaderMatchesDecode(t *testing.T) {
	samples := xmlSamples(t)
	if len(samples) < 8 {
		t.Fatalf("only %d samples", len(samples))
	}
	accepted := 0
	for name, data := range samples {
		t.Run(filepath.Base(name), func(t *testing.T) {
			if compareXMLReaders(t, data) {
				accepted++
			}
		})
	}
	if accepted < len(samples)-1 { // "deep" is refused by both
		t.Errorf("Decode accepted only %d of %d samples", accepted, len(samples))
	}
}

func FuzzXMLReader(f *testing.F) {
	for _, data := range xmlSamples(f) {
		if len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { compareXMLReaders(t, data) })
}
