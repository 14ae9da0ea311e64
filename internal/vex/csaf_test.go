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

// TestCSAFRedHatAdvisory reads RHSA-2024:4546: 15 fixed product IDs (git-lfs on three EUS-type
// streams), resolved through relationships to the components' purls.
func TestCSAFRedHatAdvisory(t *testing.T) {
	d := parseFile(t, "rhsa-2024_4546.csaf.json")
	if d.Format != vex.FormatCSAF || d.ID != "RHSA-2024:4546" || d.Issuer != "Red Hat Product Security" ||
		!d.Timestamp.Equal(mustTime(t, "2024-07-16T13:38:03Z")) {
		t.Errorf("document %s %s %q %v", d.Format, d.ID, d.Issuer, d.Timestamp)
	}
	if len(d.Claims) != 15 || d.SkippedTotal != 0 {
		t.Fatalf("%d claims, %d skipped; want 15, 0", len(d.Claims), d.SkippedTotal)
	}
	for _, c := range d.Claims {
		if c.Vulnerability != "CVE-2023-45288" || c.Status != vex.StatusFixed || c.RawStatus != "fixed" {
			t.Errorf("claim %+v", c)
		}
	}
	// The x86_64 binary appears under AUS, E4S and TUS: one claim per platform.
	cs := findClaims(d, "CVE-2023-45288", "pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6.1?arch=x86_64")
	var within []string
	for _, c := range cs {
		within = append(within, c.Within+" "+strings.Join(c.Source.ProductRefs, ","))
	}
	want := []string{
		"AppStream-8.6.0.Z.AUS AppStream-8.6.0.Z.AUS:git-lfs-0:2.13.3-3.el8_6.1.x86_64",
		"AppStream-8.6.0.Z.E4S AppStream-8.6.0.Z.E4S:git-lfs-0:2.13.3-3.el8_6.1.x86_64",
		"AppStream-8.6.0.Z.TUS AppStream-8.6.0.Z.TUS:git-lfs-0:2.13.3-3.el8_6.1.x86_64",
	}
	if diff := cmp.Diff(want, within); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(cs[0].ActionStatement, "vendor_fix: For details on how to apply this update") ||
		!strings.Contains(cs[0].ActionStatement, "\nworkaround: In some environments where http/2 support is not required") {
		t.Errorf("action statement %q", cs[0].ActionStatement)
	}
	// Red Hat's "impact" threat is the severity ("Important"), names no product, and must not
	// become an impact statement.
	if cs[0].ImpactStatement != "" {
		t.Errorf("impact statement %q", cs[0].ImpactStatement)
	}
}

// TestCSAFRedHatGzip reads the gzipped RHSA-2024:6220 (python39 module streams): 342 fixed
// product IDs, nested module relationships.
func TestCSAFRedHatGzip(t *testing.T) {
	d := parseFile(t, "rhsa-2024_6220.csaf.json.gz")
	if d.ID != "RHSA-2024:6220" || len(d.Claims) != 342 || d.SkippedTotal != 0 {
		t.Fatalf("%s: %d claims, %d skipped", d.ID, len(d.Claims), d.SkippedTotal)
	}
	c := oneClaim(t, d, "CVE-2024-6345", "pkg:rpm/redhat/PyYAML-debugsource@5.4.1-1.module%2Bel8.5.0%2B10613%2B59a13ec4?arch=aarch64")
	if c.Status != vex.StatusFixed || c.Within != "AppStream-8.6.0.Z.E4S:python39:3.9:8060020240801142753:6a631399" {
		t.Errorf("claim %+v", c)
	}
}

