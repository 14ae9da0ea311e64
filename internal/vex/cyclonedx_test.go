package vex_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/vex"
)

const jacksonDatabind = "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0?type=jar"

// TestCycloneDXBOMExampleVEX reads CycloneDX's VEX example: one not_affected analysis whose
// affects ref is a BOM-link into another BOM ("urn:cdx:<serial>/1#<bom-ref>").
func TestCycloneDXBOMExampleVEX(t *testing.T) {
	d := parseFile(t, "cdx-vex.json")
	if d.Format != vex.FormatCycloneDX || len(d.Claims) != 1 {
		t.Fatalf("format %q, %d claims", d.Format, len(d.Claims))
	}
	got := oneClaim(t, d, "CVE-2020-25649", jacksonDatabind)
	want := vex.Claim{
		Vulnerability:    "CVE-2020-25649",
		Aliases:          []string{"SNYK-JAVA-COMFASTERXMLJACKSONCORE-1048302"},
		Product:          jacksonDatabind,
		Status:           vex.StatusNotAffected,
		RawStatus:        "not_affected",
		Justification:    vex.JustificationVulnerableCodeNotInExecutePath,
		RawJustification: "code_not_reachable",
		ImpactStatement:  "Automated dataflow analysis and manual code review indicates that the vulnerable code is not reachable, either directly or indirectly.",
		ActionStatement:  "response: will_not_fix, update",
		Source: vex.Source{
			Format:      vex.FormatCycloneDX,
			Document:    "cdx-vex.json",
			Digest:      d.Digest,
			ProductRefs: []string{"urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#" + jacksonDatabind},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claim (-want +got):\n%s", diff)
	}
}

// TestCycloneDXSpecVulnerability reads the CycloneDX 1.6 spec's vulnerability test BOM: the ref
// resolves through the BOM's own component, references become aliases, analysis.lastUpdated is
// the timestamp.
func TestCycloneDXSpecVulnerability(t *testing.T) {
	d := parseFile(t, "cdx-valid-vulnerability-1.6.json")
	c := oneClaim(t, d, "SNYK-JAVA-COMFASTERXMLJACKSONCORE-32111", "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.4")
	if c.Status != vex.StatusNotAffected || !cmp.Equal(c.Aliases, []string{"CVE-2018-7489"}) ||
		!c.Timestamp.Equal(mustTime(t, "2022-02-01T00:00:00Z")) ||
		c.Source.StatementID != "6eee14da-8f42-4cc4-bb65-203235f02415" ||
		d.ID != "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79" {
		t.Errorf("claim %+v, document ID %q", c, d.ID)
	}
}

// TestCycloneDXSBOMWithoutVEX: the SBOM the VEX example points at has no vulnerabilities; it is
// a CycloneDX document with nothing to say, not an error.
func TestCycloneDXSBOMWithoutVEX(t *testing.T) {
	d := parseFile(t, "cdx-vex-bom.json")
	if len(d.Claims) != 0 || d.SkippedTotal != 0 || d.ID != "urn:uuid:5f0f0da9-c03d-47d8-b38d-009e6df67094" {
		t.Errorf("document %+v", d)
	}
}

// TestCycloneDXRefs covers bom-ref resolution the samples cannot show: an opaque bom-ref
// resolved to a nested component's purl, a percent-encoded BOM-link, an unresolvable ref, a
// versionless purl narrowed by affects[].versions, issuer and timestamp from metadata.
func TestCycloneDXRefs(t *testing.T) {
	const doc = `{
  "bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": "urn:uuid:11111111-2222-3333-4444-555555555555",
  "metadata": {"timestamp": "2024-05-01T10:00:00Z", "authors": [{"name": "Jane"}], "supplier": {"name": "Acme Corp"},
               "component": {"bom-ref": "app", "purl": "pkg:generic/acme/app@2.0"}},
  "components": [
    {"bom-ref": "c-1", "purl": "pkg:pypi/Django@4.2.1",
     "components": [{"bom-ref": "nested ref", "purl": "pkg:pypi/sqlparse@0.4.3"}]}
  ],
  "vulnerabilities": [
    {"id": "CVE-2024-1000", "analysis": {"state": "exploitable", "response": ["update"], "detail": "upgrade now"},
     "affects": [{"ref": "c-1"}, {"ref": "urn:cdx:11111111-2222-3333-4444-555555555555/1#nested%20ref"}, {"ref": "no-such-ref"}]},
    {"id": "CVE-2024-2000", "analysis": {"state": "resolved"},
     "affects": [{"ref": "pkg:npm/left-pad", "versions": [{"version": "1.3.0"}, {"range": "vers:npm/<1.0.0"}]}]},
    {"id": "CVE-2024-3000", "affects": [{"ref": "c-1"}]}
  ]
}`
	d, err := vex.ParseCycloneDX(context.Background(), strings.NewReader(doc), "inline.cdx.json")
	if err != nil {
		t.Fatal(err)
	}
	if d.Issuer != "Acme Corp" {
		t.Errorf("issuer %q", d.Issuer)
	}
	var got []string
	for _, c := range d.Claims {
		got = append(got, c.Vulnerability+" "+c.Product+" "+string(c.Status)+" "+c.ActionStatement+" "+c.Timestamp.Format("2006-01-02"))
	}
	want := []string{
		"CVE-2024-1000 pkg:pypi/django@4.2.1 affected response: update; upgrade now 2024-05-01",
		"CVE-2024-1000 pkg:pypi/sqlparse@0.4.3 affected response: update; upgrade now 2024-05-01",
		"CVE-2024-2000 pkg:npm/left-pad@1.3.0 fixed  2024-05-01",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	var skips []string
	for _, s := range d.Skipped {
		skips = append(skips, s.Ref+": "+s.Reason)
	}
	wantSkips := []string{
		"no-such-ref: affects ref resolves to no purl",
		"pkg:npm/left-pad: version range \"vers:npm/<1.0.0\" not evaluated",
		"CVE-2024-3000: no analysis.state",
	}
	if diff := cmp.Diff(wantSkips, skips); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
}

func TestCycloneDXMalformed(t *testing.T) {
	for name, tc := range map[string]struct {
		doc, msg string
		want     error
	}{
		"unknown state": {`{"bomFormat":"CycloneDX","vulnerabilities":[{"id":"CVE-1","analysis":{"state":"fine"},"affects":[{"ref":"pkg:npm/a@1"}]}]}`,
			`vulnerabilities[0]: malformed VEX document: unknown analysis.state "fine"`, vex.ErrMalformed},
		"analysis without id": {`{"bomFormat":"CycloneDX","vulnerabilities":[{"analysis":{"state":"resolved"}}]}`,
			"no id", vex.ErrMalformed},
		"wrong type":    {`{"bomFormat":"CycloneDX","vulnerabilities":{"id":"x"}}`, `field "vulnerabilities"`, vex.ErrMalformed},
		"not CycloneDX": {`{"bomFormat":"SPDX"}`, `bomFormat is "SPDX"`, vex.ErrFormat},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := vex.ParseCycloneDX(context.Background(), strings.NewReader(tc.doc), "bad.cdx.json")
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "bad.cdx.json") {
				t.Errorf("err = %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}
