package osrelease_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/osrelease"
	"github.com/stellaops/stellaops/internal/inventory"
)

// detect runs the analyzer over every release file of the root filesystem at root, as the layer
// walker would, and returns what each file said.
func detect(t *testing.T, root string) map[string]inventory.Distro {
	t.Helper()
	a := osrelease.New(osrelease.DefaultConfig())
	found := map[string]inventory.Distro{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !a.Required(rel, nil) {
			t.Fatalf("%s not required", rel)
		}
		res, err := analyzertest.AnalyzeFile(t, a, rel, p, false)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if res != nil {
			if res.Distro == nil || len(res.Components) != 0 || len(res.OwnedFiles) != 0 {
				t.Fatalf("%s: result %+v", rel, res)
			}
			found[rel] = *res.Distro
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func distro(id, version, codename, pretty string) inventory.Distro {
	return inventory.Distro{ID: id, VersionID: version, Codename: codename, PrettyName: pretty}
}

// TestRealFiles reads real release files (see testdata/PROVENANCE), one root filesystem per
// directory, and checks the distro Resolve picks from them.
func TestRealFiles(t *testing.T) {
	tests := map[string]inventory.Distro{
		"debian-bookworm-minbase": distro("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)"),
		"debian-12-host":          distro("debian", "12.11", "bookworm", "Debian GNU/Linux 12 (bookworm)"),
		"debian-trixie-testing":   distro("debian", "", "trixie", "Debian GNU/Linux trixie/sid"),
		"alpine-3.10.4":           distro("alpine", "3.10.4", "", "Alpine Linux v3.10"),
		"centos-7":                distro("centos", "7.9.2009", "", "CentOS Linux 7 (Core)"),
		"amazon-2023":             distro("amzn", "2023", "", "Amazon Linux 2023.6.20241010"),
		"syft-centos-8":           distro("centos", "8", "", "CentOS Linux 8 (Core)"),
		"syft-rhel-8":             distro("rhel", "8.1", "", "Red Hat Enterprise Linux 8.1 (Ootpa)"),
		"syft-ubuntu-20.04":       distro("ubuntu", "20.04", "focal", "Ubuntu 20.04 LTS"),
		"syft-debian-8":           distro("debian", "8", "jessie", "Debian GNU/Linux 8 (jessie)"),
		"syft-debian-8-crlf":      distro("debian", "8", "jessie", "Debian GNU/Linux 8 (jessie)"),
		"syft-distroless-debian":  distro("debian", "10.8", "", "Distroless"),
		"syft-debian-13-point":    distro("debian", "13.5", "trixie", "Debian GNU/Linux 13 (trixie)"),
		"syft-centos-5":           distro("centos", "5.7", "", "CentOS release 5.7 (Final)"),
		"syft-rhel-8.10":          distro("rhel", "8.10", "", "Red Hat Enterprise Linux release 8.10 (Ootpa)"),
		"syft-almalinux-8.10":     distro("almalinux", "8.10", "", "AlmaLinux release 8.10 (Cerulean Leopard)"),
		"syft-rocky-8.10":         distro("rocky", "8.10", "", "Rocky Linux release 8.10 (Green Obsidian)"),
		"syft-scientific-7.9":     distro("scientific", "7.9", "", "Scientific Linux release 7.9 (Nitrogen)"),
		"syft-alpine":             distro("alpine", "3.11.6", "", "Alpine Linux v3.11"),
		"syft-amazon":             distro("amzn", "2", "", "Amazon Linux 2"),
		"syft-opensuse-leap":      distro("opensuse-leap", "15.2", "", "openSUSE Leap 15.2"),
		"syft-sles":               distro("sles", "15.2", "", "SUSE Linux Enterprise Server 15 SP2"),
		"syft-wolfi":              distro("wolfi", "20220914", "", "Wolfi"),
		"syft-mariner":            distro("mariner", "1.0", "", "CBL-Mariner/Linux"),
		"syft-oraclelinux":        distro("ol", "8.3", "", "Oracle Linux Server 8.3"),
		"syft-photon":             distro("photon", "2.0", "", "VMware Photon OS/Linux"),
		"syft-fedora":             distro("fedora", "36", "", "Fedora Linux 36 (Container Image)"),
		"syft-missing-id":         {},
	}
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := tests[e.Name()]; e.IsDir() && !ok && e.Name() != "fuzz" {
			t.Errorf("testdata/%s has no expectation", e.Name())
		}
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			got := osrelease.Resolve(detect(t, filepath.Join("testdata", name)))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("distro (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPerFile(t *testing.T) {
	got := detect(t, "testdata/centos-7")
	want := map[string]inventory.Distro{
		"etc/os-release":     distro("centos", "7", "", "CentOS Linux 7 (Core)"),
		"etc/centos-release": distro("centos", "7.9.2009", "", "CentOS Linux release 7.9.2009 (Core)"),
		"etc/redhat-release": distro("centos", "7.9.2009", "", "CentOS Linux release 7.9.2009 (Core)"),
		"etc/system-release": distro("centos", "7.9.2009", "", "CentOS Linux release 7.9.2009 (Core)"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("per-file distros (-want +got):\n%s", diff)
	}
}

func TestResolve(t *testing.T) {
	deb12 := distro("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)")
	tests := []struct {
		name  string
		found map[string]inventory.Distro
		want  inventory.Distro
	}{
		{"nothing", nil, inventory.Distro{}},
		{"etc/os-release beats usr/lib/os-release", map[string]inventory.Distro{
			"etc/os-release": deb12, "usr/lib/os-release": distro("debian", "11", "bullseye", "old"),
		}, deb12},
		{"usr/lib/os-release alone", map[string]inventory.Distro{"usr/lib/os-release": deb12}, deb12},
		{"another distro's file adds nothing", map[string]inventory.Distro{
			"etc/os-release": distro("ubuntu", "22.04", "jammy", "Ubuntu 22.04.4 LTS"), "etc/debian_version": distro("debian", "", "bookworm", ""),
		}, distro("ubuntu", "22.04", "jammy", "Ubuntu 22.04.4 LTS")},
		{"a version that is not a refinement is kept", map[string]inventory.Distro{
			"etc/os-release": deb12, "etc/debian_version": distro("debian", "11.9", "", ""),
		}, deb12},
		{"alpine-release without os-release", map[string]inventory.Distro{"etc/alpine-release": distro("alpine", "3.19.1", "", "")},
			distro("alpine", "3.19.1", "", "")},
		{"redhat-release before system-release", map[string]inventory.Distro{
			"etc/system-release": distro("amzn", "2", "", "Amazon Linux release 2 (Karoo)"),
			"etc/redhat-release": distro("rhel", "9.3", "", "Red Hat Enterprise Linux release 9.3 (Plow)"),
		}, distro("rhel", "9.3", "", "Red Hat Enterprise Linux release 9.3 (Plow)")},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, osrelease.Resolve(tt.found)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, path, in string
		want           inventory.Distro
	}{
		{"quotes and escapes", "etc/os-release", "ID='Debian'\nVERSION_ID=\"1\\\"2\\\\\"\nPRETTY_NAME=\"a \\$b\" # no comment\n",
			distro("debian", "1\"2\\", "", "a $b")},
		{"unterminated quote, comments, blanks", "etc/os-release", "# c\n\n  ID=\"alpine\n VERSION_ID = 3.20.0 \n",
			distro("alpine", "3.20.0", "", "")},
		{"ID with bad characters", "etc/os-release", "ID=\"deb ian\"\n", inventory.Distro{}},
		{"control characters dropped", "etc/os-release", "ID=debian\nPRETTY_NAME=\"a\x1b[31mb\"\n", distro("debian", "", "", "a[31mb")},
		{"empty alpine-release", "etc/alpine-release", "\n", inventory.Distro{}},
		{"debian_version sid", "etc/debian_version", "bookworm/sid\n", distro("debian", "", "bookworm", "")},
		{"debian_version garbage", "etc/debian_version", "!!\n", inventory.Distro{}},
		{"unknown vendor", "etc/redhat-release", "Foo Linux release 1.0 (Bar)\n", inventory.Distro{}},
		{"no version", "etc/redhat-release", "CentOS Linux release (Core)\n", inventory.Distro{}},
		{"Amazon Linux 2", "etc/system-release", "Amazon Linux release 2 (Karoo)\n", distro("amzn", "2", "", "Amazon Linux release 2 (Karoo)")},
		{"Oracle Linux", "etc/system-release", "Oracle Linux Server release 7.9\n", distro("ol", "7.9", "", "Oracle Linux Server release 7.9")},
		{"CentOS Stream", "etc/centos-release", "CentOS Stream release 9\n", distro("centos", "9", "", "CentOS Stream release 9")},
		{"not a release file", "etc/issue", "Debian GNU/Linux 12 \\n \\l\n", inventory.Distro{}},
	}
	for _, tt := range tests {
		got, ok := osrelease.Parse(tt.path, []byte(tt.in))
		if ok != (tt.want.ID != "") {
			t.Errorf("%s: ok = %v", tt.name, ok)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestRequiredAndLimits(t *testing.T) {
	a := osrelease.New(osrelease.DefaultConfig())
	for path, want := range map[string]bool{
		"etc/os-release": true, "usr/lib/os-release": true, "etc/alpine-release": true, "etc/debian_version": true,
		"etc/redhat-release": true, "etc/centos-release": true, "etc/system-release": true,
		"etc/lsb-release": false, "etc/system-release-cpe": false, "/etc/os-release": false, "usr/etc/os-release": false,
	} {
		if got := a.Required(path, nil); got != want {
			t.Errorf("Required(%q) = %v, want %v", path, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { a.Required("usr/lib/os-release", nil); a.Required("usr/bin/ls", nil) }); n != 0 {
		t.Errorf("Required allocates %v times per run", n)
	}
	big := make([]byte, 70<<10)
	if _, err := a.Analyze(context.Background(), analyzertest.Input(t, "etc/os-release", big, 0o644)); err == nil {
		t.Error("oversized file: no error")
	}
}
