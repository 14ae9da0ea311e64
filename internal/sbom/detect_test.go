package sbom_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/sbom"
)

func TestDetect(t *testing.T) {
	statement := `{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://spdx.dev/Document","subject":[],"predicate":` +
		string(testdata(t, "corpus/spdx-examples/example11-rust.spdx.json")) + `}`
	envelope := `{"payloadType":"application/vnd.in-toto+json","payload":"` + base64.StdEncoding.EncodeToString([]byte(statement)) + `","signatures":[]}`
	tests := []struct {
		name    string
		data    []byte
		want    sbom.Format
		wantErr error
		errText string
	}{
		{"cyclonedx json", testdata(t, "corpus/trivy/centos-7-cyclonedx.json"), sbom.FormatCycloneDXJSON, nil, ""},
		{"cyclonedx xml", testdata(t, "corpus/osv-scanner/alpine.cdx.xml.gz"), sbom.FormatCycloneDXXML, nil, ""},
		{"spdx json", testdata(t, "corpus/trivy/centos-7-spdx.json"), sbom.FormatSPDXJSON, nil, ""},
		{"spdx tag-value", testdata(t, "corpus/trivy/centos-7-spdx.txt"), sbom.FormatSPDXTagValue, nil, ""},
		{"trivy json", testdata(t, "corpus/trivy-json-reports/centos-7.json.gz"), sbom.FormatTrivyJSON, nil, ""},
		{"dsse envelope around cyclonedx", testdata(t, "corpus/grype/alpine.cdx.att.json.gz"), sbom.FormatCycloneDXJSON, nil, ""},
		{"in-toto v1 statement around spdx", []byte(statement), sbom.FormatSPDXJSON, nil, ""},
		{"dsse envelope around spdx statement", []byte(envelope), sbom.FormatSPDXJSON, nil, ""},
		{"utf-8 bom and blank lines", append([]byte("\xef\xbb\xbf\n\n"), testdata(t, "corpus/cyclonedx-bom-examples/vex.json")...), sbom.FormatCycloneDXJSON, nil, ""},
		{"truncated cyclonedx is still cyclonedx", testdata(t, "corpus/trivy/centos-7-cyclonedx.json")[:300], sbom.FormatCycloneDXJSON, nil, ""},
		{"empty", nil, "", sbom.ErrUnrecognised, "the document is empty"},
		{"plain json", []byte(`{"hello":"world"}`), "", sbom.ErrUnrecognised, "not CycloneDX (JSON/XML), SPDX (JSON/tag-value) or Trivy JSON (SchemaVersion 2)"},
		{"other bomFormat", []byte(`{"bomFormat":"AnotherFormat","specVersion":"1.6"}`), "", sbom.ErrUnrecognised, `bomFormat "AnotherFormat"`},
		{"trivy schema 1", []byte(`{"SchemaVersion":1,"ArtifactName":"x","Results":[]}`), "", sbom.ErrUnsupportedVersion, "SchemaVersion 1"},
		{"json array", []byte(`[{"Target":"x"}]`), "", sbom.ErrUnrecognised, "JSON array"},
		{"other xml", []byte(`<?xml version="1.0"?><project xmlns="http://maven.apache.org/POM/4.0.0"/>`), "", sbom.ErrUnrecognised, "<project"},
		{"spdx rdf", []byte(`<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>`), "", sbom.ErrUnrecognised, "RDF"},
		{"text", []byte("hello\nworld\n"), "", sbom.ErrUnrecognised, ""},
		{"binary", []byte{0x1f, 0x8b, 0x08, 0, 0, 0}, "", sbom.ErrUnrecognised, ""},
		{"provenance statement", []byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1","subject":[],"predicate":{"buildDefinition":{}}}`), "", sbom.ErrUnrecognised, "https://slsa.dev/provenance/v1"},
		{"dsse of something else", []byte(`{"payloadType":"application/vnd.cncf.notary.payload.v1+json","payload":"e30=","signatures":[]}`), "", sbom.ErrUnrecognised, "payload type"},
		{"too deep", []byte(strings.Repeat("[", 1000)), "", sbom.ErrUnrecognised, ""},
		{"deep object", []byte(`{"bomFormat":"CycloneDX","x":` + strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200) + `}`), "", sbom.ErrTooDeep, "more than 128 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sbom.Detect(tt.data)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Fatalf("Detect = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, sbom.ErrInvalid) {
				t.Fatalf("Detect error = %v; want one matching %v and ErrInvalid", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("Detect error %q does not say %q", err, tt.errText)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]sbom.Format{"": sbom.FormatAuto, "auto": sbom.FormatAuto, "CycloneDX-JSON": sbom.FormatCycloneDXJSON,
		"spdx-json": sbom.FormatSPDXJSON, "trivy-json-v2": sbom.FormatTrivyJSON, "cyclonedx-xml": sbom.FormatCycloneDXXML, "spdx-tag-value": sbom.FormatSPDXTagValue} {
		if got, err := sbom.ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := sbom.ParseFormat("syft-json"); err == nil {
		t.Error("ParseFormat(syft-json) should fail")
	}
}

func TestDeclaredFormatMismatch(t *testing.T) {
	cdx := testdata(t, "corpus/trivy/centos-7-cyclonedx.json")
	_, err := decoder.Decode(context.Background(), bytes.NewReader(cdx), sbom.FormatSPDXJSON)
	if !errors.Is(err, sbom.ErrFormatMismatch) || !errors.Is(err, sbom.ErrInvalid) {
		t.Fatalf("err = %v, want ErrFormatMismatch", err)
	}
	if want := "spdx-json: SBOM format mismatch: declared spdx-json, but the document is cyclonedx-json"; err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
	// The attestation's predicate is what counts.
	if _, err := decoder.Decode(context.Background(), bytes.NewReader(testdata(t, "corpus/grype/alpine.cdx.att.json.gz")), sbom.FormatCycloneDXJSON); err != nil {
		t.Errorf("declared cyclonedx-json for a CycloneDX attestation: %v", err)
	}
	_, err = decoder.Decode(context.Background(), strings.NewReader("garbage"), sbom.FormatTrivyJSON)
	if !errors.Is(err, sbom.ErrFormatMismatch) {
		t.Errorf("garbage declared as trivy-json-v2: %v", err)
	}
	if _, err := decoder.Decode(context.Background(), bytes.NewReader(cdx), "syft-json"); err == nil {
		t.Error("unknown declared format accepted")
	}
}

// TestBadDocuments: broken documents give a precise error, never a panic or an inventory.
func TestBadDocuments(t *testing.T) {
	cdx := testdata(t, "corpus/trivy/centos-7-cyclonedx.json")
	xml := testdata(t, "corpus/osv-scanner/alpine.cdx.xml.gz")
	spdxJSON := testdata(t, "corpus/trivy/centos-7-spdx.json")
	trivy := testdata(t, "corpus/trivy-json-reports/centos-7.json.gz")
	tests := []struct {
		name    string
		data    []byte
		wantErr error
		errText string
	}{
		{"truncated cyclonedx json", cdx[:300], sbom.ErrInvalid, "cyclonedx-json: line "},
		{"cyclonedx json syntax error", bytes.Replace(cdx, []byte(`"version": 1,`), []byte(`"version": 1,,`), 1), sbom.ErrInvalid, "line 5, column"},
		{"cyclonedx schema violation", bytes.Replace(cdx, []byte(`"type": "library"`), []byte(`"type": "libary"`), 1), sbom.ErrInvalid, "cyclonedx-json: /components/0/type: does not conform to the CycloneDX 1.5 schema"},
		{"cyclonedx 1.7", bytes.Replace(cdx, []byte(`"specVersion": "1.5"`), []byte(`"specVersion": "1.7"`), 1), sbom.ErrUnsupportedVersion, `CycloneDX "1.7" (supported: 1.2 to 1.6)`},
		{"truncated cyclonedx xml", xml[:2000], sbom.ErrInvalid, "cyclonedx-xml: line "},
		{"cyclonedx xml 1.1", bytes.Replace(xml, []byte("schema/bom/1.4"), []byte("schema/bom/1.1"), 1), sbom.ErrUnsupportedVersion, "bom/1.1"},
		{"cyclonedx xml bad component type", bytes.Replace(xml, []byte(`type="library"`), []byte(`type="libary"`), 1), sbom.ErrInvalid, `cyclonedx-xml: components[0]: unknown component type "libary"`},
		{"cyclonedx xml bad hash", bytes.Replace(xml, []byte(`<licenses>`), []byte(`<hashes><hash alg="SHA-1">zz</hash></hashes><licenses>`), 1), sbom.ErrInvalid, `.hashes[0]: hash SHA-1 "zz`},
		{"truncated spdx json", spdxJSON[:500], sbom.ErrInvalid, "spdx-json: line "},
		{"spdx 1.2", bytes.Replace(spdxJSON, []byte(`"SPDX-2.2"`), []byte(`"SPDX-1.2"`), 1), sbom.ErrInvalid, "SPDX-1.2"},
		{"truncated trivy", trivy[:400], sbom.ErrInvalid, "trivy-json-v2: line "},
		{"trivy wrong type", []byte(`{"SchemaVersion":2,"Results":[{"Packages":"none"}]}`), sbom.ErrInvalid, "trivy-json-v2: line 1, column"},
		{"bad base64 in envelope", []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"%%%","signatures":[]}`), sbom.ErrInvalid, "/payload: DSSE payload is not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := decoder.Decode(context.Background(), bytes.NewReader(tt.data), sbom.FormatAuto)
			if err == nil || inv != nil {
				t.Fatalf("Decode = %v, %v; want an error and no inventory", inv, err)
			}
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, sbom.ErrInvalid) {
				t.Errorf("err = %v; want it to match %v and ErrInvalid", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("err = %q; want it to contain %q", err, tt.errText)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	small := sbom.NewDecoder(sbom.Config{MaxBytes: 1000, MaxDepth: 6})
	cdx := testdata(t, "corpus/trivy/centos-7-cyclonedx.json")
	_, err := small.Decode(context.Background(), bytes.NewReader(cdx), sbom.FormatAuto)
	if !errors.Is(err, sbom.ErrTooLarge) || !strings.Contains(err.Error(), "more than 1000 bytes") {
		t.Errorf("large document: %v", err)
	}
	deep := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"a","components":[{"type":"library","name":"b","components":[{"type":"library","name":"c","components":[]}]}]}]}`)
	_, err = small.Decode(context.Background(), bytes.NewReader(deep), sbom.FormatAuto)
	if !errors.Is(err, sbom.ErrTooDeep) || !strings.Contains(err.Error(), "byte ") {
		t.Errorf("deep document: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := decoder.Decode(ctx, bytes.NewReader(cdx), sbom.FormatAuto); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestEmptyPredicate: cosign's {"Data": ""} wrapper around nothing is an error, not a panic.
func TestEmptyPredicate(t *testing.T) {
	for _, pred := range []string{`{"Data":""}`, `{"Data":"  "}`, `""`, `null`, `{"Data":"[1]"}`} {
		st := `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://cyclonedx.org/bom","subject":[],"predicate":` + pred + `}`
		if _, err := sbom.Detect([]byte(st)); !errors.Is(err, sbom.ErrInvalid) {
			t.Errorf("predicate %s: %v", pred, err)
		}
	}
}

func TestXMLNestingLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1"><components>`)
	for range 10 {
		b.WriteString(`<component type="library"><name>x</name><components>`)
	}
	for range 10 {
		b.WriteString(`</components></component>`)
	}
	b.WriteString(`</components></bom>`)
	small := sbom.NewDecoder(sbom.Config{MaxDepth: 5})
	_, err := small.Decode(context.Background(), strings.NewReader(b.String()), sbom.FormatAuto)
	if !errors.Is(err, sbom.ErrTooDeep) || !strings.Contains(err.Error(), "components nested more than 5 levels") {
		t.Errorf("err = %v", err)
	}
	if _, err := decoder.Decode(context.Background(), strings.NewReader(b.String()), sbom.FormatAuto); err != nil {
		t.Errorf("default limits: %v", err)
	}
}
