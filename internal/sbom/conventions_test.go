package sbom_test

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/sbom"
)

// Without an operating-system component, the most common purl distro= of the OS packages names
// the inventory's distro.
func TestDistroFromPURLQualifiers(t *testing.T) {
	xml := testdata(t, "corpus/osv-scanner/alpine.cdx.xml.gz")
	noOS := regexp.MustCompile(`(?s)<component type="operating-system">.*?</component>`).ReplaceAll(xml, nil)
	if bytes.Equal(noOS, xml) {
		t.Fatal("no operating-system component removed")
	}
	inv, err := decoder.Decode(context.Background(), bytes.NewReader(noOS), sbom.FormatCycloneDXXML)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(inventory.Distro{ID: "alpine", VersionID: "3.17.2"}, inv.Distro); diff != "" {
		t.Errorf("distro (-want +got):\n%s", diff)
	}
}

// Trivy reports older than package identifiers have no PURL: the result's class and type give
// the ecosystem, Metadata.OS the distro.
func TestTrivyPackagesWithoutPURL(t *testing.T) {
	report := `{"SchemaVersion":2,"ArtifactName":"img","Metadata":{"OS":{"Family":"redhat","Name":"8.9"},"DiffIDs":["sha256:aa"]},
	"Results":[
	 {"Target":"img (redhat 8.9)","Class":"os-pkgs","Type":"redhat","Packages":[
	  {"Name":"openssl-libs","Version":"1.1.1k","Release":"9.el8_7","Epoch":1,"Arch":"x86_64","SrcName":"openssl","SrcVersion":"1.1.1k","SrcRelease":"9.el8_7","SrcEpoch":1,"Layer":{"DiffID":"sha256:aa"},"Licenses":["OpenSSL"]}]},
	 {"Target":"app/package-lock.json","Class":"lang-pkgs","Type":"npm","Packages":[
	  {"Name":"@babel/core","Version":"7.0.0","FilePath":"app/package-lock.json","Layer":{"DiffID":"sha256:aa"}},
	  {"Name":"@babel/core","Version":"7.0.0","FilePath":"app/package-lock.json"}]},
	 {"Target":"conanfile.lock","Class":"lang-pkgs","Type":"conan","Packages":[{"Name":"zlib","Version":"1.3"}]}]}`
	inv, err := decoder.Decode(context.Background(), bytes.NewReader([]byte(report)), sbom.FormatTrivyJSON)
	if err != nil {
		t.Fatal(err)
	}
	rhel := inventory.Distro{ID: "rhel", VersionID: "8.9"}
	want := []inventory.Component{
		{Name: "zlib", Version: "1.3", FoundBy: "sbom/trivy"},
		{Ecosystem: "npm", Name: "@babel/core", Version: "7.0.0", Layer: "sha256:aa", Locations: []string{"app/package-lock.json"}, FoundBy: "sbom/trivy"},
		{Ecosystem: "rpm", Name: "openssl-libs", Version: "1:1.1.1k-9.el8_7", Arch: "x86_64", Distro: rhel,
			Source: inventory.Source{Name: "openssl", Version: "1:1.1.1k-9.el8_7"}, Layer: "sha256:aa", Licenses: []string{"OpenSSL"}, FoundBy: "sbom/trivy"},
	}
	if diff := cmp.Diff(want, inv.Components); diff != "" {
		t.Errorf("components (-want +got):\n%s", diff)
	}
	if got := inv.Components[2].PackageURL(); got != "pkg:rpm/redhat/openssl-libs@1.1.1k-9.el8_7?arch=x86_64&distro=rhel-8.9&epoch=1&upstream=openssl-1.1.1k-9.el8_7.src.rpm" {
		t.Errorf("purl = %s", got)
	}
}

// A bare in-toto statement (no envelope) is opened too.
func TestStatementWithoutEnvelope(t *testing.T) {
	st := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"img","digest":{"sha256":"ab"}}],"predicateType":"https://spdx.dev/Document/v2.3","predicate":` +
		string(testdata(t, "corpus/trivy/centos-7-spdx.json")) + `}`
	doc, err := decoder.DecodeDocument(context.Background(), bytes.NewReader([]byte(st)), sbom.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Format != sbom.FormatSPDXJSON || doc.Attestation == nil || doc.Attestation.Envelope ||
		doc.Attestation.PredicateType != "https://spdx.dev/Document/v2.3" || len(doc.Inventory.Components) != 2 {
		t.Errorf("doc = %+v, attestation %+v", doc, doc.Attestation)
	}
}

// Trivy's aquasecurity:trivy:PkgType stands in for a missing purl; Syft's binary with no purl is
// kept with an unknown ecosystem and its CPEs.
func TestCycloneDXWithoutPURL(t *testing.T) {
	doc := `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[
	 {"type":"library","name":"lodash","version":"4.17.20","properties":[{"name":"aquasecurity:trivy:PkgType","value":"npm"},{"name":"aquasecurity:trivy:FilePath","value":"app/package-lock.json"}]},
	 {"type":"application","name":"busybox","version":"1.36.1","cpe":"cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*","properties":[{"name":"syft:cpe23","value":"cpe:2.3:a:busybox:busybox_project:1.36.1:*:*:*:*:*:*:*"}]},
	 {"type":"application","name":"Gemfile.lock"},
	 {"type":"file","name":"etc/passwd","version":"1"}]}`
	inv, err := decoder.Decode(context.Background(), bytes.NewReader([]byte(doc)), sbom.FormatCycloneDXJSON)
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.Component{
		{Name: "busybox", Version: "1.36.1", FoundBy: "sbom/cyclonedx",
			CPEs: []string{"cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*", "cpe:2.3:a:busybox:busybox_project:1.36.1:*:*:*:*:*:*:*"}},
		{Ecosystem: "npm", Name: "lodash", Version: "4.17.20", Locations: []string{"app/package-lock.json"}, FoundBy: "sbom/cyclonedx"},
	}
	if diff := cmp.Diff(want, inv.Components); diff != "" {
		t.Errorf("components (-want +got):\n%s", diff)
	}
}
