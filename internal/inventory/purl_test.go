package inventory

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Real purls as Syft, Trivy and osv-scalibr write them, and what we read from them.
func TestFromPURL(t *testing.T) {
	cases := []struct {
		purl string
		want Component
	}{
		{"pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&upstream=glibc&distro=debian-12",
			Component{Ecosystem: EcosystemDeb, Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64",
				Source: Source{Name: "glibc", Version: "2.36-9+deb12u4"}, Distro: Distro{ID: "debian", VersionID: "12"}}},
		{"pkg:deb/debian/bash@5.2.15-2%2Bb13?arch=amd64&upstream=bash%405.2.15-2&distro=debian-12",
			Component{Ecosystem: EcosystemDeb, Name: "bash", Version: "5.2.15-2+b13", Arch: "amd64",
				Source: Source{Name: "bash", Version: "5.2.15-2"}, Distro: Distro{ID: "debian", VersionID: "12"}}},
		// Trivy puts the dpkg epoch in a qualifier.
		{"pkg:deb/debian/bsdutils@2.38.1-5%2Bdeb12u3?arch=amd64&distro=debian-12.5&epoch=1",
			Component{Ecosystem: EcosystemDeb, Name: "bsdutils", Version: "1:2.38.1-5+deb12u3", Arch: "amd64",
				Distro: Distro{ID: "debian", VersionID: "12.5"}}},
		{"pkg:rpm/centos/openssl-libs@1.0.2k-19.el7?arch=x86_64&epoch=1&upstream=openssl-1.0.2k-19.el7.src.rpm&distro=centos-7.9.2009",
			Component{Ecosystem: EcosystemRPM, Name: "openssl-libs", Version: "1:1.0.2k-19.el7", Arch: "x86_64",
				Source: Source{Name: "openssl", Version: "1:1.0.2k-19.el7"}, Distro: Distro{ID: "centos", VersionID: "7.9.2009"}}},
		{"pkg:apk/alpine/ssl_client@1.30.1-r3?arch=x86_64&upstream=busybox&distro=alpine-3.10.4",
			Component{Ecosystem: EcosystemAPK, Name: "ssl_client", Version: "1.30.1-r3", Arch: "x86_64",
				Source: Source{Name: "busybox", Version: "1.30.1-r3"}, Distro: Distro{ID: "alpine", VersionID: "3.10.4"}}},
		{"pkg:golang/github.com/BurntSushi/toml@v1.3.2", Component{Ecosystem: EcosystemGo, Name: "github.com/BurntSushi/toml", Version: "v1.3.2"}},
		{"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", Component{Ecosystem: EcosystemMaven, Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1"}},
		{"pkg:npm/%40babel/core@7.24.0", Component{Ecosystem: EcosystemNPM, Name: "@babel/core", Version: "7.24.0"}},
		{"pkg:pypi/Django@4.2.1", Component{Ecosystem: EcosystemPyPI, Name: "django", Version: "4.2.1"}},
		{"pkg:composer/laravel/framework@v7.12.0", Component{Ecosystem: EcosystemComposer, Name: "laravel/framework", Version: "v7.12.0"}},
		{"pkg:conan/zlib@1.3", Component{Ecosystem: "conan", Name: "zlib", Version: "1.3", PURL: "pkg:conan/zlib@1.3"}},
	}
	for _, c := range cases {
		got, err := FromPURL(c.purl)
		if err != nil {
			t.Errorf("FromPURL(%s): %v", c.purl, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("FromPURL(%s) (-want +got):\n%s", c.purl, diff)
		}
	}
	for _, bad := range []string{"", "npm/left-pad@1", "pkg:npm/", "pkg:deb/debian/x?=1"} {
		if _, err := FromPURL(bad); err == nil {
			t.Errorf("FromPURL(%q) accepted", bad)
		}
	}
}

// Building a purl and reading it back loses nothing matching needs.
func TestPackageURLRoundTrip(t *testing.T) {
	comps := []Component{
		{Ecosystem: EcosystemDeb, Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64", Source: Source{Name: "glibc", Version: "2.36-9+deb12u4"}, Distro: Distro{ID: "debian", VersionID: "12"}},
		{Ecosystem: EcosystemDeb, Name: "bash", Version: "5.2.15-2+b13", Arch: "amd64", Source: Source{Name: "bash", Version: "5.2.15-2"}, Distro: Distro{ID: "debian", VersionID: "12"}},
		{Ecosystem: EcosystemDeb, Name: "bsdutils", Version: "1:2.38.1-5+deb12u3", Source: Source{Name: "util-linux", Version: "2.38.1-5+deb12u3"}, Distro: Distro{ID: "ubuntu", VersionID: "22.04"}},
		{Ecosystem: EcosystemRPM, Name: "nodejs", Version: "1:10.21.0-3.module_el8.2.0+391+8da3adc6", Arch: "x86_64", Module: "nodejs:10:8020020200707141642:6a468ee4",
			Source: Source{Name: "nodejs", Version: "1:10.21.0-3.module_el8.2.0+391+8da3adc6"}, Distro: Distro{ID: "rhel", VersionID: "8"}},
		{Ecosystem: EcosystemAPK, Name: "musl-utils", Version: "1.1.22-r3", Arch: "x86_64", Source: Source{Name: "musl", Version: "1.1.22-r3"}, Distro: Distro{ID: "alpine", VersionID: "3.10.4"}},
		{Ecosystem: EcosystemGo, Name: "github.com/BurntSushi/toml", Version: "v1.3.2"},
		{Ecosystem: EcosystemGo, Name: "stdlib", Version: "v1.26.8"},
		{Ecosystem: EcosystemMaven, Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1"},
		{Ecosystem: EcosystemNPM, Name: "@babel/core", Version: "7.24.0"},
		{Ecosystem: EcosystemComposer, Name: "laravel/framework", Version: "v7.12.0"},
		{Ecosystem: EcosystemCargo, Name: "serde", Version: "1.0.197"},
	}
	for _, c := range comps {
		p := c.PackageURL()
		got, err := FromPURL(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", p, diff)
		}
	}
}

func TestVersionParts(t *testing.T) {
	c := Component{Ecosystem: EcosystemRPM, Version: "1:1.0.2k-19.el7"}
	if c.Epoch() != "1" || c.UpstreamVersion() != "1.0.2k" || c.Release() != "19.el7" {
		t.Errorf("rpm parts: %q %q %q", c.Epoch(), c.UpstreamVersion(), c.Release())
	}
	d := Component{Ecosystem: EcosystemDeb, Version: "2.36-9+deb12u4"}
	if d.Epoch() != "" || d.UpstreamVersion() != "2.36" || d.Release() != "9+deb12u4" {
		t.Errorf("deb parts: %q %q %q", d.Epoch(), d.UpstreamVersion(), d.Release())
	}
	g := Component{Ecosystem: EcosystemGo, Version: "v0.0.0-20240101-abcdef:1"}
	if g.Epoch() != "" || g.UpstreamVersion() != g.Version {
		t.Errorf("go versions have no epoch: %q %q", g.Epoch(), g.UpstreamVersion())
	}
	if JoinEpoch("0", "1.2-3") != "1.2-3" || JoinEpoch("2", "1.2-3") != "2:1.2-3" {
		t.Error("JoinEpoch")
	}
}

func TestParseDistroQualifier(t *testing.T) {
	cases := map[[2]string]Distro{
		{"debian-12", ""}:          {ID: "debian", VersionID: "12"},
		{"alpine-3.17.2", ""}:      {ID: "alpine", VersionID: "3.17.2"},
		{"ubuntu-22.04", "ubuntu"}: {ID: "ubuntu", VersionID: "22.04"},
		{"opensuse-leap-15.5", ""}: {ID: "opensuse-leap", VersionID: "15.5"},
		{"12", "debian"}:           {ID: "debian", VersionID: "12"},
		{"bookworm", "debian"}:     {ID: "debian", Codename: "bookworm"},
		{"redhat-8.9", ""}:         {ID: "rhel", VersionID: "8.9"},
		{"", "alpine"}:             {ID: "alpine"},
		{"debian-bookworm", ""}:    {ID: "debian", Codename: "bookworm"},
	}
	for in, want := range cases {
		if got := ParseDistroQualifier(in[0], in[1]); got != want {
			t.Errorf("ParseDistroQualifier(%q, %q) = %+v, want %+v", in[0], in[1], got, want)
		}
	}
	rel := map[Distro]string{
		{ID: "debian", VersionID: "12.5"}:     "12",
		{ID: "alpine", VersionID: "3.10.4"}:   "3.10",
		{ID: "ubuntu", VersionID: "22.04"}:    "22.04",
		{ID: "rhel", VersionID: "8.9"}:        "8",
		{ID: "centos", VersionID: "7.9.2009"}: "7",
		{ID: "amzn", VersionID: "2023"}:       "2023",
	}
	for d, want := range rel {
		if got := d.Release(); got != want {
			t.Errorf("%+v.Release() = %q, want %q", d, got, want)
		}
	}
}

func TestDedupeMergesAndSorts(t *testing.T) {
	a := Component{Ecosystem: EcosystemNPM, Name: "lodash", Version: "4.17.21", Locations: []string{"b/node_modules/lodash/package.json"}, Layer: "sha256:1"}
	b := Component{Ecosystem: EcosystemNPM, Name: "lodash", Version: "4.17.21", Locations: []string{"a/node_modules/lodash/package.json"}, Layer: "sha256:2", Licenses: []string{"MIT"}}
	c := Component{Ecosystem: EcosystemDeb, Name: "zlib1g", Version: "1:1.2.13.dfsg-1"}
	got := Dedupe([]Component{a, c, b})
	want := []Component{
		{Ecosystem: EcosystemDeb, Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Source: Source{Name: "zlib1g", Version: "1:1.2.13.dfsg-1"}},
		{Ecosystem: EcosystemNPM, Name: "lodash", Version: "4.17.21", Layer: "sha256:1", Licenses: []string{"MIT"},
			Locations: []string{"a/node_modules/lodash/package.json", "b/node_modules/lodash/package.json"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Dedupe (-want +got):\n%s", diff)
	}
}

// Purls without a vendor, or with a bare release, survive being read and written again (the
// SBOM round-trip fuzzer found "pkg:apk/zlib@…?distro=3.22.0" losing its release).
func TestPURLWithoutVendorRoundTrips(t *testing.T) {
	for s, want := range map[string]Distro{
		"pkg:apk/zlib@1.2.12-r1?distro=3.22.0": {ID: "alpine", VersionID: "3.22.0"},
		"pkg:deb/zlib@1.2?distro=12":           {ID: "debian", VersionID: "12"},
		"pkg:apk/zlib@1.2":                     {ID: "alpine"},
		"pkg:rpm/zlib@1.2-3?distro=8":          {VersionID: "8"},
	} {
		c, err := FromPURL(s)
		if err != nil || c.Distro != want {
			t.Errorf("%s: distro %+v (%v), want %+v", s, c.Distro, err, want)
			continue
		}
		again, err := FromPURL(c.PackageURL())
		if err != nil || again.Distro != want {
			t.Errorf("%s → %s: distro %+v (%v), want %+v", s, c.PackageURL(), again.Distro, err, want)
		}
	}
}
