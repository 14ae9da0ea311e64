package vex_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/vex"
)

// TestOpenVEXv020 reads go-vex's v0.2.0 sample: five statements about an Alpine image whose
// subcomponents libssl3 and libcrypto3 carry the claims.
func TestOpenVEXv020(t *testing.T) {
	d := parseFile(t, "openvex-v0.2.0.json")
	if d.Format != vex.FormatOpenVEX {
		t.Fatalf("format %q", d.Format)
	}
	const (
		image     = "pkg:oci/alpine@sha256%3A124c7d2707904eea7431fffe91522a01e5a861a624ee31d03372cc1d138a3126"
		libssl3   = "pkg:apk/alpine/libssl3@3.0.8-r3"
		libcrypto = "pkg:apk/alpine/libcrypto3@3.0.8-r3"
		docID     = "https://openvex.dev/docs/public/vex-d4e9020b6d0d26f131d535e055902dd6ccf3e2088bce3079a8cd3588a4b14c78"
		issuer    = "The OpenVEX Project <openvex@openssf.org>"
	)
	if d.ID != docID || d.Issuer != issuer {
		t.Errorf("document ID %q issuer %q", d.ID, d.Issuer)
	}
	// 5 statements × 2 subcomponents; the image itself is only the context.
	if len(d.Claims) != 10 {
		t.Fatalf("%d claims, want 10", len(d.Claims))
	}
	for _, c := range d.Claims {
		if c.Product == image {
			t.Errorf("claim on the image itself: %+v", c)
		}
	}
	got := oneClaim(t, d, "CVE-2023-3446", libssl3)
	want := vex.Claim{
		Vulnerability:    "CVE-2023-3446",
		Product:          libssl3,
		Within:           image,
		Status:           vex.StatusNotAffected,
		RawStatus:        "not_affected",
		Justification:    vex.JustificationVulnerableCodeNotPresent,
		RawJustification: "vulnerable_code_not_present",
		ImpactStatement:  "affected functions were removed before packaging",
		Issuer:           issuer,
		// "2023-07-17T18:28:47.696004345-06:00", the document timestamp, in UTC.
		Timestamp: mustTime(t, "2023-07-18T00:28:47.696004345Z"),
		Source: vex.Source{
			Format:      vex.FormatOpenVEX,
			Document:    "openvex-v0.2.0.json",
			DocumentID:  docID,
			Digest:      d.Digest,
			Statement:   3,
			ProductRefs: []string{libssl3},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CVE-2023-3446 libssl3 (-want +got):\n%s", diff)
	}
	if c := oneClaim(t, d, "CVE-2023-1255", libcrypto); c.Status != vex.StatusFixed || c.Source.Statement != 0 {
		t.Errorf("CVE-2023-1255 libcrypto3: %+v", c)
	}
}

// TestOpenVEXv001 reads the pre-0.2 shape: vulnerability and products as plain strings.
func TestOpenVEXv001(t *testing.T) {
	d := parseFile(t, "openvex-v0.0.1.json")
	if d.Issuer != "Wolfi J Inkinson" {
		t.Errorf("issuer %q", d.Issuer)
	}
	var got []string
	for _, c := range d.Claims {
		got = append(got, c.Vulnerability+" "+c.Product+" "+string(c.Status))
	}
	want := []string{
		"CVE-2023-12345 pkg:apk/wolfi/git@2.39.0-r1?arch=armv7 fixed",
		"CVE-2023-12345 pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64 fixed",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if ts := d.Claims[0].Timestamp; !ts.Equal(mustTime(t, "2023-01-08T18:02:03.647787998-06:00")) {
		t.Errorf("timestamp %v", ts)
	}
}

// TestOpenVEXStatementDetails covers what the real samples do not: aliases, statement IDs and
// timestamps, identifiers.purl with a non-purl @id, statement-level subcomponents, and products
// that are not purls.
func TestOpenVEXStatementDetails(t *testing.T) {
	const doc = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "doc-1",
  "author": "Example Vendor",
  "timestamp": "2024-01-01T00:00:00Z",
  "statements": [
    {
      "@id": "stmt-a",
      "vulnerability": {"name": "cve-2024-0001", "aliases": ["GHSA-xxxx-yyyy-zzzz", "CVE-2024-0001"]},
      "timestamp": "2024-02-01T00:00:00Z",
      "last_updated": "2024-03-01T00:00:00+01:00",
      "products": [
        {"@id": "https://example.com/sbom#app", "identifiers": {"purl": "pkg:npm/%40scope/app@1.0.0"}},
        {"@id": "cpe:2.3:a:example:thing:1.0:*:*:*:*:*:*:*"}
      ],
      "status": "affected",
      "action_statement": "upgrade to 1.0.1"
    },
    {
      "vulnerability": "CVE-2024-0002",
      "products": ["pkg:golang/example.com/app@v1.2.3"],
      "subcomponents": ["pkg:golang/golang.org/x/net@v0.1.0"],
      "status": "not_affected",
      "justification": "some_new_reason"
    }
  ]
}`
	d, err := vex.ParseOpenVEX(context.Background(), strings.NewReader(doc), "inline")
	if err != nil {
		t.Fatal(err)
	}
	a := oneClaim(t, d, "CVE-2024-0001", "pkg:npm/%40scope/app@1.0.0")
	if diff := cmp.Diff([]string{"GHSA-xxxx-yyyy-zzzz"}, a.Aliases); diff != "" {
		t.Errorf("aliases (-want +got):\n%s", diff)
	}
	if a.Source.StatementID != "stmt-a" || a.ActionStatement != "upgrade to 1.0.1" ||
		!a.Timestamp.Equal(mustTime(t, "2024-02-29T23:00:00Z")) ||
		!slicesEqual(a.Source.ProductRefs, []string{"https://example.com/sbom#app"}) {
		t.Errorf("statement a: %+v", a)
	}
	b := oneClaim(t, d, "CVE-2024-0002", "pkg:golang/golang.org/x/net@v0.1.0")
	if b.Within != "pkg:golang/example.com/app@v1.2.3" || b.Justification != "" || b.RawJustification != "some_new_reason" ||
		!b.Timestamp.Equal(mustTime(t, "2024-01-01T00:00:00Z")) {
		t.Errorf("statement b: %+v", b)
	}
	if d.SkippedTotal != 1 || d.Skipped[0].Ref != "cpe:2.3:a:example:thing:1.0:*:*:*:*:*:*:*" {
		t.Errorf("skipped: %d %+v", d.SkippedTotal, d.Skipped)
	}
}

func TestOpenVEXMalformed(t *testing.T) {
	for name, tc := range map[string]struct {
		doc  string
		want error
		msg  string
	}{
		"bad status": {`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"CVE-1"},"products":["pkg:npm/a@1"],"status":"safe"}]}`,
			vex.ErrMalformed, `statements[0]: malformed VEX document: unknown status "safe"`},
		"no vulnerability": {`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"products":["pkg:npm/a@1"],"status":"fixed"}]}`,
			vex.ErrMalformed, "no vulnerability name"},
		"bad timestamp": {`{"@context":"https://openvex.dev/ns","timestamp":"yesterday","statements":[]}`,
			vex.ErrMalformed, `invalid timestamp "yesterday"`},
		"products not a list": {`{"@context":"https://openvex.dev/ns","statements":[{"vulnerability":"CVE-1","products":7,"status":"fixed"}]}`,
			vex.ErrMalformed, "statements.products"},
		"other context": {`{"@context":"https://spdx.dev/","statements":[]}`, vex.ErrFormat, "@context is not"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := vex.ParseOpenVEX(context.Background(), bytes.NewReader([]byte(tc.doc)), "bad.json")
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "bad.json") {
				t.Errorf("err = %v, want %v containing %q and the document name", err, tc.want, tc.msg)
			}
		})
	}
}

func slicesEqual(a, b []string) bool { return cmp.Equal(a, b) }
