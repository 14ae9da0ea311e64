package match_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/match"
)

// rng builds a one-range ECOSYSTEM entry from alternating event kinds and versions.
func rng(events ...string) []advisory.Range {
	r := advisory.Range{Type: advisory.RangeEcosystem}
	for i := 0; i+1 < len(events); i += 2 {
		switch events[i] {
		case "introduced":
			r.Events = append(r.Events, advisory.Event{Introduced: events[i+1]})
		case "fixed":
			r.Events = append(r.Events, advisory.Event{Fixed: events[i+1]})
		case "last_affected":
			r.Events = append(r.Events, advisory.Event{LastAffected: events[i+1]})
		case "limit":
			r.Events = append(r.Events, advisory.Event{Limit: events[i+1]})
		}
	}
	return []advisory.Range{r}
}

func adv(id string, affected ...advisory.Affected) *advisory.Advisory {
	for i := range affected {
		affected[i].Source = "test"
	}
	return &advisory.Advisory{ID: id, Affected: affected, Sources: []advisory.Provenance{{Source: "test", Document: id}}}
}

func snap(t *testing.T, advs ...*advisory.Advisory) *snapshot.Snapshot {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.db")
	if _, err := snapshot.Build(context.Background(), p, advs, nil, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	s, err := snapshot.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var (
	bookworm = inventory.Distro{ID: "debian", VersionID: "12.5"}
	alma9    = inventory.Distro{ID: "almalinux", VersionID: "9.4"}
)

type hit struct{ ID, Package, Installed, Fixed, Status, Method string }

func run(t *testing.T, s *snapshot.Snapshot, distro inventory.Distro, comps ...inventory.Component) []hit {
	t.Helper()
	inv := &inventory.Inventory{Distro: distro, Components: comps}
	inv.Finalize()
	res, err := match.Match(context.Background(), s, inv, match.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var out []hit
	for _, f := range res.Findings {
		out = append(out, hit{f.ID, f.Component.Name, f.InstalledVersion, f.FixedVersion, string(f.Status), f.MatchMethod})
	}
	return out
}

func deb(name, version, srcName, srcVersion string) inventory.Component {
	return inventory.Component{Ecosystem: inventory.EcosystemDeb, Name: name, Version: version, Arch: "amd64",
		Source: inventory.Source{Name: srcName, Version: srcVersion}}
}

// Debian tracks fixes by source package and source version. bookworm's bsdutils is
// "1:2.38.1-5+deb12u3" built from util-linux "2.38.1-5+deb12u3": compared as a binary version its
// epoch would put it above every util-linux fix (a miss); compared as the source it is caught.
func TestDebianSourceVersionAndEpoch(t *testing.T) {
	s := snap(t, adv("CVE-2024-28085", advisory.Affected{Ecosystem: inventory.EcosystemDeb, Distro: "debian:12",
		Package: "util-linux", Ranges: rng("introduced", "0", "fixed", "2.38.1-5+deb12u4")}))
	got := run(t, s, bookworm, deb("bsdutils", "1:2.38.1-5+deb12u3", "util-linux", "2.38.1-5+deb12u3"),
		deb("util-linux", "2.38.1-5+deb12u3", "util-linux", "2.38.1-5+deb12u3"),
		deb("libmount1", "2.38.1-5+deb12u4", "util-linux", "2.38.1-5+deb12u4"))
	want := []hit{
		{"CVE-2024-28085", "bsdutils", "2.38.1-5+deb12u3", "2.38.1-5+deb12u4", "fixed", match.MethodSourceIndirect},
		{"CVE-2024-28085", "util-linux", "2.38.1-5+deb12u3", "2.38.1-5+deb12u4", "fixed", match.MethodExact},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A binNMU (+b1) rebuilds a binary without changing its source: the binary "2.36-9+deb12u3+b1" of
// glibc "2.36-9+deb12u3" is still vulnerable to a bug fixed in glibc 2.36-9+deb12u4, and libc6 is
// found through its source name, glibc.
func TestBinNMUAndBinaryVsSource(t *testing.T) {
	s := snap(t, adv("CVE-2023-4911", advisory.Affected{Ecosystem: inventory.EcosystemDeb, Distro: "debian:12",
		Package: "glibc", Ranges: rng("introduced", "0", "fixed", "2.36-9+deb12u4")}))
	got := run(t, s, bookworm, deb("libc6", "2.36-9+deb12u3+b1", "glibc", "2.36-9+deb12u3"),
		deb("libc-bin", "2.36-9+deb12u4+b1", "glibc", "2.36-9+deb12u4"))
	want := []hit{{"CVE-2023-4911", "libc6", "2.36-9+deb12u3", "2.36-9+deb12u4", "fixed", match.MethodSourceIndirect}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// "~bpo" backports sort before the release they backport: 2.4.57-2~bpo11+1 precedes 2.4.57-2.
// Each component is judged only against its own release's data.
func TestBackportsAndReleaseIsolation(t *testing.T) {
	bullseye := inventory.Distro{ID: "debian", VersionID: "11.9"}
	s := snap(t,
		adv("CVE-2023-31122", advisory.Affected{Ecosystem: inventory.EcosystemDeb, Distro: "debian:11",
			Package: "apache2", Ranges: rng("introduced", "0", "fixed", "2.4.57-2")}),
		adv("CVE-2099-0001", advisory.Affected{Ecosystem: inventory.EcosystemDeb, Distro: "debian:12",
			Package: "apache2", Ranges: rng("introduced", "0", "fixed", "9.9.9-1")}))
	got := run(t, s, bullseye, deb("apache2", "2.4.57-2~bpo11+1", "apache2", "2.4.57-2~bpo11+1"),
		deb("apache2-bin", "2.4.57-2", "apache2", "2.4.57-2"))
	want := []hit{{"CVE-2023-31122", "apache2", "2.4.57-2~bpo11+1", "2.4.57-2", "fixed", match.MethodExact}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Distro statuses without a fix are reported as such, never as "fixed"; not_affected matches nothing.
func TestDistroStatuses(t *testing.T) {
	s := snap(t,
		adv("CVE-2005-2541", advisory.Affected{Ecosystem: inventory.EcosystemDeb, Distro: "debian:12", Package: "tar", Status: advisory.StatusWillNotFix}),
		adv("CVE-2023-39804", advisory.Affected{Ecosystem: inventory.EcosystemDeb, Distro: "debian:12", Package: "tar", Status: advisory.StatusFixDeferred}),
		adv("CVE-2022-48303", advisory.Affected{Ecosystem: inventory.EcosystemDeb, Distro: "debian:12", Package: "tar", Status: advisory.StatusNotAffected}),
	)
	got := run(t, s, bookworm, deb("tar", "1.34+dfsg-1.2+deb12u1", "tar", "1.34+dfsg-1.2+deb12u1"))
	want := []hit{
		{"CVE-2005-2541", "tar", "1.34+dfsg-1.2+deb12u1", "", "will_not_fix", match.MethodExact},
		{"CVE-2023-39804", "tar", "1.34+dfsg-1.2+deb12u1", "", "fix_deferred", match.MethodExact},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// RPM distros track binary packages with epochs (AlmaLinux writes "1:1.1.1k-6.el8_5"). An SBOM
// that dropped the epoch is compared as if it had the advisory's; an rpmdb reading without an
// epoch has none.
func TestRPMEpochs(t *testing.T) {
	s := snap(t, adv("ALSA-2022:1065", advisory.Affected{Ecosystem: inventory.EcosystemRPM, Distro: "almalinux:9",
		Package: "openssl-libs", Ranges: rng("introduced", "0", "fixed", "1:3.0.1-20.el9_0")}))
	rpm := func(v, foundBy string) inventory.Component {
		return inventory.Component{Ecosystem: inventory.EcosystemRPM, Name: "openssl-libs", Version: v, Arch: "x86_64", FoundBy: foundBy}
	}
	got := run(t, s, alma9, rpm("1:3.0.1-18.el9", "os/rpm"))
	if len(got) != 1 || got[0].Fixed != "1:3.0.1-20.el9_0" {
		t.Errorf("epoch-qualified install: %+v", got)
	}
	// From an SBOM without the epoch: 3.0.1-23.el9 would sort below "1:3.0.1-20" if taken as
	// epoch 0; taken with the advisory's epoch it is the newer build and not affected.
	if got := run(t, s, alma9, rpm("3.0.1-23.el9", "sbom/cyclonedx")); len(got) != 0 {
		t.Errorf("SBOM without epoch, newer build: %+v", got)
	}
	if got := run(t, s, alma9, rpm("3.0.1-18.el9", "sbom/cyclonedx")); len(got) != 1 {
		t.Errorf("SBOM without epoch, older build: %+v", got)
	}
	// Our own rpmdb reading: no epoch means epoch 0.
	if got := run(t, s, alma9, rpm("3.0.1-23.el9", "os/rpm")); len(got) != 1 {
		t.Errorf("rpmdb without epoch: %+v", got)
	}
}

// Pre-releases sort before their release in every ecosystem that has them.
func TestPreReleases(t *testing.T) {
	s := snap(t,
		adv("GHSA-pypi", advisory.Affected{Ecosystem: inventory.EcosystemPyPI, Package: "Django", Ranges: rng("introduced", "0", "fixed", "4.2")}),
		adv("GHSA-npm", advisory.Affected{Ecosystem: inventory.EcosystemNPM, Package: "next",
			Ranges: []advisory.Range{{Type: advisory.RangeSemVer, Events: []advisory.Event{{Introduced: "0"}, {Fixed: "14.0.0"}}}}}),
	)
	got := run(t, s, inventory.Distro{},
		inventory.Component{Ecosystem: inventory.EcosystemPyPI, Name: "django", Version: "4.2rc1"},
		inventory.Component{Ecosystem: inventory.EcosystemPyPI, Name: "Django", Version: "4.2.post1"},
		inventory.Component{Ecosystem: inventory.EcosystemNPM, Name: "next", Version: "14.0.0-canary.3"},
		inventory.Component{Ecosystem: inventory.EcosystemNPM, Name: "next", Version: "14.0.0"},
	)
	ids := []string{}
	for _, h := range got {
		ids = append(ids, h.ID+"@"+h.Installed)
	}
	if diff := cmp.Diff([]string{"GHSA-npm@14.0.0-canary.3", "GHSA-pypi@4.2rc1"}, ids); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// last_affected closes a range after the version; explicit version lists match exactly; GIT
// ranges never match versions; a limit bounds a range from above.
func TestRangeEvents(t *testing.T) {
	s := snap(t,
		// PYSEC-2022-42969 (py): ECOSYSTEM introduced 0, last_affected 1.11.0.
		adv("PYSEC-2022-42969", advisory.Affected{Ecosystem: inventory.EcosystemPyPI, Package: "py", Ranges: rng("introduced", "0", "last_affected", "1.11.0")}),
		adv("PYSEC-list", advisory.Affected{Ecosystem: inventory.EcosystemPyPI, Package: "listed", Versions: []string{"1.0", "1.2"}}),
		adv("PSF-git", advisory.Affected{Ecosystem: inventory.EcosystemPyPI, Package: "gitonly",
			Ranges: []advisory.Range{{Type: advisory.RangeGit, Repo: "https://github.com/python/cpython", Events: []advisory.Event{{Introduced: "0"}, {Fixed: "abc123"}}}}}),
		adv("LIMITED", advisory.Affected{Ecosystem: inventory.EcosystemPyPI, Package: "limited", Ranges: rng("introduced", "1.0", "limit", "2.0")}),
	)
	py := func(n, v string) inventory.Component {
		return inventory.Component{Ecosystem: inventory.EcosystemPyPI, Name: n, Version: v}
	}
	got := run(t, s, inventory.Distro{}, py("py", "1.11.0"), py("py", "1.11.1"), py("listed", "1.0"), py("listed", "1.1"),
		py("listed", "1.2.0"), py("gitonly", "0.1"), py("limited", "1.5"), py("limited", "2.1"), py("limited", "0.9"))
	var ids []string
	for _, h := range got {
		ids = append(ids, h.ID+"@"+h.Installed)
	}
	slices.Sort(ids)
	// Listed versions match as exact strings (OSV's rule, and osv-scanner's): "1.2.0" is not "1.2".
	want := []string{"LIMITED@1.5", "PYSEC-2022-42969@1.11.0", "PYSEC-list@1.0"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Withdrawn advisories are never reported.
func TestWithdrawnNotReported(t *testing.T) {
	a := adv("GO-2025-9999", advisory.Affected{Ecosystem: inventory.EcosystemGo, Package: "github.com/opencontainers/runc",
		Ranges: []advisory.Range{{Type: advisory.RangeSemVer, Events: []advisory.Event{{Introduced: "0"}}}}})
	a.Withdrawn = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	s := snap(t, a)
	got := run(t, s, inventory.Distro{}, inventory.Component{Ecosystem: inventory.EcosystemGo, Name: "github.com/opencontainers/runc", Version: "v1.0.1"})
	if len(got) != 0 {
		t.Errorf("withdrawn advisory reported: %+v", got)
	}
	if _, err := s.Advisory("GO-2025-9999"); err != nil {
		t.Errorf("withdrawn advisory not kept for lookups: %v", err)
	}
}

// OS packages without a known distro release are not matched, and the result says how many.
func TestUnknownDistroNoted(t *testing.T) {
	s := snap(t, adv("CVE-1", advisory.Affected{Ecosystem: inventory.EcosystemDeb, Distro: "debian:12", Package: "tar", Status: advisory.StatusAffected}))
	inv := &inventory.Inventory{Components: []inventory.Component{deb("tar", "1.34", "tar", "1.34")}}
	res, err := match.Match(context.Background(), s, inv, match.Config{})
	if err != nil || len(res.Findings) != 0 || len(res.Notes) != 1 {
		t.Errorf("findings %v notes %v err %v", res.Findings, res.Notes, err)
	}
}

// Packages the snapshot has no data for (another distro release, an ecosystem no feed covers) are
// counted in the notes, never silently passed as clean.
func TestUncoveredNoted(t *testing.T) {
	s := snap(t,
		adv("CVE-1", advisory.Affected{Ecosystem: inventory.EcosystemDeb, Distro: "debian:12", Package: "tar", Status: advisory.StatusAffected}),
		adv("GHSA-pypi", advisory.Affected{Ecosystem: inventory.EcosystemPyPI, Package: "django", Ranges: rng("introduced", "0", "fixed", "4.2")}))
	if got := s.Meta().Coverage; !slices.Equal(got, []string{"deb/debian:12", "pypi"}) {
		t.Errorf("coverage %v", got)
	}
	bullseye := deb("tar", "1.34", "tar", "1.34")
	bullseye.Distro = inventory.Distro{ID: "debian", VersionID: "11"}
	inv := &inventory.Inventory{Distro: bookworm, Components: []inventory.Component{
		deb("tar", "1.34", "tar", "1.34"), bullseye,
		{Ecosystem: inventory.EcosystemPyPI, Name: "Django", Version: "4.1"},
		{Ecosystem: inventory.EcosystemPyPI, Name: "flask", Version: "1.0"}, // covered ecosystem, no record: not a note
		{Ecosystem: inventory.EcosystemNPM, Name: "left-pad", Version: "1.0.0"},
		{Ecosystem: inventory.EcosystemNPM, Name: "lodash", Version: "4.17.0"},
	}}
	inv.Finalize()
	res, err := match.Match(context.Background(), s, inv, match.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 2 {
		t.Errorf("findings %+v", res.Findings)
	}
	want := []string{
		"1 deb package(s) of debian:11 not checked: the advisory snapshot has no data for them",
		"2 npm package(s) not checked: the advisory snapshot has no data for them",
	}
	if diff := cmp.Diff(want, res.Notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}
