package policyinput_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/policyinput"
)

func TestFindings(t *testing.T) {
	fs := []match.Finding{
		{ID: "CVE-1", Aliases: []string{"GHSA-x"}, Severity: "High", SeveritySource: "nvd cvss v3", Distro: "debian",
			Component: match.ComponentRef{PURL: "pkg:deb/debian/openssl@1.1"}, KnownExploited: true,
			VEX: &match.VEXRef{Status: "not_affected", Justification: "component_not_present", Issuer: "Acme"}},
		{ID: "CVE-2", Severity: "Low", DataSource: "osv:PyPI", Component: match.ComponentRef{Name: "requests", Version: "2.0"},
			VEX: &match.VEXRef{Status: "affected"}}, // no deciding statement
		{ID: "CVE-1", Severity: "High", Component: match.ComponentRef{PURL: "pkg:deb/debian/openssl@1.1"}}, // repeated id
	}
	got := policyinput.Findings(fs, policyinput.RecordedVEX(fs))
	want := []policy.Finding{
		{ID: "CVE-1 pkg:deb/debian/openssl@1.1", Severity: "High", Source: "NVD", Vendor: "debian", Package: "pkg:deb/debian/openssl@1.1",
			Vulnerabilities: []string{"CVE-1", "GHSA-x"}, Tags: []string{"kev"},
			VEX: []policy.VEXStatement{{Vendor: "Acme", Status: "not_affected", Justification: "component_not_present"}}},
		{ID: "CVE-2 requests@2.0", Severity: "Low", Source: "OSV", Vulnerabilities: []string{"CVE-2"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got)\n%s", d)
	}
	if got := policyinput.Findings(fs[:1], nil); got[0].VEX != nil {
		t.Fatalf("no vexOf, yet VEX %v", got[0].VEX)
	}
	if d := policyinput.SubjectDigest(inventory.Target{}); d != "sha256:0000000000000000000000000000000000000000000000000000000000000000" {
		t.Fatal(d)
	}
}
