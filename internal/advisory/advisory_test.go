package advisory_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/bundled"
	"github.com/stellaops/stellaops/internal/inventory"
)

const osvDir = "testdata/osv/"

func parse(t *testing.T, source, file string) *advisory.Advisory {
	t.Helper()
	b, err := os.ReadFile(osvDir + file)
	if err != nil {
		t.Fatal(err)
	}
	a, err := advisory.ParseOSV(source, file, b)
	if err != nil {
		t.Fatalf("ParseOSV(%s): %v", file, err)
	}
	return a
}

func TestGoRecordKeysOnCVE(t *testing.T) {
	a := parse(t, "osv:Go", "GO-2020-0014.json")
	if a.ID != "CVE-2018-17846" {
		t.Errorf("ID = %s, want the record's CVE", a.ID)
	}
	if diff := cmp.Diff([]string{"GHSA-vfw5-hrgq-h5wf", "GO-2020-0014"}, a.Aliases); diff != "" {
		t.Errorf("aliases (-want +got):\n%s", diff)
	}
	if len(a.Affected) != 1 || a.Affected[0].Ecosystem != inventory.EcosystemGo || a.Affected[0].Package != "golang.org/x/net" ||
		a.Affected[0].Ranges[0].Type != advisory.RangeSemVer {
		t.Errorf("affected = %+v", a.Affected)
	}
	if a.Sources[0].Source != "osv:Go" || !strings.HasPrefix(a.Sources[0].Digest, "sha256:") || a.Published.IsZero() {
		t.Errorf("provenance %+v published %v", a.Sources, a.Published)
	}
}

func TestPySECRecord(t *testing.T) {
	a := parse(t, "osv:PyPI", "PYSEC-2019-241.json")
	af := a.Affected[0]
	if af.Ecosystem != inventory.EcosystemPyPI || len(af.Versions) == 0 {
		t.Fatalf("affected = %+v", af)
	}
	var types []advisory.RangeType
	for _, r := range af.Ranges {
		types = append(types, r.Type)
	}
	if !cmp.Equal(types, []advisory.RangeType{advisory.RangeEcosystem, advisory.RangeGit}) &&
		!cmp.Equal(types, []advisory.RangeType{advisory.RangeGit, advisory.RangeEcosystem}) {
		t.Errorf("range types = %v", types)
	}
	if len(a.Severities) == 0 || a.Severities[0].Type != "CVSS_V3" || a.Severities[0].Score == 0 {
		t.Errorf("severities = %+v", a.Severities)
	}
	la := parse(t, "osv:PyPI", "PYSEC-2022-42969.json")
	if ev := la.Affected[0].Ranges[0].Events; len(ev) != 2 || ev[1].LastAffected != "1.11.0" {
		t.Errorf("last_affected events = %+v", ev)
	}
}

// RUSTSEC-2016-0001 carries a CVSS 3 vector and RUSTSEC-2024-0445 a CVSS 4.0 one; both are scored.
func TestCVSSScoring(t *testing.T) {
	v3 := parse(t, "osv:crates.io", "RUSTSEC-2016-0001.json")
	v4 := parse(t, "osv:crates.io", "RUSTSEC-2024-0445.json")
	for _, a := range []*advisory.Advisory{v3, v4} {
		if len(a.Severities) != 1 || a.Severities[0].Score <= 0 || a.Severities[0].Level == advisory.LevelUnknown {
			t.Errorf("%s severities = %+v", a.ID, a.Severities)
		}
	}
	if v4.Severities[0].Type != "CVSS_V4" || v3.Severities[0].Type != "CVSS_V3" {
		t.Errorf("types %s %s", v3.Severities[0].Type, v4.Severities[0].Type)
	}
	cases := []struct {
		vector string
		score  float64
		level  advisory.Level
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, advisory.LevelCritical},
		{"CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9, advisory.LevelMedium},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5, advisory.LevelHigh},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3, advisory.LevelCritical},
	}
	for _, c := range cases {
		s, err := advisory.ParseCVSS("test", "", c.vector)
		if err != nil || s.Score != c.score || s.Level != c.level {
			t.Errorf("ParseCVSS(%s) = %v %s, %v; want %v %s", c.vector, s.Score, s.Level, err, c.score, c.level)
		}
	}
	if _, err := advisory.ParseCVSS("test", "CVSS_V3", "CVSS:3.1/AV:Q"); err == nil {
		t.Error("bad vector accepted")
	}
}

