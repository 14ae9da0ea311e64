package vex_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stellaops/stellaops/internal/vex"
)

const (
	gitLFS     = "pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6.1?arch=x86_64"
	gitLFSCVE  = "CVE-2023-45288"
	communityV = "community.json"
)

// redHatGitLFS is Red Hat's fixed claim on git-lfs x86_64 under the AUS stream, from the real
// RHSA-2024:4546 (2024-07-16).
func redHatGitLFS(t *testing.T) vex.Claim {
	t.Helper()
	for _, c := range parseFile(t, "rhsa-2024_4546.csaf.json").Claims {
		if c.Product == gitLFS && c.Within == "AppStream-8.6.0.Z.AUS" {
			return c
		}
	}
	t.Fatal("no AUS claim for git-lfs x86_64")
	return vex.Claim{}
}

// community parses a later, disagreeing OpenVEX statement from a lesser-known issuer.
func community(t *testing.T, status, timestamp string) vex.Claim {
	t.Helper()
	doc := `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"c-1","author":"Community Scanner",
	  "timestamp":"` + timestamp + `","statements":[{"vulnerability":{"name":"` + gitLFSCVE + `"},
	  "products":[{"@id":"pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6.1?arch=x86_64"}],"status":"` + status + `",
	  "action_statement":"no patch observed"}]}`
	d, err := vex.Parse(context.Background(), strings.NewReader(doc), communityV)
	if err != nil || len(d.Claims) != 1 {
		t.Fatalf("%v %+v", err, d)
	}
	return d.Claims[0]
}

func trustTable(t *testing.T) vex.Trust {
	t.Helper()
	tr, err := vex.NewTrust(1, map[string]int{"red hat product security": 10})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func issuers(rs []vex.Ranked) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Issuer+" "+string(r.Status))
	}
	return out
}

func TestDecideTrustBeatsRecency(t *testing.T) {
	rh := redHatGitLFS(t)
	later := community(t, "affected", "2025-01-01T00:00:00Z")
	d := vex.Decide(gitLFSCVE, gitLFS, []vex.Claim{later, rh}, trustTable(t))
	if d.Status != vex.StatusFixed || d.Decider == nil || d.Decider.Issuer != "Red Hat Product Security" || d.Decider.Weight != 10 {
		t.Fatalf("decision %+v", d)
	}
	if diff := cmp.Diff([]string{"Community Scanner affected"}, issuers(d.Conflicts)); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
	want := `fixed by "Red Hat Product Security" (weight 10, 2024-07-16T13:38:03Z) in rhsa-2024_4546.csaf.json statement 0; overrules 1 by trust`
	if d.Reason != want {
		t.Errorf("reason\n got %s\nwant %s", d.Reason, want)
	}
}

func TestDecideRecencyAmongEqualTrust(t *testing.T) {
	rh := redHatGitLFS(t)
	later := community(t, "affected", "2025-01-01T00:00:00Z")
	d := vex.Decide(gitLFSCVE, gitLFS, []vex.Claim{rh, later}, vex.DefaultTrust())
	if d.Status != vex.StatusAffected || d.Decider.Issuer != "Community Scanner" || d.Decider.ActionStatement != "no patch observed" {
		t.Fatalf("decision %+v", d)
	}
	if diff := cmp.Diff([]string{"Red Hat Product Security fixed"}, issuers(d.Conflicts)); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
	if !strings.HasSuffix(d.Reason, "overrules 1 by recency") {
		t.Errorf("reason %s", d.Reason)
	}
	// An older claim from an equally trusted issuer loses to Red Hat's newer one.
	earlier := community(t, "affected", "2020-01-01T00:00:00Z")
	if d := vex.Decide(gitLFSCVE, gitLFS, []vex.Claim{earlier, rh}, vex.DefaultTrust()); d.Status != vex.StatusFixed {
		t.Errorf("earlier community claim decided: %+v", d)
	}
}

// TestDecideUndecidable: the synthetic Red Hat-layout VEX says the one compat-openssl10 src purl
// is affected (RHEL 6) and not affected (RHEL 8) at the same time from the same issuer. Nothing
// can pick one; the decision is unknown and both claims are conflicts.
func TestDecideUndecidable(t *testing.T) {
	d := parseFile(t, "mainline-cve-2024-5535.json")
	const product = "pkg:rpm/redhat/compat-openssl10?arch=src"
	dec := vex.Decide("CVE-2024-5535", product, findClaims(d, "CVE-2024-5535", product), vex.DefaultTrust())
	if dec.Status != vex.StatusUnknown || dec.Decider != nil || len(dec.Conflicts) != 2 || len(dec.Claims) != 2 {
		t.Fatalf("decision %+v", dec)
	}
	want := "undecidable: 2 statements of equal weight 1, time 2024-11-12T10:00:00Z and specificity disagree (affected ×1, not_affected ×1)"
	if dec.Reason != want {
		t.Errorf("reason\n got %s\nwant %s", dec.Reason, want)
	}
	// A more trusted voice settles it.
	settle := community(t, "not_affected", "2019-01-01T00:00:00Z")
	settle.Product = product
	tr, _ := vex.NewTrust(1, map[string]int{"Community Scanner": 5})
	if dec := vex.Decide("CVE-2024-5535", product, append(findClaims(d, "CVE-2024-5535", product), settle), tr); dec.Status != vex.StatusNotAffected ||
		len(dec.Conflicts) != 1 {
		t.Errorf("with a trusted claim: %+v", dec)
	}
}

