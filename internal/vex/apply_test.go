package vex_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/vex"
)

// TestApply decides scanner-style findings (our purls carry distro/upstream qualifiers and no
// Maven type) against the claims of all real samples together.
func TestApply(t *testing.T) {
	var claims []vex.Claim
	for _, f := range []string{"openvex-v0.2.0.json", "cdx-vex.json", "cdx-valid-vulnerability-1.6.json",
		"rhsa-2024_4546.csaf.json", "mainline-cve-2024-5535.json"} {
		claims = append(claims, parseFile(t, f).Claims...)
	}
	type want struct {
		status   vex.Status
		document string // the deciding statement's document, "" for unknown
		stmt     int
		reason   string // substring
	}
	for _, tc := range []struct {
		name string
		f    vex.Finding
		want want
	}{
		{"cdx by ID, type=jar on the claim only",
			vex.Finding{ID: "CVE-2020-25649", PURL: "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0"},
			want{vex.StatusNotAffected, "cdx-vex.json", 0, "not_affected by \"unnamed issuer\""}},
		{"cdx by finding alias",
			vex.Finding{ID: "GHSA-288c-cq4h-88gq", Aliases: []string{"cve-2020-25649"}, PURL: "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0"},
			want{vex.StatusNotAffected, "cdx-vex.json", 0, ""}},
		{"cdx by claim alias",
			vex.Finding{ID: "SNYK-JAVA-COMFASTERXMLJACKSONCORE-1048302", PURL: "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0"},
			want{vex.StatusNotAffected, "cdx-vex.json", 0, ""}},
		{"cdx other version",
			vex.Finding{ID: "CVE-2020-25649", PURL: "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.1"},
			want{vex.StatusUnknown, "", 0, "no VEX statement"}},
		{"cdx conflicting qualifier",
			vex.Finding{ID: "CVE-2020-25649", PURL: "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0?type=pom"},
			want{vex.StatusUnknown, "", 0, "no VEX statement"}},
		{"cdx spec sample via CVE alias",
			vex.Finding{ID: "CVE-2018-7489", PURL: "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.4"},
			want{vex.StatusNotAffected, "cdx-valid-vulnerability-1.6.json", 0, ""}},
		{"openvex subcomponent, distro qualifier on the finding only",
			vex.Finding{ID: "CVE-2023-3446", PURL: "pkg:apk/alpine/libssl3@3.0.8-r3?arch=x86_64&distro=alpine-3.17.4"},
			want{vex.StatusNotAffected, "openvex-v0.2.0.json", 3, ""}},
		{"openvex fixed",
			vex.Finding{ID: "CVE-2023-2975", PURL: "pkg:apk/alpine/libcrypto3@3.0.8-r3"},
			want{vex.StatusFixed, "openvex-v0.2.0.json", 2, ""}},
		{"red hat fixed, scanner qualifiers",
			vex.Finding{ID: "CVE-2023-45288", PURL: "pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6.1?arch=x86_64&distro=rhel-8.6&upstream=git-lfs-2.13.3-3.el8_6.1.src.rpm"},
			want{vex.StatusFixed, "rhsa-2024_4546.csaf.json", 0, ""}},
		{"red hat other arch",
			vex.Finding{ID: "CVE-2023-45288", PURL: "pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6.1?arch=aarch64"},
			want{vex.StatusUnknown, "", 0, "no VEX statement"}},
		{"versionless claim matches any version",
			vex.Finding{ID: "CVE-2024-5535", PURL: "pkg:rpm/redhat/openssl098e@0.9.8e-29.el7?arch=src"},
			want{vex.StatusAffected, "mainline-cve-2024-5535.json", 0, ""}},
		{"versioned claim beats versionless one at equal trust and time",
			vex.Finding{ID: "CVE-2024-5535", PURL: "pkg:rpm/redhat/openssl@3.2.2-6.el9_5?arch=src&epoch=1"},
			want{vex.StatusFixed, "mainline-cve-2024-5535.json", 0, "overrules 1 by specificity"}},
		{"undecidable stays unknown",
			vex.Finding{ID: "CVE-2024-5535", PURL: "pkg:rpm/redhat/compat-openssl10@1.0.2o-4.el8?arch=src"},
			want{vex.StatusUnknown, "", 0, "undecidable"}},
		{"invalid purl",
			vex.Finding{ID: "CVE-2023-45288", PURL: "git-lfs 2.13.3"},
			want{vex.StatusUnknown, "", 0, "no valid purl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := vex.Apply([]vex.Finding{tc.f}, claims, vex.DefaultTrust())[0]
			got := want{status: d.Status, reason: tc.want.reason}
			if d.Decider != nil {
				got.document, got.stmt = d.Decider.Source.Document, d.Decider.Source.Statement
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("(-want +got):\n%s\nreason: %s", diff, d.Reason)
			}
			if !strings.Contains(d.Reason, tc.want.reason) {
				t.Errorf("reason %q does not contain %q", d.Reason, tc.want.reason)
			}
			if d.Vulnerability != tc.f.ID {
				t.Errorf("vulnerability %q", d.Vulnerability)
			}
			if d.Status == vex.StatusUnknown && d.Decider != nil {
				t.Errorf("unknown with a decider: %+v", d.Decider)
			}
		})
	}
}

// TestApplyAlignedAndTrusted: the output follows the input order, and trust decides between the
// real Red Hat claim and a later community claim for the same finding.
func TestApplyAlignedAndTrusted(t *testing.T) {
	claims := append(parseFile(t, "rhsa-2024_4546.csaf.json").Claims, community(t, "affected", "2025-01-01T00:00:00Z"))
	findings := []vex.Finding{
		{ID: "CVE-0000-0001", PURL: "pkg:npm/nothing@1.0.0"},
		{ID: gitLFSCVE, PURL: gitLFS + "&distro=rhel-8.6"},
	}
	out := vex.Apply(findings, claims, trustTable(t))
	if len(out) != 2 || out[0].Status != vex.StatusUnknown || out[1].Status != vex.StatusFixed {
		t.Fatalf("decisions %+v", out)
	}
	if out[1].Product != "pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6.1?arch=x86_64&distro=rhel-8.6" {
		t.Errorf("product %q", out[1].Product)
	}
	// Three Red Hat platform claims agree; the community claim is the one conflict.
	if len(out[1].Claims) != 4 || len(out[1].Conflicts) != 1 || out[1].Conflicts[0].Issuer != "Community Scanner" {
		t.Errorf("claims %v conflicts %v", issuers(out[1].Claims), issuers(out[1].Conflicts))
	}
	if out[1].Decider.Source.Document != "rhsa-2024_4546.csaf.json" || out[1].Decider.Source.DocumentID != "RHSA-2024:4546" {
		t.Errorf("decider %+v", out[1].Decider.Source)
	}
}
