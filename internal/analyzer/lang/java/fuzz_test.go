package java

import (
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
)

func FuzzArchive(f *testing.F) {
	langtest.Seeds(f, "testdata/scalibr/*.jar", "testdata/trivy/nested.jar", "testdata/trivy/heuristic-1.0.0-SNAPSHOT.jar",
		"testdata/debian/atinject-jsr330-api-1.0.jar")
	cfg := DefaultConfig()
	cfg.MaxTotalBytes = 16 << 20
	a := New(cfg)
	f.Fuzz(func(t *testing.T, b []byte) { langtest.Fuzz(t, a, "app/app-1.0.jar", b) })
}

func FuzzManifest(f *testing.F) {
	langtest.Seeds(f, "testdata/syft/*.MANIFEST.MF", "testdata/scalibr/*.MANIFEST.MF")
	f.Fuzz(func(t *testing.T, b []byte) {
		m := parseManifest(b)
		if c, ok := fromManifest(m, "lib/x-1.0.jar"); ok && (c.Name == "" || c.Version == "") {
			t.Fatalf("component without name or version: %+v", c)
		}
	})
}

func FuzzProperties(f *testing.F) {
	langtest.Seeds(f, "testdata/syft/*.pom.properties")
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, ok := fromPomProperties(parseProperties(b), "x.jar"); ok && c.Name == "" {
			t.Fatalf("component without a name: %+v", c)
		}
	})
}