// TestCSAFNotAffectedWithImpact reads the CSAF VEX example from go-vex: known_not_affected with
// an impact threat naming the product.
func TestCSAFNotAffectedWithImpact(t *testing.T) {
	d := parseFile(t, "csaf-example-not-affected.json")
	got := oneClaim(t, d, "CVE-2009-4487", "pkg:golang/github.com/go-homedir@v1.2.0")
	want := vex.Claim{
		Vulnerability:   "CVE-2009-4487",
		Product:         "pkg:golang/github.com/go-homedir@v1.2.0",
		Status:          vex.StatusNotAffected,
		RawStatus:       "known_not_affected",
		ImpactStatement: "Class with vulnerable code was removed before shipping.",
		Issuer:          "Example Company",
		Timestamp:       mustTime(t, "2022-03-03T11:00:00Z"),
		Source: vex.Source{
			Format:      vex.FormatCSAF,
			Document:    "csaf-example-not-affected.json",
			DocumentID:  "2022-EVD-UC-01-NA-001",
			Digest:      d.Digest,
			ProductRefs: []string{"CSAFPID-0001"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claim (-want +got):\n%s", diff)
	}
}

// TestCSAFMainlineLayout reads our Red Hat-layout VEX (synthetic, see PROVENANCE.md): fixed,
// known_affected and known_not_affected side by side, remediations per product.
func TestCSAFMainlineLayout(t *testing.T) {
	d := parseFile(t, "mainline-cve-2024-5535.json")
	if len(d.Claims) != 11 || d.Issuer != "" {
		t.Fatalf("%d claims, issuer %q", len(d.Claims), d.Issuer)
	}
	fixed := oneClaim(t, d, "CVE-2024-5535", "pkg:rpm/redhat/openssl@3.2.2-6.el9_5?arch=x86_64&epoch=1")
	if fixed.Status != vex.StatusFixed || fixed.Within != "BaseOS-9.5.0.Z.MAIN" ||
		fixed.ActionStatement != "vendor_fix: For details on how to apply this update..." {
		t.Errorf("fixed claim %+v", fixed)
	}
	affected := oneClaim(t, d, "CVE-2024-5535", "pkg:rpm/redhat/openssl098e?arch=src")
	if affected.Status != vex.StatusAffected || affected.RawStatus != "known_affected" ||
		affected.ActionStatement != "no_fix_planned: Will not fix" || affected.ImpactStatement != "" {
		t.Errorf("affected claim %+v", affected)
	}
	// compat-openssl10 (one src purl) is affected on RHEL 6 and not affected on RHEL 8.
	var got []string
	for _, c := range findClaims(d, "CVE-2024-5535", "pkg:rpm/redhat/compat-openssl10?arch=src") {
		got = append(got, string(c.Status)+" "+c.Within)
	}
	want := []string{"affected red_hat_enterprise_linux_6", "not_affected red_hat_enterprise_linux_8"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("compat-openssl10 (-want +got):\n%s", diff)
	}
}

// TestCSAFCPEOnly reads the Red Hat-layout VEX of vuln-list-update's fixture: its only product is
// a platform with a CPE, so there is no claim, and the skip says why.
func TestCSAFCPEOnly(t *testing.T) {
	b := txtarFiles(t, "redhat-vex-first_run.txtar")["2024/cve-2024-0002.json"]
	d, err := vex.Parse(context.Background(), bytes.NewReader(b), "cve-2024-0002.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []vex.Skip{{Statement: 0, Ref: "red_hat_enterprise_linux_9", Reason: "product has no purl"}}
	if diff := cmp.Diff(want, d.Skipped); len(d.Claims) != 0 || diff != "" {
		t.Errorf("%d claims; skipped (-want +got):\n%s", len(d.Claims), diff)
	}
}

// TestCSAFInvalid: the fixture's "document" has neither category nor csaf_version.
func TestCSAFInvalid(t *testing.T) {
	b := txtarFiles(t, "redhat-vex-invalid.txtar")["2024/cve-2024-0001.json"]
	_, err := vex.Parse(context.Background(), bytes.NewReader(b), "cve-2024-0001.json")
	if !errors.Is(err, vex.ErrFormat) || !strings.Contains(err.Error(), "cve-2024-0001.json") {
		t.Errorf("Parse: %v", err)
	}
	_, err = vex.ParseCSAF(context.Background(), bytes.NewReader(b), "cve-2024-0001.json")
	if !errors.Is(err, vex.ErrFormat) || !strings.Contains(err.Error(), "document.csaf_version is missing") {
		t.Errorf("ParseCSAF: %v", err)
	}
}

// TestCSAFFlagsAndGroups covers the profile features the samples lack: a justification flag
// reaching products through a product group, full_product_names, CSAF 2.1 purls, unknown IDs,
// a relationship cycle.
func TestCSAFFlagsAndGroups(t *testing.T) {
	const doc = `{
  "document": {"category": "csaf_vex", "csaf_version": "2.0", "publisher": {"name": "Vendor"},
               "tracking": {"id": "V-1", "current_release_date": "2024-06-01T00:00:00Z"}},
  "product_tree": {
    "full_product_names": [
      {"product_id": "P1", "product_identification_helper": {"purl": "pkg:deb/debian/curl@7.88.1-10"}},
      {"product_id": "P2", "product_identification_helper": {"purls": ["pkg:apk/alpine/curl@8.0.0-r0", "pkg:apk/wolfi/curl@8.0.0-r0"]}}
    ],
    "product_groups": [{"group_id": "G", "product_ids": ["P1", "P2"]}],
    "relationships": [
      {"full_product_name": {"product_id": "LOOP-A"}, "product_reference": "LOOP-B", "relates_to_product_reference": "X"},
      {"full_product_name": {"product_id": "LOOP-B"}, "product_reference": "LOOP-A", "relates_to_product_reference": "X"}
    ]
  },
  "vulnerabilities": [{
    "cve": "CVE-2024-7777",
    "product_status": {"known_not_affected": ["P1", "P2", "NOPE", "LOOP-A"]},
    "flags": [{"label": "vulnerable_code_not_in_execute_path", "group_ids": ["G"]}],
    "threats": [{"category": "impact", "details": "not reachable", "product_ids": ["P1"]},
                {"category": "impact", "details": "not reachable", "group_ids": ["G"]}]
  }]
}`
	d, err := vex.ParseCSAF(context.Background(), strings.NewReader(doc), "inline.csaf.json")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range d.Claims {
		got = append(got, c.Product+" "+string(c.Justification)+" "+c.ImpactStatement)
	}
	want := []string{
		"pkg:apk/alpine/curl@8.0.0-r0 vulnerable_code_not_in_execute_path not reachable",
		"pkg:apk/wolfi/curl@8.0.0-r0 vulnerable_code_not_in_execute_path not reachable",
		"pkg:deb/debian/curl@7.88.1-10 vulnerable_code_not_in_execute_path not reachable",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	wantSkips := []vex.Skip{
		{Ref: "NOPE", Reason: "product ID not in product_tree"},
		{Ref: "LOOP-A", Reason: "product has no purl"},
	}
	if diff := cmp.Diff(wantSkips, d.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
}
