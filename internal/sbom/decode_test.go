package sbom_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/sbom"
)

// TestCorpus decodes every real SBOM in testdata/corpus. The counts were checked by reading the
// files: with-duplicates lists 16 packages of which 2 are repeats; Syft's busybox binary has no
// purl but a version and CPEs, so it is kept with an unknown ecosystem; bad-purls has 6 components
// whose purl is broken; the Trivy JSON goldens carry only vulnerable packages.
func TestCorpus(t *testing.T) {
	tests := []struct {
		file       string
		format     sbom.Format
		components int
		distro     string // Distro.String()
		layers     int
		diags      int
		target     string
	}{
		{"corpus/cyclonedx-bom-examples/dropwizard-1.3.15.bom.json.gz", sbom.FormatCycloneDXJSON, 167, "", 0, 0, "dropwizard-parent"},
		{"corpus/cyclonedx-bom-examples/laravel-7.12.0.bom.1.4.json.gz", sbom.FormatCycloneDXJSON, 62, "", 0, 0, "cyclonedx-php-composer-demo"},
		{"corpus/cyclonedx-bom-examples/laravel-7.12.0.bom.1.4.xml.gz", sbom.FormatCycloneDXXML, 62, "", 0, 0, "cyclonedx-php-composer-demo"},
		{"corpus/cyclonedx-bom-examples/proton-bridge-v1.8.0.bom.json.gz", sbom.FormatCycloneDXJSON, 201, "", 0, 0, "github.com/ProtonMail/proton-bridge"},
		{"corpus/cyclonedx-bom-examples/vex-bom.json", sbom.FormatCycloneDXJSON, 3, "", 0, 0, "example-app"},
		{"corpus/cyclonedx-bom-examples/vex.json", sbom.FormatCycloneDXJSON, 0, "", 0, 0, ""},
		{"corpus/debian-bookworm-minbase/bookworm.trivy.cdx.json.gz", sbom.FormatCycloneDXJSON, 88, "debian-12.15", 1, 0, "/tmp/dbs/bookworm-docker.tar"},
		{"corpus/debian-bookworm-minbase/bookworm.trivy.spdx.json.gz", sbom.FormatSPDXJSON, 88, "debian-12.15", 1, 0, "/tmp/dbs/bookworm-docker.tar"},
		{"corpus/debian-bookworm-minbase/bookworm.trivy.json.gz", sbom.FormatTrivyJSON, 88, "debian-12.15", 1, 0, "/tmp/dbs/bookworm-docker.tar"},
		{"corpus/grype/alpine.cdx.att.json.gz", sbom.FormatCycloneDXJSON, 14, "alpine-3.15.4", 0, 0, "alpine:latest"},
		{"corpus/osv-scanner/alpine-zlib-16.cdx.json", sbom.FormatCycloneDXJSON, 1, "alpine-3.22.0", 0, 0, ""},
		{"corpus/osv-scanner/alpine.cdx.xml.gz", sbom.FormatCycloneDXXML, 15, "alpine-3.17.2", 0, 0, "alpine:latest"},
		{"corpus/osv-scanner/bad-purls.cdx.xml.gz", sbom.FormatCycloneDXXML, 9, "alpine-3.17.2", 0, 6, "alpine:latest"},
		{"corpus/osv-scanner/only-unimportant.spdx.json", sbom.FormatSPDXJSON, 1, "ubuntu-focal", 0, 0, "SCALIBR-generated SPDX"},
		{"corpus/osv-scanner/postgres-stretch.cdx.xml.gz", sbom.FormatCycloneDXXML, 136, "debian-9", 0, 0, "postgres:11.15-stretch"},
		{"corpus/osv-scanner/with-duplicates.cdx.xml.gz", sbom.FormatCycloneDXXML, 15, "alpine-3.17.2", 0, 0, "alpine:latest"},
		// tools-java (pkg:github purl, the described root, kept) and xlsx.
		{"corpus/spdx-examples/04-SBOMwSecurity.spdx.json", sbom.FormatSPDXJSON, 2, "", 0, 0, "SPDX Tools v1.1.5 Java SBOM"},
		{"corpus/spdx-examples/example11-rust.spdx.json", sbom.FormatSPDXJSON, 4, "", 0, 0, "SBOM-SPDX-2d85f548-12fa-46d5-87ce-5e78e5e111f4"},
		// Only JUnit 3.8.1 has a version; the log4j packages have neither purl nor version.
		{"corpus/spdx-examples/example14-maven-enriched.spdx.json", sbom.FormatSPDXJSON, 1, "", 0, 0, "examplemaven"},
		// Three described Go modules with no purl and no version: nothing to match.
		{"corpus/spdx-examples/example7-third-party-modules.spdx.json", sbom.FormatSPDXJSON, 0, "", 0, 0, "hello-imports.spdx.json"},
		{"corpus/trivy/centos-7-cyclonedx.json", sbom.FormatCycloneDXJSON, 2, "centos-7.6.1810", 1, 0, "integration/testdata/fixtures/images/centos-7.tar.gz"},
		{"corpus/trivy/centos-7-spdx.json", sbom.FormatSPDXJSON, 2, "centos-7.6.1810", 1, 0, "integration/testdata/fixtures/images/centos-7.tar.gz"},
		{"corpus/trivy/centos-7-spdx.txt", sbom.FormatSPDXTagValue, 2, "centos-7.6.1810", 1, 0, "integration/testdata/fixtures/images/centos-7.tar.gz"},
		{"corpus/trivy/fluentd-multiple-lockfiles-cyclonedx.json", sbom.FormatCycloneDXJSON, 3, "debian-10.2", 6, 0, "integration/testdata/fixtures/images/fluentd-multiple-lockfiles.tar.gz"},
		{"corpus/trivy-json-reports/alpine-310.json.gz", sbom.FormatTrivyJSON, 2, "alpine-3.10.2", 1, 1, "testdata/fixtures/images/alpine-310.tar.gz"},
		{"corpus/trivy-json-reports/centos-7.json.gz", sbom.FormatTrivyJSON, 2, "centos-7.6.1810", 1, 1, "testdata/fixtures/images/centos-7.tar.gz"},
		{"corpus/trivy-json-reports/debian-buster.json.gz", sbom.FormatTrivyJSON, 2, "debian-10.1", 1, 1, "testdata/fixtures/images/debian-buster.tar.gz"},
		{"corpus/trivy-json-reports/debian-stretch.json.gz", sbom.FormatTrivyJSON, 5, "debian-9.9", 1, 1, "testdata/fixtures/images/debian-stretch.tar.gz"},
		{"corpus/trivy-json-reports/ubuntu-1804.json.gz", sbom.FormatTrivyJSON, 5, "ubuntu-18.04", 4, 1, "testdata/fixtures/images/ubuntu-1804.tar.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			doc := decode(t, tt.file)
			inv := doc.Inventory
			got := fmt.Sprintf("format=%s components=%d distro=%s layers=%d diagnostics=%d target=%q",
				doc.Format, len(inv.Components), inv.Distro.String(), len(inv.Layers), len(inv.Diagnostics), inv.Target.Name)
			want := fmt.Sprintf("format=%s components=%d distro=%s layers=%d diagnostics=%d target=%q",
				tt.format, tt.components, tt.distro, tt.layers, tt.diags, tt.target)
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if inv.Target.Kind != inventory.TargetSBOM || inv.Target.Format != string(tt.format) || !strings.HasPrefix(inv.Target.Digest, "sha256:") || len(inv.Target.Digest) != 71 {
				t.Errorf("target = %+v", inv.Target)
			}
			for _, c := range inv.Components {
				if c.Name == "" || !strings.HasPrefix(c.FoundBy, "sbom/") {
					t.Errorf("component %+v: no name or FoundBy", c)
				}
				if c.Ecosystem.IsOS() && c.Distro.IsZero() {
					t.Errorf("OS component %s has no distro", c.PackageURL())
				}
			}
		})
	}
}

