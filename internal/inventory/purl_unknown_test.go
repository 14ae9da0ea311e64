package inventory

import "testing"

// A component of unknown ecosystem with no purl from its input has no package URL: building one
// gave "pkg:/busybox@1.36.1", which is not a valid purl. Such components still dedupe by name
// and version.
func TestUnknownEcosystemHasNoPURL(t *testing.T) {
	c := Component{Name: "busybox", Version: "1.36.1", CPEs: []string{"cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*"}}
	if got := c.PackageURL(); got != "" {
		t.Errorf("PackageURL() = %q, want \"\"", got)
	}
	kept := Component{Ecosystem: "conan", Name: "zlib", Version: "1.3", PURL: "pkg:conan/zlib@1.3"}
	if got := kept.PackageURL(); got != "pkg:conan/zlib@1.3" {
		t.Errorf("PackageURL() = %q, want the input purl", got)
	}
	got := Dedupe([]Component{
		c,
		{Name: "busybox", Version: "1.36.1", Locations: []string{"bin/busybox"}},
		{Name: "other", Version: "1.0"},
	})
	if len(got) != 2 || len(got[0].Locations) != 1 || got[0].Name != "busybox" {
		t.Errorf("Dedupe = %+v, want busybox merged and other kept", got)
	}
}
