package rpm_test

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/os/rpm"
	"github.com/stellaops/stellaops/internal/inventory"
)

func readGzip(t testing.TB, name string) []byte {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func analyze(t testing.TB, path string, content []byte) (*analyzer.Result, error) {
	t.Helper()
	a := rpm.New(rpm.DefaultConfig())
	in := analyzertest.Input(t, path, content, 0o644)
	if !a.Required(path, in.Info) {
		t.Fatalf("%s does not require %s", a.Name(), path)
	}
	return a.Analyze(context.Background(), in)
}

func TestRequired(t *testing.T) {
	a := rpm.New(rpm.DefaultConfig())
	for path, want := range map[string]bool{
		"var/lib/rpm/Packages":                  true,
		"var/lib/rpm/Packages.db":               true,
		"var/lib/rpm/rpmdb.sqlite":              true,
		"usr/lib/sysimage/rpm/Packages":         true,
		"usr/lib/sysimage/rpm/Packages.db":      true,
		"usr/lib/sysimage/rpm/rpmdb.sqlite":     true,
		"var/lib/rpm/rpmdb.sqlite-shm":          false,
		"var/lib/rpm/Name":                      false,
		"var/lib/rpm/Packages/x":                false,
		"/var/lib/rpm/Packages":                 false,
		"usr/share/rpm/Packages":                false,
		"var/lib/rpm/sub/Packages":              false,
		"usr/lib/sysimage/rpm/rpmdb.sqlite-wal": false,
	} {
		if got := a.Required(path, nil); got != want {
			t.Errorf("Required(%q) = %v, want %v", path, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { a.Required("var/lib/rpm/Packages", nil); a.Required("usr/bin/rpm", nil) }); n != 0 {
		t.Errorf("Required allocates %v times per run", n)
	}
}

func rpmc(name, version, arch, srcName, srcVersion, module, license, loc string) inventory.Component {
	return inventory.Component{
		Ecosystem: inventory.EcosystemRPM, Name: name, Version: version, Arch: arch,
		Source: inventory.Source{Name: srcName, Version: srcVersion}, Module: module,
		Licenses: []string{license}, Locations: []string{loc},
	}
}

// TestDatabases reads one real database of each format and checks the package count, a few
// packages field by field, and owned files.
func TestDatabases(t *testing.T) {
	const (
		bdb = "var/lib/rpm/Packages"
		ndb = "usr/lib/sysimage/rpm/Packages.db"
		sql = "usr/lib/sysimage/rpm/rpmdb.sqlite"
		cts = "container-tools:rhel8:8020020200507003530:0d58ad57"
	)
	tests := []struct {
		name, file, path string
		count            int
		want             []inventory.Component
		files            []string
	}{
		{
			name: "Berkeley DB, CentOS 8 with modules", file: "testdata/centos8-modular-subset.Packages.gz", path: bdb,
			count: 34, // 35 headers, one of them gpg-pubkey
			want: []inventory.Component{
				rpmc("nodejs", "1:10.21.0-3.module_el8.2.0+391+8da3adc6", "x86_64", "nodejs", "1:10.21.0-3.module_el8.2.0+391+8da3adc6",
					"nodejs:10:8020020200707141642:6a468ee4", "MIT and ASL 2.0 and ISC and BSD", bdb),
				rpmc("podman", "1.6.4-10.module_el8.2.0+305+5e198a41", "x86_64", "podman", "1.6.4-10.module_el8.2.0+305+5e198a41", cts, "ASL 2.0", bdb),
				rpmc("perl-Scalar-List-Utils", "3:1.49-2.el8", "x86_64", "perl-Scalar-List-Utils", "3:1.49-2.el8", "", "GPL+ or Artistic", bdb),
				rpmc("openssl-libs", "1:1.1.1c-15.el8", "x86_64", "openssl", "1:1.1.1c-15.el8", "", "OpenSSL", bdb),
			},
			files: []string{"usr/bin/runc", "usr/bin/podman", "usr/lib64/libssl.so.1.1.1c"},
		},
		{
			name: "NDB, SLE 15", file: "testdata/sle15-bci.Packages.db.gz", path: ndb,
			count: 35,
			want: []inventory.Component{
				rpmc("libzstd1", "1.4.4-1.6.1", "x86_64", "zstd", "1.4.4-1.6.1", "", "BSD-3-Clause AND GPL-2.0-only", ndb),
				rpmc("bash", "4.4-19.6.1", "x86_64", "bash", "4.4-19.6.1", "", "GPL-3.0-or-later", ndb),
			},
			files: []string{"usr/lib/sysusers.d/system-user-root.conf", "bin/bash"},
		},
		{
			name: "SQLite, CBL-Mariner 2.0", file: "testdata/cbl-mariner-2.0.rpmdb.sqlite.gz", path: sql,
			count: 129,
			want: []inventory.Component{
				rpmc("ca-certificates-shared", "1:2.0.0-1.cm2", "noarch", "ca-certificates", "1:2.0.0-1.cm2", "", "MPLv2.0", sql),
				rpmc("bash", "5.1.8-1.cm2", "x86_64", "bash", "5.1.8-1.cm2", "", "GPLv3", sql),
				rpmc("openssl", "1.1.1k-7.cm2", "x86_64", "openssl", "1.1.1k-7.cm2", "", "OpenSSL", sql),
			},
			files: []string{"etc/issue", "bin/bash"},
		},
		{
			name: "Berkeley DB, one package", file: "testdata/libuuid.Packages.gz", path: bdb,
			count: 1,
			want:  []inventory.Component{rpmc("libuuid", "2.32.1-42.el8_8", "x86_64", "util-linux", "2.32.1-42.el8_8", "", "BSD", bdb)},
			files: []string{"usr/lib64/libuuid.so.1", "usr/lib64/libuuid.so.1.3.0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := analyze(t, tt.path, readGzip(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Components) != tt.count {
				t.Errorf("got %d packages, want %d", len(res.Components), tt.count)
			}
			for _, w := range tt.want {
				i := slices.IndexFunc(res.Components, func(c inventory.Component) bool { return c.Name == w.Name })
				if i < 0 {
					t.Errorf("%s not found", w.Name)
					continue
				}
				if diff := cmp.Diff(w, res.Components[i]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", w.Name, diff)
				}
			}
			for _, c := range res.Components {
				if c.Name == "gpg-pubkey" || c.Version == "" || !c.Distro.IsZero() || c.FoundBy != "" || c.Layer != "" {
					t.Errorf("unexpected component %+v", c)
				}
			}
			for _, f := range tt.files {
				if !slices.Contains(res.OwnedFiles, f) {
					t.Errorf("OwnedFiles lacks %s", f)
				}
			}
			for _, dir := range []string{"usr", "usr/bin", "etc", "usr/share/doc"} {
				if slices.Contains(res.OwnedFiles, dir) {
					t.Errorf("OwnedFiles holds directory %s", dir)
				}
			}
		})
	}
}

func TestModularCount(t *testing.T) {
	res, err := analyze(t, "var/lib/rpm/Packages", readGzip(t, "testdata/centos8-modular-subset.Packages.gz"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range res.Components {
		if c.Module != "" {
			n++
		}
	}
	if n != 21 {
		t.Errorf("%d modular packages, want 21", n)
	}
}

func TestEmptyAndLimits(t *testing.T) {
	if res, err := analyze(t, "var/lib/rpm/Packages", nil); res != nil || err != nil {
		t.Errorf("empty file: got %v, %v; want nil, nil", res, err)
	}
	data := readGzip(t, "testdata/libuuid.Packages.gz")
	a := rpm.New(rpm.Config{MaxFileSize: 4096})
	if _, err := a.Analyze(context.Background(), analyzertest.Input(t, "var/lib/rpm/Packages", data, 0o644)); err == nil ||
		!strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized file: error = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := rpm.New(rpm.DefaultConfig()).Analyze(ctx, analyzertest.Input(t, "var/lib/rpm/Packages", data, 0o644)); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: error = %v", err)
	}
}

func TestNoTempFilesLeft(t *testing.T) {
	for _, f := range []string{"testdata/cbl-mariner-2.0.rpmdb.sqlite.gz", "testdata/libuuid.Packages.gz"} {
		in := analyzertest.Input(t, "var/lib/rpm/rpmdb.sqlite", readGzip(t, f), 0o644)
		if _, err := rpm.New(rpm.DefaultConfig()).Analyze(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		left, err := os.ReadDir(in.TempDir)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Errorf("%s: %d entries left in TempDir", f, len(left))
		}
	}
}
