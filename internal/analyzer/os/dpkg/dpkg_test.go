package dpkg_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/os/dpkg"
	"github.com/stellaops/stellaops/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func analyze(t testing.TB, path string, content []byte) (*analyzer.Result, error) {
	t.Helper()
	a := dpkg.New(dpkg.DefaultConfig())
	in := analyzertest.Input(t, path, content, 0o644)
	if !a.Required(path, in.Info) {
		t.Fatalf("%s does not require %s", a.Name(), path)
	}
	return a.Analyze(context.Background(), in)
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lines renders components as sorted `name version srcname srcversion` lines.
func lines(cs []inventory.Component) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %s %s %s", c.Name, c.Version, c.Source.Name, c.Source.Version))
	}
	slices.Sort(out)
	return out
}

func readGolden(t *testing.T, name string) []string {
	t.Helper()
	return strings.Split(strings.TrimRight(string(readFile(t, name)), "\n"), "\n")
}

func TestRequired(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"var/lib/dpkg/status", true},
		{"var/lib/dpkg/status.d/libssl3", true},
		{"var/lib/dpkg/status.d/libpython3.11", true},
		{"var/lib/dpkg/status.d/libssl3.md5sums", false},
		{"var/lib/dpkg/status.d/libsqlite3-0.preinst", false},
		{"var/lib/dpkg/status.d/.hidden", false},
		{"var/lib/dpkg/status.d/sub/dir", false},
		{"var/lib/dpkg/status.d/", false},
		{"var/lib/dpkg/info/zlib1g:amd64.list", true},
		{"var/lib/dpkg/info/base-files.list", true},
		{"var/lib/dpkg/info/.list", false},
		{"var/lib/dpkg/info/base-files.md5sums", false},
		{"var/lib/dpkg/info/sub/x.list", false},
		{"var/lib/dpkg/status-old", false},
		{"var/lib/dpkg/available", false},
		{"/var/lib/dpkg/status", false},
		{"usr/lib/python3/dist-packages/x.list", false},
		{"", false},
	}
	a := dpkg.New(dpkg.DefaultConfig())
	for _, tt := range tests {
		if got := a.Required(tt.path, nil); got != tt.want {
			t.Errorf("Required(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestRequiredDoesNotAllocate(t *testing.T) {
	a := dpkg.New(dpkg.DefaultConfig())
	paths := []string{"var/lib/dpkg/status.d/libssl3", "var/lib/dpkg/info/x.list", "usr/bin/ls", "var/lib/dpkg/status"}
	if n := testing.AllocsPerRun(100, func() {
		for _, p := range paths {
			a.Required(p, nil)
		}
	}); n != 0 {
		t.Errorf("Required allocates %v times per run", n)
	}
}

func TestBookwormGolden(t *testing.T) {
	const path = "var/lib/dpkg/status"
	res, err := analyze(t, path, readFile(t, "testdata/bookworm.status"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Components) != 88 {
		t.Errorf("got %d packages, want 88", len(res.Components))
	}
	for _, c := range res.Components {
		if c.Ecosystem != inventory.EcosystemDeb || c.Arch == "" || !slices.Equal(c.Locations, []string{path}) {
			t.Errorf("component %s: ecosystem %q arch %q locations %v", c.Name, c.Ecosystem, c.Arch, c.Locations)
		}
		if !c.Distro.IsZero() || c.Layer != "" || c.FoundBy != "" || len(c.Licenses) != 0 {
			t.Errorf("component %s sets fields the walker owns: %+v", c.Name, c)
		}
	}
	got := lines(res.Components)
	const golden = "testdata/bookworm.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(readGolden(t, golden), got); diff != "" {
		t.Errorf("bookworm packages (-want +got):\n%s", diff)
	}
}

// TestBookwormMatchesSBOMs compares our reading of the bookworm status with the package list the
// SBOM decoders produce from three SBOMs (Trivy CycloneDX, SPDX, JSON) of the same root filesystem.
func TestBookwormMatchesSBOMs(t *testing.T) {
	sbomGolden := filepath.Join("..", "..", "..", "sbom", "testdata", "bookworm-packages.golden")
	if _, err := os.Stat(sbomGolden); errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s does not exist (yet): cross-check with the SBOM decoders skipped", sbomGolden)
	}
	if diff := cmp.Diff(readGolden(t, sbomGolden), readGolden(t, "testdata/bookworm.golden")); diff != "" {
		t.Errorf("SBOM package list vs dpkg status (-sbom +dpkg):\n%s", diff)
	}
}

// TestDistrolessStatusD splits the real bookworm status into one status.d file per package
// without Status lines, as distroless images have it, and expects the same packages back.
func TestDistrolessStatusD(t *testing.T) {
	want, err := analyze(t, "var/lib/dpkg/status", readFile(t, "testdata/bookworm.status"))
	if err != nil {
		t.Fatal(err)
	}
	var got []inventory.Component
	for para := range strings.SplitSeq(strings.TrimSpace(string(readFile(t, "testdata/bookworm.status"))), "\n\n") {
		var name string
		var kept []string
		for l := range strings.SplitSeq(para, "\n") {
			if strings.HasPrefix(l, "Status:") {
				continue
			}
			if v, ok := strings.CutPrefix(l, "Package: "); ok {
				name = v
			}
			kept = append(kept, l)
		}
		path := "var/lib/dpkg/status.d/" + name
		res, err := analyze(t, path, []byte(strings.Join(kept, "\n")+"\n"))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(res.Components) != 1 || !slices.Equal(res.Components[0].Locations, []string{path}) {
			t.Fatalf("%s: got %+v", path, res.Components)
		}
		got = append(got, res.Components...)
	}
	if diff := cmp.Diff(lines(want.Components), lines(got)); diff != "" {
		t.Errorf("status.d packages (-status +status.d):\n%s", diff)
	}
}

func TestRealFiles(t *testing.T) {
	tests := []struct {
		name, file, path string
		want             []string
		wantErr          string
	}{
		{
			name: "grype match coverage, Source without version",
			file: "testdata/grype-match-coverage.status", path: "var/lib/dpkg/status",
			want: []string{"apt 1.8.2 apt-dev 1.8.2"},
		},
		{
			name: "distroless entry without Status",
			file: "testdata/status.d/libsqlite3-0", path: "var/lib/dpkg/status.d/libsqlite3-0",
			want: []string{"libsqlite3-0 3.34.1-3 sqlite3 3.34.1-3"},
		},
		{
			name: "kernel left in config-files state",
			file: "testdata/status.d/syft-deinstall", path: "var/lib/dpkg/status.d/linux",
			want: []string{"linux-image-6.14.0-1012-aws 6.14.0-1012.12~24.04.1 linux-signed-aws-6.14 6.14.0-1012.12~24.04.1"},
		},
		{
			name: "paragraphs without name or version are reported",
			file: "testdata/status.d/syft-multiple", path: "var/lib/dpkg/status.d/multiple",
			want: []string{
				"tzdata 2020a-0+deb10u1 tzdata-dev 2020a-0+deb10u1",
				"util-linux 2.33.1-0.1 util-linux 2.33.1-0.1",
			},
			wantErr: `var/lib/dpkg/status.d/multiple: skipped 2 installed package stanzas: line 1: no package name; ` +
				`line 3: package "no-version" has no version`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := analyze(t, tt.path, readFile(t, tt.file))
			if got := errString(err); got != tt.wantErr {
				t.Errorf("error = %q, want %q", got, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, lines(res.Components)); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFileLists(t *testing.T) {
	tests := []struct {
		file, path string
		want       []string
	}{
		{
			file: "testdata/info/zlib1g_amd64.list", path: "var/lib/dpkg/info/zlib1g:amd64.list",
			want: []string{
				"lib/x86_64-linux-gnu/libz.so.1.2.13",
				"usr/share/doc/zlib1g/changelog.Debian.gz",
				"usr/share/doc/zlib1g/changelog.gz",
				"usr/share/doc/zlib1g/copyright",
				"lib/x86_64-linux-gnu/libz.so.1",
			},
		},
	}
	for _, tt := range tests {
		res, err := analyze(t, tt.path, readFile(t, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&analyzer.Result{OwnedFiles: tt.want}, res); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.file, diff)
		}
	}
}

func TestBaseFilesList(t *testing.T) {
	res, err := analyze(t, "var/lib/dpkg/info/base-files.list", readFile(t, "testdata/info/base-files.list"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"etc/debian_version", "etc/dpkg/origins/debian", "usr/lib/os-release"} {
		if !slices.Contains(res.OwnedFiles, want) {
			t.Errorf("OwnedFiles lacks %s", want)
		}
	}
	for _, dir := range []string{".", "", "etc", "etc/dpkg", "usr", "usr/lib"} {
		if slices.Contains(res.OwnedFiles, dir) {
			t.Errorf("OwnedFiles holds directory %q", dir)
		}
	}
	for _, f := range res.OwnedFiles {
		if strings.HasPrefix(f, "/") {
			t.Errorf("OwnedFiles holds absolute path %q", f)
		}
	}
}

func TestLimitsAndContext(t *testing.T) {
	data := readFile(t, "testdata/bookworm.status")
	a := dpkg.New(dpkg.Config{MaxFileSize: 1000})
	if _, err := a.Analyze(context.Background(), analyzertest.Input(t, "var/lib/dpkg/status", data, 0o644)); !errors.Is(err, analyzer.ErrTooLarge) {
		t.Errorf("oversized file: error = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := dpkg.New(dpkg.DefaultConfig()).Analyze(ctx, analyzertest.Input(t, "var/lib/dpkg/status", data, 0o644)); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: error = %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
