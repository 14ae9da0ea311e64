package gobinary_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/gobinary"
	"github.com/stellaops/stellaops/internal/inventory"
)

func goComp(name, version string, direct bool, loc string) inventory.Component {
	return inventory.Component{
		Ecosystem: inventory.EcosystemGo, Name: name, Version: version, Direct: direct, Locations: []string{loc},
	}
}

func TestAnalyze(t *testing.T) {
	const loc = "usr/local/bin/semvercheck"
	tests := []struct {
		name    string
		file    string
		exec    bool
		want    []inventory.Component
		wantErr bool
	}{
		{
			name: "replacements",
			file: "testdata/semvercheck",
			exec: true,
			want: []inventory.Component{
				goComp("example.com/local", "", false, loc),
				goComp("example.com/semvercheck", "", true, loc),
				goComp("golang.org/x/mod", "v0.36.0", false, loc),
				goComp("stdlib", "v1.26.8", false, loc),
			},
		},
		{name: "shell script", file: "testdata/src/main.go.txt", exec: true},
		{name: "not executable but required by suffix", file: "testdata/PROVENANCE", exec: false},
	}
	a := gobinary.New(gobinary.Config{MinSize: 16})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := loc
			if !tt.exec {
				path = "app/tool.exe"
			}
			res, err := analyzertest.AnalyzeFile(t, a, path, tt.file, tt.exec)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Analyze() error = %v, wantErr %v", err, tt.wantErr)
			}
			var got []inventory.Component
			if res != nil {
				got = res.Components
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Analyze() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAnalyzeSelf reads the running test binary, a real Go executable, and checks it against
// what the runtime says about itself.
func TestAnalyzeSelf(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("no executable path: %v", err)
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("test binary has no build info")
	}
	res, err := analyzertest.AnalyzeFile(t, gobinary.New(gobinary.DefaultConfig()), "bin/self", exe, true)
	if err != nil {
		t.Fatal(err)
	}
	if res == nil {
		t.Fatal("no components in the test binary")
	}
	want, _ := gobinary.StdlibVersion(runtime.Version())
	found := map[string]string{}
	for _, c := range res.Components {
		found[c.Name] = c.Version
	}
	if got := found["stdlib"]; got != want {
		t.Errorf("stdlib version = %q, want %q (runtime %s)", got, want, runtime.Version())
	}
	if _, ok := found[bi.Main.Path]; !ok {
		t.Errorf("main module %q missing from %v", bi.Main.Path, found)
	}
	for _, d := range bi.Deps {
		name, version := d.Path, d.Version
		if d.Replace != nil {
			name, version = d.Replace.Path, d.Replace.Version
		}
		if got, ok := found[name]; !ok || got != version {
			t.Errorf("dependency %s: got %q (present %v), want %q", name, got, ok, version)
		}
	}
	// Test binaries record no dependencies (go test links them without a module list), so the
	// committed semvercheck fixture covers dependencies and replacements.
	if want := len(bi.Deps) + 2; len(res.Components) != want {
		t.Errorf("got %d components, want %d (main, stdlib and %d deps)", len(res.Components), want, len(bi.Deps))
	}
}

// TestAnalyzeOtherFormats builds a stdlib-only program for Windows and macOS and reads its
// build information back; it needs the go command but no module cache.
func TestAnalyzeOtherFormats(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries; skipped in -short mode")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found; PE and Mach-O are covered only where it is installed")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/hello\n\ngo 1.22\n")
	writeFile(t, filepath.Join(dir, "main.go"), "package main\n\nfunc main() { println(\"hello\") }\n")
	for _, target := range []struct{ goos, goarch, out string }{
		{"windows", "amd64", "hello.exe"},
		{"darwin", "arm64", "hello"},
	} {
		t.Run(target.goos, func(t *testing.T) {
			cmd := exec.Command(goCmd, "build", "-trimpath", "-ldflags=-s -w", "-o", target.out, ".")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOOS="+target.goos, "GOARCH="+target.goarch, "CGO_ENABLED=0",
				"GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			res, err := analyzertest.AnalyzeFile(t, gobinary.New(gobinary.DefaultConfig()),
				"app/"+target.out, filepath.Join(dir, target.out), true)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := gobinary.StdlibVersion(runtime.Version())
			wantComps := []inventory.Component{
				goComp("example.com/hello", "", true, "app/"+target.out),
				goComp("stdlib", want, false, "app/"+target.out),
			}
			if res == nil {
				t.Fatal("no result")
			}
			if diff := cmp.Diff(wantComps, res.Components); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAnalyzeHostile(t *testing.T) {
	data, err := os.ReadFile("testdata/semvercheck")
	if err != nil {
		t.Fatal(err)
	}
	a := gobinary.New(gobinary.DefaultConfig())
	inputs := map[string][]byte{
		"elf magic only": []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
		"truncated":      data[:4096],
		"java class":     []byte("\xca\xfe\xba\xbe\x00\x00\x00\x34rest of a class file"),
		"pe stub":        append([]byte("MZ"), make([]byte, 200)...),
		"empty":          nil,
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			res, err := a.Analyze(context.Background(), analyzertest.Input(t, "bin/x", in, 0o755))
			if err != nil || res != nil {
				t.Errorf("Analyze() = %v, %v; want nil, nil", res, err)
			}
		})
	}
}

func TestRequired(t *testing.T) {
	a := gobinary.New(gobinary.DefaultConfig())
	tests := []struct {
		path string
		mode os.FileMode
		size int64
		want bool
	}{
		{"usr/bin/app", 0o755, 1 << 20, true},
		{"usr/bin/app", 0o700, 1 << 20, true},
		{"usr/bin/app", 0o644, 1 << 20, false},
		{"usr/bin/tiny", 0o755, 100, false},
		{"app/tool.exe", 0o644, 1 << 20, true},
		{"app/TOOL.EXE", 0o644, 1 << 20, true},
		{"usr/bin/link", os.ModeSymlink | 0o777, 1 << 20, false},
		{"usr/lib/lib.so", 0o644, 1 << 20, false},
	}
	for _, tt := range tests {
		info := analyzertest.FileInfo{FName: tt.path, FSize: tt.size, FMode: tt.mode}
		if got := a.Required(tt.path, info); got != tt.want {
			t.Errorf("Required(%q, %v, %d) = %v, want %v", tt.path, tt.mode, tt.size, got, tt.want)
		}
	}
	if a.Required("usr/bin/app", nil) {
		t.Error("Required with nil info = true, want false")
	}
}

func TestStdlibVersion(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"go1.22.3", "v1.22.3", true},
		{"go1.21", "v1.21.0", true},
		{"go1.21rc2", "v1.21.0-rc.2", true},
		{"go1.18beta1", "v1.18.0-beta.1", true},
		{"go1.9.2rc2", "v1.9.2-rc.2", true},
		{"go1.22.0 X:boringcrypto", "v1.22.0", true},
		{"go1.20.10 (Red Hat 1.20.10-1.el9)", "v1.20.10", true},
		{"go1.22.5-microsoft", "v1.22.5", true},
		{"devel go1.23-abcdef Mon Jan 1", "", false},
		{"go1", "", false},
		{"go1.01.2", "", false},
		{"go1.2.3.4", "", false},
		{"go1.21rc", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := gobinary.StdlibVersion(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("StdlibVersion(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func BenchmarkAnalyzeSelf(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Skip(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		b.Fatal(err)
	}
	a := gobinary.New(gobinary.DefaultConfig())
	in := analyzertest.Input(b, "bin/self", data, 0o755)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Analyze(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