func TestDecideUnknown(t *testing.T) {
	if d := vex.Decide("CVE-1", "pkg:npm/a@1", nil, vex.DefaultTrust()); d.Status != vex.StatusUnknown || d.Reason != "no VEX statement" {
		t.Errorf("no claims: %+v", d)
	}
	// Only distrusted issuers spoke: their not_affected must not pass as safe.
	rh := redHatGitLFS(t)
	rh.Status = vex.StatusNotAffected
	tr, _ := vex.NewTrust(0, nil)
	d := vex.Decide(gitLFSCVE, gitLFS, []vex.Claim{rh}, tr)
	if d.Status != vex.StatusUnknown || len(d.Conflicts) != 1 || !strings.HasPrefix(d.Reason, "no statement from a trusted issuer") {
		t.Errorf("untrusted: %+v", d)
	}
	// The zero Trust trusts nobody.
	if d := vex.Decide(gitLFSCVE, gitLFS, []vex.Claim{rh}, vex.Trust{}); d.Status != vex.StatusUnknown {
		t.Errorf("zero Trust: %+v", d)
	}
}

// TestDecideAgreeingFront: equally ranked claims that agree decide, the stable key choosing the
// decider whatever the input order.
func TestDecideAgreeingFront(t *testing.T) {
	d := parseFile(t, "rhsa-2024_4546.csaf.json")
	claims := findClaims(d, gitLFSCVE, gitLFS) // AUS, E4S, TUS: all fixed, same time
	for range 5 {
		rand.Shuffle(len(claims), func(i, j int) { claims[i], claims[j] = claims[j], claims[i] })
		dec := vex.Decide(gitLFSCVE, gitLFS, claims, vex.DefaultTrust())
		if dec.Status != vex.StatusFixed || dec.Decider.Within != "AppStream-8.6.0.Z.AUS" || len(dec.Conflicts) != 0 {
			t.Fatalf("decision %+v", dec)
		}
	}
}

func TestConsensusSortedAndDeterministic(t *testing.T) {
	var claims []vex.Claim
	for _, f := range []string{"mainline-cve-2024-5535.json", "openvex-v0.2.0.json", "cdx-vex.json", "rhsa-2024_4546.csaf.json"} {
		claims = append(claims, parseFile(t, f).Claims...)
	}
	first := vex.Consensus(claims, trustTable(t))
	rand.Shuffle(len(claims), func(i, j int) { claims[i], claims[j] = claims[j], claims[i] })
	second := vex.Consensus(claims, trustTable(t))
	if diff := cmp.Diff(first, second, cmpopts.IgnoreUnexported(vex.Ranked{})); diff != "" {
		t.Fatalf("shuffled input changed the consensus (-first +second):\n%s", diff)
	}
	for i := 1; i < len(first); i++ {
		a, b := first[i-1], first[i]
		if a.Vulnerability > b.Vulnerability || (a.Vulnerability == b.Vulnerability && a.Product >= b.Product) {
			t.Errorf("not sorted at %d: %s %s / %s %s", i, a.Vulnerability, a.Product, b.Vulnerability, b.Product)
		}
	}
	counts := map[vex.Status]int{}
	for _, d := range first {
		counts[d.Status]++
	}
	// OpenVEX: 3 CVEs fixed and 2 not_affected, each for libssl3 and libcrypto3; CycloneDX: 1
	// not_affected; mainline: 7 fixed, 2 affected, compat-openssl10 undecidable; RHSA-2024:4546:
	// 7 distinct purls fixed.
	want := map[vex.Status]int{vex.StatusFixed: 6 + 7 + 7, vex.StatusNotAffected: 4 + 1, vex.StatusAffected: 2, vex.StatusUnknown: 1}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("status counts (-want +got):\n%s", diff)
	}
}

func TestDecisionDigest(t *testing.T) {
	rh := redHatGitLFS(t)
	d1, err := vex.Decide(gitLFSCVE, gitLFS, []vex.Claim{rh}, vex.DefaultTrust()).Digest()
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := vex.Decide(gitLFSCVE, gitLFS, []vex.Claim{rh}, vex.DefaultTrust()).Digest()
	rh.ActionStatement = "changed"
	d3, _ := vex.Decide(gitLFSCVE, gitLFS, []vex.Claim{rh}, vex.DefaultTrust()).Digest()
	if d1 != d2 || d1 == d3 || !strings.HasPrefix(d1, "sha256:") {
		t.Errorf("digests %s %s %s", d1, d2, d3)
	}
}

func TestTrust(t *testing.T) {
	tr, err := vex.NewTrust(3, map[string]int{"  Red Hat Product Security ": 9, "Ubuntu": -1})
	if err != nil {
		t.Fatal(err)
	}
	for issuer, want := range map[string]int{"red hat product security": 9, "RED HAT PRODUCT SECURITY": 9, "ubuntu": -1, "": 3, "other": 3} {
		if got := tr.Weight(issuer); got != want {
			t.Errorf("Weight(%q) = %d, want %d", issuer, got, want)
		}
	}
	if _, err := vex.NewTrust(1, map[string]int{"A": 1, "a": 2}); err == nil {
		t.Error("case-folded duplicate accepted")
	}
	if _, err := vex.NewTrust(1, map[string]int{" ": 1}); err == nil {
		t.Error("empty issuer accepted")
	}
}

// TestDecideInvalidStatus: a caller-built claim saying "unknown" (or anything outside the four
// statuses) cannot become a decision with a decider.
func TestDecideInvalidStatus(t *testing.T) {
	rh := redHatGitLFS(t)
	rh.Status = vex.StatusUnknown
	d := vex.Decide(gitLFSCVE, gitLFS, []vex.Claim{rh}, vex.DefaultTrust())
	if d.Status != vex.StatusUnknown || d.Decider != nil || !strings.Contains(d.Reason, "no valid status") {
		t.Errorf("decision %+v", d)
	}
}