// AlmaLinux files the same ALSA once per major release; loading the three and de-duplicating
// gives one advisory with the affected packages of all three releases.
func TestAlmaLinuxRepeatsMerge(t *testing.T) {
	res, err := advisory.LoadOSV(context.Background(), "osv:AlmaLinux", osvDir)
	if err != nil {
		t.Fatal(err)
	}
	var alsa []*advisory.Advisory
	for _, a := range res.Advisories {
		if a.ID == "ALSA-2025:10873" {
			alsa = append(alsa, a)
		}
	}
	if len(alsa) != 3 {
		t.Fatalf("loaded %d copies of ALSA-2025:10873, want 3", len(alsa))
	}
	merged := advisory.Dedupe(alsa)
	if len(merged) != 1 {
		t.Fatalf("Dedupe left %d", len(merged))
	}
	distros := map[string]bool{}
	for _, af := range merged[0].Affected {
		distros[af.Distro] = true
		if af.Ecosystem != inventory.EcosystemRPM {
			t.Errorf("ecosystem %s", af.Ecosystem)
		}
	}
	if !distros["almalinux:8"] || !distros["almalinux:9"] || !distros["almalinux:10"] || len(merged[0].Sources) != 3 {
		t.Errorf("distros %v, %d sources", distros, len(merged[0].Sources))
	}
	// The three files are identical (each lists all three releases): no statement is kept twice.
	if one := parse(t, "osv:AlmaLinux", "almalinux8/ALSA-2025_10873.json"); len(merged[0].Affected) != len(one.Affected) {
		t.Errorf("merged affected = %d, one file has %d", len(merged[0].Affected), len(one.Affected))
	}
	if len(merged[0].Related) == 0 || !strings.HasPrefix(merged[0].Related[0], "CVE-") {
		t.Errorf("related = %v, want the erratum's CVEs", merged[0].Related)
	}
}

// A GIT-only record (the CPython advisories) keeps its identity but has nothing to match by version.
func TestGitOnlyRecord(t *testing.T) {
	a := parse(t, "osv:PSF-CPython", "PSF-2007-1.json")
	if len(a.Affected) != 0 || a.ID == "" {
		t.Errorf("ID %s affected %+v", a.ID, a.Affected)
	}
}

func TestBadDocuments(t *testing.T) {
	for _, doc := range []string{``, `[]`, `{"id": ""}`, `{"id":"X","modified":"yesterday"}`,
		`{"id":"X","affected":[{"package":{"ecosystem":"PyPI","name":"x"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0","fixed":"1"}]}]}]}`} {
		if _, err := advisory.ParseOSV("osv:test", "doc.json", []byte(doc)); err == nil {
			t.Errorf("accepted %q", doc)
		}
	}
	// A bad document among good ones is recorded, and the rest load.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"id": `), 0o644)
	b, _ := os.ReadFile(osvDir + "GO-2021-0067.json")
	os.WriteFile(filepath.Join(dir, "good.json"), b, 0o644)
	res, err := advisory.LoadOSV(context.Background(), "osv:Go", dir)
	if err != nil || len(res.Advisories) != 1 || len(res.Errors) != 1 || res.Errors[0].Document != "bad.json" {
		t.Fatalf("res = %+v, err %v", res, err)
	}
	if !errors.Is(func() error { _, err := advisory.ParseOSV("s", "d", []byte("{")); return err }(), advisory.ErrNotOSV) {
		t.Error("ErrNotOSV not wrapped")
	}
}

func TestEcosystemsAndNames(t *testing.T) {
	cases := []struct {
		in     string
		eco    inventory.Ecosystem
		distro string
		ok     bool
	}{
		{"Go", inventory.EcosystemGo, "", true},
		{"crates.io", inventory.EcosystemCargo, "", true},
		{"AlmaLinux:8", inventory.EcosystemRPM, "almalinux:8", true},
		{"Debian:12", inventory.EcosystemDeb, "debian:12", true},
		{"Ubuntu:22.04:LTS", inventory.EcosystemDeb, "ubuntu:22.04", true},
		{"Alpine:v3.19", inventory.EcosystemAPK, "alpine:3.19", true},
		{"Rocky Linux:9", inventory.EcosystemRPM, "rocky:9", true},
		{"Linux", "", "", false},
		{"", "", "", false},
	}
	for _, c := range cases {
		eco, d, ok := advisory.FromOSVEcosystem(c.in)
		if eco != c.eco || d != c.distro || ok != c.ok {
			t.Errorf("FromOSVEcosystem(%q) = %s %s %v", c.in, eco, d, ok)
		}
	}
	if advisory.DistroKey(inventory.Distro{ID: "debian", VersionID: "12.5"}) != "debian:12" ||
		advisory.DistroKey(inventory.Distro{ID: "alpine", VersionID: "3.10.4"}) != "alpine:3.10" {
		t.Error("DistroKey")
	}
	for in, want := range map[string]string{"Django": "django", "zope.interface": "zope-interface", "Foo__Bar-.baz": "foo-bar-baz"} {
		if got := advisory.NormalizeName(inventory.EcosystemPyPI, in); got != want {
			t.Errorf("NormalizeName(pypi, %q) = %q, want %q", in, got, want)
		}
	}
	if advisory.NormalizeName(inventory.EcosystemGo, "github.com/BurntSushi/toml") != "github.com/BurntSushi/toml" {
		t.Error("Go module paths are case-sensitive")
	}
}

// The bundled corpora load without a single bad document.
func TestBundledCorpora(t *testing.T) {
	total := 0
	for _, src := range bundled.OSVSources {
		res, err := advisory.LoadOSVFS(context.Background(), src.Name, bundled.OSV(), src.Path)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Errors) != 0 {
			t.Errorf("%s: %d bad documents, first %+v", src.Name, len(res.Errors), res.Errors[0])
		}
		total += res.Documents
	}
	if total != 13970 {
		t.Errorf("documents = %d, want 13970 (4291 Go + 2661 PyPI + 1206 crates.io + 5680 AlmaLinux + 132 PSF)", total)
	}
}
