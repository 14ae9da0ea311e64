package apk_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/os/apk"
	"github.com/stellaops/stellaops/internal/inventory"
)

const dbPath = "lib/apk/db/installed"

func analyze(t testing.TB, path string, content []byte) (*analyzer.Result, error) {
	t.Helper()
	a := apk.New(apk.DefaultConfig())
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

func TestRequired(t *testing.T) {
	a := apk.New(apk.DefaultConfig())
	for path, want := range map[string]bool{
		"lib/apk/db/installed":      true,
		"usr/lib/apk/db/installed":  true,
		"/lib/apk/db/installed":     false,
		"lib/apk/db/installed.bak":  false,
		"lib/apk/db/scripts.tar":    false,
		"etc/apk/world":             false,
		"var/lib/apk/db/installed2": false,
	} {
		if got := a.Required(path, nil); got != want {
			t.Errorf("Required(%q) = %v, want %v", path, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { a.Required("usr/lib/libssl.so.3", nil) }); n != 0 {
		t.Errorf("Required allocates %v times per run", n)
	}
}

// TestAlpineMatchesOSVScanner checks the real alpine 3.10.4 database against osv-scanner's
// inventory of the same image: the same (binary name, version, origin) triples.
func TestAlpineMatchesOSVScanner(t *testing.T) {
	res, err := analyze(t, dbPath, readFile(t, "testdata/alpine-3.10.4.installed"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range res.Components {
		got = append(got, fmt.Sprintf("%s %s %s", c.Name, c.Version, c.Source.Name))
	}
	slices.Sort(got)

	f, err := os.Open("testdata/trivy-alpine-3.10.4.osv-scanner-2.4.0-inventory.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Results []struct {
			Source struct {
				Path string `json:"path"`
			} `json:"source"`
			Packages []struct {
				Package struct {
					Name          string `json:"name"`
					OSPackageName string `json:"os_package_name"`
					Version       string `json:"version"`
				} `json:"package"`
			} `json:"packages"`
		} `json:"results"`
	}
	if err := json.NewDecoder(zr).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range doc.Results {
		if r.Source.Path != "/"+dbPath {
			continue
		}
		for _, p := range r.Packages {
			want = append(want, fmt.Sprintf("%s %s %s", p.Package.OSPackageName, p.Package.Version, p.Package.Name))
		}
	}
	slices.Sort(want)
	if len(want) != 14 {
		t.Fatalf("osv-scanner inventory has %d apk packages, want 14", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(name version origin) triples (-osv-scanner +apk):\n%s", diff)
	}
}

func TestAlpineDetails(t *testing.T) {
	res, err := analyze(t, dbPath, readFile(t, "testdata/alpine-3.10.4.installed"))
	if err != nil {
		t.Fatal(err)
	}
	idx := slices.IndexFunc(res.Components, func(c inventory.Component) bool { return c.Name == "libssl1.1" })
	if idx < 0 {
		t.Fatal("libssl1.1 not found")
	}
	want := inventory.Component{
		Ecosystem: inventory.EcosystemAPK, Name: "libssl1.1", Version: "1.1.1d-r2", Arch: "x86_64",
		Source:   inventory.Source{Name: "openssl", Version: "1.1.1d-r2"},
		Licenses: []string{"OpenSSL"}, Locations: []string{dbPath},
	}
	if diff := cmp.Diff(want, res.Components[idx]); diff != "" {
		t.Errorf("libssl1.1 (-want +got):\n%s", diff)
	}
	for _, f := range []string{"lib/libc.musl-x86_64.so.1", "lib/ld-musl-x86_64.so.1", "bin/busybox", "usr/lib/libssl.so.1.1", "etc/apk/keys/alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub"} {
		if !slices.Contains(res.OwnedFiles, f) {
			t.Errorf("OwnedFiles lacks %s", f)
		}
	}
	for _, d := range []string{"lib", "usr", "usr/lib", "bin"} {
		if slices.Contains(res.OwnedFiles, d) {
			t.Errorf("OwnedFiles holds directory %s", d)
		}
	}
}

func TestRecords(t *testing.T) {
	// Records cut down from testdata/alpine-3.10.4.installed.
	const musl = "C:Q11Ing8/u1VIdY9czSxaDO9wJg72I=\nP:musl\nV:1.1.22-r3\nA:x86_64\nL:MIT\no:musl\n" +
		"F:lib\nR:libc.musl-x86_64.so.1\na:0:0:777\nR:ld-musl-x86_64.so.1\nF:usr\nF:usr/lib\n"
	const sslClient = "P:ssl_client\nV:1.30.1-r3\nA:x86_64\nL:GPL-2.0\no:busybox\nF:usr\nF:usr/bin\nR:ssl_client\n"
	const scanelf = "P:scanelf\nV:1.2.3-r0\nA:x86_64\nL:GPL2\no:pax-utils\nF:usr/bin\nR:scanelf\n"
	const ca = "P:ca-certificates-cacert\nV:20190108-r0\nA:x86_64\nL:MPL-2.0 GPL-2.0-or-later\no:ca-certificates\nF:etc/ssl\nR:cert.pem\n"
	apkc := func(name, version, origin string, lic ...string) inventory.Component {
		return inventory.Component{
			Ecosystem: inventory.EcosystemAPK, Name: name, Version: version, Arch: "x86_64",
			Source: inventory.Source{Name: origin, Version: version}, Licenses: lic, Locations: []string{dbPath},
		}
	}
	tests := []struct {
		name, in string
		want     *analyzer.Result
		wantErr  string
	}{
		{
			name: "origin differs from name; F then R",
			in:   musl + "\n" + sslClient,
			want: &analyzer.Result{
				Components: []inventory.Component{apkc("musl", "1.1.22-r3", "musl", "MIT"), apkc("ssl_client", "1.30.1-r3", "busybox", "GPL-2.0")},
				OwnedFiles: []string{"lib/libc.musl-x86_64.so.1", "lib/ld-musl-x86_64.so.1", "usr/bin/ssl_client"},
			},
		},
		{
			name: "CRLF and no final newline",
			in:   strings.TrimSuffix(strings.ReplaceAll(scanelf+"\n"+ca, "\n", "\r\n"), "\r\n"),
			want: &analyzer.Result{
				Components: []inventory.Component{apkc("scanelf", "1.2.3-r0", "pax-utils", "GPL2"),
					apkc("ca-certificates-cacert", "20190108-r0", "ca-certificates", "MPL-2.0", "GPL-2.0-or-later")},
				OwnedFiles: []string{"usr/bin/scanelf", "etc/ssl/cert.pem"},
			},
		},
		{
			name: "no origin: the package is its own source; SPDX expression kept whole; R at the root",
			in:   "P:tzdata\nV:2024a-r0\nA:x86_64\nL:Public-Domain AND BSD-3-Clause\nR:etc-localtime\n",
			want: &analyzer.Result{
				Components: []inventory.Component{apkc("tzdata", "2024a-r0", "tzdata", "Public-Domain AND BSD-3-Clause")},
				OwnedFiles: []string{"etc-localtime"},
			},
		},
		{
			name: "records without name or version: partial result and error",
			in:   "C:Q1abc=\nV:1.0-r0\n\n" + scanelf + "\n\nP:broken\nA:x86_64\n",
			want: &analyzer.Result{
				Components: []inventory.Component{apkc("scanelf", "1.2.3-r0", "pax-utils", "GPL2")},
				OwnedFiles: []string{"usr/bin/scanelf"},
			},
			wantErr: "lib/apk/db/installed: skipped 2 package records: line 1: no package name; line 13: package \"broken\" has no version",
		},
		{name: "empty", in: ""},
		{name: "garbage", in: "\n\nnot a field\n \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := analyze(t, dbPath, []byte(tt.in))
			if msg := errString(err); msg != tt.wantErr {
				t.Errorf("error = %q, want %q", msg, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLimitsAndContext(t *testing.T) {
	data := readFile(t, "testdata/alpine-3.10.4.installed")
	if _, err := apk.New(apk.Config{MaxFileSize: 100}).Analyze(context.Background(), analyzertest.Input(t, dbPath, data, 0o644)); err == nil {
		t.Error("oversized file: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := apk.New(apk.DefaultConfig()).Analyze(ctx, analyzertest.Input(t, dbPath, data, 0o644)); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: error = %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