// TestBookwormFormatsAgree: Trivy's CycloneDX, SPDX and JSON of the same Debian 12 root
// filesystem give the same 88 packages with the same source packages, which are those of its
// dpkg status file (testdata/bookworm-packages.golden; the dpkg analyzer's tests compare too).
func TestBookwormFormatsAgree(t *testing.T) {
	var first string
	for _, f := range []string{"bookworm.trivy.cdx.json.gz", "bookworm.trivy.spdx.json.gz", "bookworm.trivy.json.gz"} {
		inv := decode(t, "corpus/debian-bookworm-minbase/"+f).Inventory
		if len(inv.Components) != 88 {
			t.Errorf("%s: %d components, want 88", f, len(inv.Components))
		}
		if inv.Distro.ID != "debian" || inv.Distro.Release() != "12" {
			t.Errorf("%s: distro %+v, want debian 12", f, inv.Distro)
		}
		q := quadruples(inv)
		if first == "" {
			first = q
			golden(t, "bookworm-packages.golden", []byte(q))
			continue
		}
		if diff := cmp.Diff(first, q); diff != "" {
			t.Errorf("%s disagrees with the CycloneDX (-cdx +this):\n%s", f, diff)
		}
	}
}

func findComponent(t *testing.T, inv *inventory.Inventory, name string) inventory.Component {
	t.Helper()
	for _, c := range inv.Components {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no component %q", name)
	return inventory.Component{}
}

func TestPostgresStretch(t *testing.T) {
	inv := decode(t, "corpus/osv-scanner/postgres-stretch.cdx.xml.gz").Inventory
	wantDistro := inventory.Distro{ID: "debian", VersionID: "9", Codename: "stretch", PrettyName: "Debian GNU/Linux 9 (stretch)"}
	if diff := cmp.Diff(wantDistro, inv.Distro); diff != "" {
		t.Errorf("distro (-want +got):\n%s", diff)
	}
	counts := map[inventory.Ecosystem]int{}
	for _, c := range inv.Components {
		counts[c.Ecosystem]++
	}
	if diff := cmp.Diff(map[inventory.Ecosystem]int{"deb": 132, "golang": 3, "generic": 1}, counts); diff != "" {
		t.Errorf("ecosystems (-want +got):\n%s", diff)
	}
	got := findComponent(t, inv, "bsdutils")
	want := inventory.Component{
		Ecosystem: "deb", Name: "bsdutils", Version: "1:2.29.2-1+deb9u1", Arch: "amd64",
		Source: inventory.Source{Name: "util-linux", Version: "2.29.2-1+deb9u1"},
		Distro: wantDistro,
	}
	opts := cmp.Options{cmpIdentity}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("bsdutils (-want +got):\n%s", diff)
	}
	if got.Layer == "" || len(got.Locations) == 0 || got.FoundBy != "sbom/cyclonedx" {
		t.Errorf("bsdutils: layer %q, locations %v, foundBy %q", got.Layer, got.Locations, got.FoundBy)
	}
	if s := findComponent(t, inv, "libgcrypt20").Source; s.Name != "libgcrypt20" {
		t.Errorf("libgcrypt20 source = %+v", s)
	}
}

