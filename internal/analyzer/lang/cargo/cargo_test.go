package cargo_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/cargo"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
	"github.com/stellaops/stellaops/internal/inventory"
)

func crate(name, version string, direct bool, loc string) inventory.Component {
	return inventory.Component{
		Ecosystem: inventory.EcosystemCargo, Name: name, Version: version, Direct: direct, Locations: []string{loc},
	}
}

func TestAnalyze(t *testing.T) {
	const bin = "usr/local/bin/uses_json"
	const lock = "app/Cargo.lock"
	langtest.Run(t, cargo.New(cargo.DefaultConfig()), []langtest.Case{
		{Name: "v1 with metadata", File: "testdata/v1.Cargo.lock", Path: lock, Golden: "testdata/v1.golden.json"},
		{Name: "v2", File: "testdata/v2.Cargo.lock", Path: lock, Golden: "testdata/v2.golden.json"},
		{Name: "v3 git deps", File: "testdata/v3-git.Cargo.lock", Path: lock, Golden: "testdata/v3-git.golden.json"},
		{Name: "v3 workspace", File: "testdata/v3-workspace.Cargo.lock", Path: lock, Golden: "testdata/v3-workspace.golden.json"},
		{
			Name: "v3 path deps", File: "testdata/v3-path-deps.Cargo.lock", Path: lock,
			Want: []inventory.Component{
				crate("app", "1.0.0", true, lock),
				crate("memchr", "2.7.4", true, lock),
				crate("telemetry", "0.1.0", true, lock),
			},
		},
		{Name: "v4", File: "testdata/v4.Cargo.lock", Path: lock, Golden: "testdata/v4.golden.json"},
		{Name: "not toml", File: "testdata/not-toml.Cargo.lock", Path: lock, WantErr: true},
		{
			Name: "cargo-auditable binary", File: "testdata/uses_serde_json", Path: bin, Exec: true,
			Want: []inventory.Component{
				crate("itoa", "1.0.14", false, bin),
				crate("memchr", "2.7.4", false, bin),
				crate("proc-macro2", "1.0.92", false, bin),
				crate("quote", "1.0.38", false, bin),
				crate("ryu", "1.0.18", false, bin),
				crate("serde", "1.0.217", false, bin),
				crate("serde_derive", "1.0.217", false, bin),
				crate("serde_json", "1.0.135", false, bin),
				crate("syn", "2.0.95", false, bin),
				crate("unicode-ident", "1.0.14", false, bin),
				crate("uses_json", "0.1.0", true, bin),
			},
		},
		{Name: "rust binary without audit data", File: "testdata/rhello-no-audit", Path: bin, Exec: true},
		{Name: "text file with an execute bit", File: "testdata/v1.Cargo.lock", Path: bin, Exec: true},
	})
}

// TestAuditSectionAddedByObjcopy adds a .dep-v0 section to a real Rust binary the way
// cargo-auditable's format describes it (zlib-compressed JSON), with objcopy, and reads it
// back; it includes a build-time dependency that must be dropped.
func TestAuditSectionAddedByObjcopy(t *testing.T) {
	objcopy, err := exec.LookPath("objcopy")
	if err != nil {
		t.Skip("objcopy not found; the committed cargo-auditable binary still covers the parser")
	}
	dir := t.TempDir()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(`{"packages":[{"name":"cc","version":"1.2.16","source":"crates.io","kind":"build"},` +
		`{"name":"libc","version":"0.2.171","source":"crates.io"},` +
		`{"name":"rhello","version":"0.1.0","source":"local","dependencies":[0,1],"root":true}]}`))
	zw.Close()
	dep := filepath.Join(dir, "dep.z")
	if err := os.WriteFile(dep, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "rhello")
	cmd := exec.Command(objcopy, "--add-section", ".dep-v0="+dep, "--set-section-flags", ".dep-v0=noload,readonly",
		"testdata/rhello-no-audit", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, b)
	}
	res, err := analyzertest.AnalyzeFile(t, cargo.New(cargo.DefaultConfig()), "bin/rhello", out, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.Component{crate("libc", "0.2.171", false, "bin/rhello"), crate("rhello", "0.1.0", true, "bin/rhello")}
	if res == nil {
		t.Fatal("no result")
	}
	if diff := cmp.Diff(want, res.Components); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestAuditDataHostile(t *testing.T) {
	compress := func(s string) []byte {
		var b bytes.Buffer
		zw := zlib.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	bomb := compress(string(make([]byte, 1<<20)))
	tests := map[string][]byte{
		"not zlib":       []byte("{}"),
		"truncated":      compress(`{"packages":[{"name":"a","version":"1"}]}`)[:12],
		"bad json":       compress(`{"packages":[{"name":`),
		"over the limit": bomb,
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := cargo.ParseAuditData(context.Background(), bytes.NewReader(data), "x", 64<<10, 10)
			if err == nil {
				t.Error("ParseAuditData() succeeded, want an error")
			}
		})
	}
}

func TestLockfileLimits(t *testing.T) {
	b, err := os.ReadFile("testdata/v1.Cargo.lock")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cargo.ParseLockfile(context.Background(), b, "Cargo.lock", 10); err == nil {
		t.Error("ParseLockfile() over the package limit succeeded")
	}
	a := cargo.New(cargo.Config{MaxLockfileSize: 100, MaxPackages: 10})
	if _, err := a.Analyze(context.Background(), analyzertest.Input(t, "Cargo.lock", b, 0o644)); err == nil {
		t.Error("Analyze() over the size limit succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cargo.ParseLockfile(ctx, b, "Cargo.lock", 1000); err == nil {
		t.Error("ParseLockfile() with a cancelled context succeeded")
	}
}

func TestRequired(t *testing.T) {
	langtest.RunRequired(t, cargo.New(cargo.DefaultConfig()), []langtest.RequiredCase{
		{Path: "app/Cargo.lock", Want: true},
		{Path: "Cargo.lock", Want: true},
		{Path: "usr/local/cargo/registry/src/index.crates.io-6f17d22bba15001f/foo-1.0.0/Cargo.lock", Want: false},
		{Path: "root/.cargo/git/checkouts/foo-123/abc/Cargo.lock", Want: false},
		{Path: "app/Cargo.toml", Want: false},
		{Path: "app/cargo.lock", Want: false},
		{Path: "usr/local/bin/app", Mode: 0o755, Want: true},
		{Path: "usr/local/bin/app", Mode: 0o755, Size: 10, Want: false},
		{Path: "app/tool.exe", Want: true},
		{Path: "usr/lib/libfoo.so", Want: false},
	})
}

func BenchmarkAuditable(b *testing.B) {
	data, err := os.ReadFile("testdata/uses_serde_json")
	if err != nil {
		b.Fatal(err)
	}
	a := cargo.New(cargo.DefaultConfig())
	in := langtest.Input("bin/uses_json", data, 0o755)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Analyze(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
