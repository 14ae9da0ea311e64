package java

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseProperties(t *testing.T) {
	tests := map[string]map[string]string{
		"small":                        {"groupId": "org.anchore", "artifactId": "example-java-app-maven", "version": "0.1.0"},
		"extra":                        {"groupId": "org.anchore", "artifactId": "example-java-app-maven", "version": "0.1.0", "name": "something-here", "another": "thing", "sweet": "work"},
		"colon-delimited":              {"groupId": "org.anchore", "artifactId": "example-java-app-maven", "version": "0.1.0"},
		"colon-delimited-with-equals":  {"groupId": "org.anchore", "artifactId": "example-java=app-maven", "version": "0.1.0=something"},
		"equals-delimited-with-colons": {"groupId": "org.anchore", "artifactId": "example-java:app-maven", "version": "0.1.0:something"},
	}
	for name, want := range tests {
		b, err := os.ReadFile("testdata/syft/" + name + ".pom.properties")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, parseProperties(b)); diff != "" {
			t.Errorf("%s: parseProperties mismatch (-want +got):\n%s", name, diff)
		}
	}
	got := parseProperties([]byte("! comment\nkey   value\\\n   continued\nother\n"))
	if diff := cmp.Diff(map[string]string{"key": "valuecontinued", "other": ""}, got); diff != "" {
		t.Errorf("parseProperties mismatch (-want +got):\n%s", diff)
	}
}

func TestParseManifest(t *testing.T) {
	tests := map[string]map[string]string{
		"small":        {"Manifest-Version": "1.0"},
		"continuation": {"Manifest-Version": "1.0", "Plugin-ScmUrl": "https://github.com/jenkinsci/plugin-pom/example-jenkins-plugin"},
		"extra-empty-lines": {
			"Manifest-Version": "1.0", "Archiver-Version": "Plexus Archiver", "Created-By": "Apache Maven 3.6.3",
		},
		"leading-space": {
			"Key-keykeykey": "initialconfig:com", "should": "parse",
		},
		"standard-info": {
			"Manifest-Version": "1.0", "Name": "the-best-name",
			"Specification-Title": "the-spec-title", "Specification-Vendor": "the-spec-vendor", "Specification-Version": "the-spec-version",
			"Implementation-Title": "the-impl-title", "Implementation-Vendor": "the-impl-vendor", "Implementation-Version": "the-impl-version",
		},
		"version-with-date": {"Manifest-Version": "1.0", "Implementation-Version": "1.3 2244 October 5 2005"},
	}
	for name, want := range tests {
		b, err := os.ReadFile("testdata/syft/" + name + ".MANIFEST.MF")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, parseManifest(b)); diff != "" {
			t.Errorf("%s: parseManifest mismatch (-want +got):\n%s", name, diff)
		}
	}
}

func TestFromManifest(t *testing.T) {
	read := func(file string) map[string]string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return parseManifest(b)
	}
	tests := []struct {
		name, file, location, wantName, wantVersion string
	}{
		{"implementation version, no group", "testdata/scalibr/known-group-id.MANIFEST.MF", "app/spring-web.jar", "spring-web", "5.3.26"},
		{"symbolic name minus artifact", "testdata/scalibr/symbolicname.MANIFEST.MF", "lib/failureaccess-1.0.1.jar", "com.google.guava:failureaccess", "1.0.1"},
		{"bundle version", "testdata/scalibr/symbolicname.MANIFEST.MF", "lib/failureaccess.jar", "com.google.guava:failureaccess", "1.0.1"},
		{"date in implementation version", "testdata/syft/version-with-date.MANIFEST.MF", "lib/x-1.3.jar", "x", "1.3"},
		{"nested location", "testdata/syft/small.MANIFEST.MF", "a.war!/WEB-INF/lib/log4j-1.2-api-2.17.1.jar", "log4j-1.2-api", "2.17.1"},
	}
	for _, tt := range tests {
		c, ok := fromManifest(read(tt.file), tt.location)
		if !ok || c.Name != tt.wantName || c.Version != tt.wantVersion {
			t.Errorf("%s: fromManifest = %q %q %v; want %q %q", tt.name, c.Name, c.Version, ok, tt.wantName, tt.wantVersion)
		}
	}
	if _, ok := fromManifest(nil, "lib/app.jar"); ok {
		t.Error("fromManifest without any version reported a component")
	}
}