// cmpIdentity compares what identifies a component, ignoring where it was found.
var cmpIdentity = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".Layer", ".Locations", ".Licenses", ".Hashes", ".FoundBy", ".CPEs", ".PURL":
		return true
	}
	return false
}, cmp.Ignore())

func TestBadPurlsAreDiagnosed(t *testing.T) {
	inv := decode(t, "corpus/osv-scanner/bad-purls.cdx.xml.gz").Inventory
	if inv.Complete() {
		t.Fatal("inventory with dropped components says it is complete")
	}
	var msgs []string
	for _, d := range inv.Diagnostics {
		msgs = append(msgs, d.Source+": "+d.Message)
	}
	for _, want := range []string{
		`sbom/cyclonedx: components[2] (alpine-keys@2.4-r1): dropped: parse purl "pkg:pypi/"`,
		`sbom/cyclonedx: components[10] (musl@1.2.3-r4): dropped: parse purl "/"`,
		`sbom/cyclonedx: components[13] (ssl_client@1.36.1-r27): dropped: parse purl "pkg:apk/alpine/@1.36.1-r27`,
	} {
		found := false
		for _, m := range msgs {
			found = found || strings.HasPrefix(m, want)
		}
		if !found {
			t.Errorf("no diagnostic starting %q in\n%s", want, strings.Join(msgs, "\n"))
		}
	}
}

func TestAttestation(t *testing.T) {
	doc := decode(t, "corpus/grype/alpine.cdx.att.json.gz")
	want := &sbom.Attestation{
		Envelope: true, PayloadType: "application/vnd.in-toto+json", Signatures: 1,
		StatementType: "https://in-toto.io/Statement/v0.1", PredicateType: "https://cyclonedx.org/bom",
		Subjects: []sbom.Subject{{Name: "", Digest: map[string]string{"sha256": "4edbd2beb5f78b1014028f4fbb99f3237d9561100b6881aabbf5acce2c4f9454"}}},
	}
	if diff := cmp.Diff(want, doc.Attestation); diff != "" {
		t.Errorf("attestation (-want +got):\n%s", diff)
	}
	// Syft 0.43 wrote pkg:alpine/… purls; they are read as apk.
	c := findComponent(t, doc.Inventory, "libcrypto1.1")
	if c.Ecosystem != inventory.EcosystemAPK || c.Source.Name != "openssl" || c.Distro.String() != "alpine-3.15.4" {
		t.Errorf("libcrypto1.1 = %+v", c)
	}
}

func TestTrivySourcePackages(t *testing.T) {
	for _, f := range []string{"corpus/trivy/centos-7-cyclonedx.json"} {
		inv := decode(t, f).Inventory
		c := findComponent(t, inv, "openssl-libs")
		want := inventory.Component{
			Ecosystem: "rpm", Name: "openssl-libs", Version: "1:1.0.2k-16.el7", Arch: "x86_64",
			Source: inventory.Source{Name: "openssl", Version: "1:1.0.2k-16.el7"},
			Distro: inventory.Distro{ID: "centos", VersionID: "7.6.1810"},
		}
		if diff := cmp.Diff(want, c, cmpIdentity); diff != "" {
			t.Errorf("%s: openssl-libs (-want +got):\n%s", f, diff)
		}
		if c.Layer != "sha256:89169d87dbe2b72ba42bfbb3579c957322baca28e03a1e558076542a1c1b2b4a" {
			t.Errorf("%s: layer %q", f, c.Layer)
		}
	}
	// Language packages keep Trivy's file path and layer.
	inv := decode(t, "corpus/trivy/fluentd-multiple-lockfiles-cyclonedx.json").Inventory
	c := findComponent(t, inv, "activesupport")
	if c.Ecosystem != inventory.EcosystemGem || c.Layer == "" ||
		!cmp.Equal(c.Locations, []string{"var/lib/gems/2.5.0/specifications/activesupport-6.0.2.1.gemspec"}) {
		t.Errorf("activesupport = %+v", c)
	}
}
