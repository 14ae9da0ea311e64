package stellaopscli_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/bomindex"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stellaopscli"
	"github.com/stellaops/stellaops/internal/sbom"
)

var update = flag.Bool("update", false, "rewrite golden files")

const alpine = "../../../testdata/images/alpine-3.10.4.docker-save.tar.gz"

// run executes stellaops-cli in-process and returns its exit code, stdout and stderr.
func run(t *testing.T, data string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"SOURCE_DATE_EPOCH": "1767225600"} // 2026-01-01T00:00:00Z
	ctx := context.Background()
	err := stellaopscli.Run(ctx, append([]string{"--data", data}, args...), cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb},
		func(k string) string { return env[k] })
	code := cli.Code(ctx, err, &errb, "stellaops-cli")
	return code, out.String(), errb.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestGenerateTableAndCycloneDX(t *testing.T) {
	data := t.TempDir()
	code, out, stderr := run(t, data, "sbom", "generate", alpine)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "alpine.table.golden", out)

	code, cdx, stderr := run(t, data, "sbom", "generate", alpine, "--format", "cyclonedx-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "alpine.cdx.json.golden", cdx)
	// The second run came from the layer cache; the bytes are the same.
	if _, again, _ := run(t, data, "sbom", "generate", alpine, "-f", "cyclonedx-json"); again != cdx {
		t.Error("CycloneDX output differs between runs")
	}
	entries, _ := filepath.Glob(filepath.Join(data, "cache", "layers", "*", "*.bin"))
	if len(entries) != 1 {
		t.Errorf("layer cache entries = %v, want one", entries)
	}
	inv, err := sbom.NewDecoder(sbom.DefaultConfig()).Decode(context.Background(), strings.NewReader(cdx), sbom.FormatAuto)
	if err != nil || len(inv.Components) != 14 || inv.Distro.VersionID != "3.10.4" {
		t.Fatalf("our CycloneDX reads back as %d components, distro %+v, err %v", len(inv.Components), inv.Distro, err)
	}
}

func TestGenerateConvertsSBOMs(t *testing.T) {
	data := t.TempDir()
	spdx := filepath.Join(t.TempDir(), "alpine.spdx.json")
	if code, _, stderr := run(t, data, "sbom", "generate", alpine, "-f", "spdx-json", "-o", spdx); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, out, stderr := run(t, data, "sbom", "generate", spdx, "-f", "table")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "Components: 14") || !strings.Contains(out, "libssl1.1               1.1.1d-r2    apk   openssl") {
		t.Errorf("SPDX round trip table:\n%s", out)
	}
}

func TestGenerateBOMIndex(t *testing.T) {
	bi := filepath.Join(t.TempDir(), "alpine.bomidx")
	if code, _, stderr := run(t, t.TempDir(), "sbom", "generate", alpine, "-f", "spdx-json", "-o", os.DevNull, "--bom-index", bi); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := os.Open(bi)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	idx, err := bomindex.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Layers) != 1 || len(idx.Components) != 14 || !cmp.Equal(idx.Components[0].Layers, []uint32{0}) {
		t.Errorf("bom-index: %d layers, %d components, first %+v", len(idx.Layers), len(idx.Components), idx.Components[0])
	}
}

func TestGenerateErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"missing file", []string{"sbom", "generate", "./missing.tar", "-o", out}, 1, "no such file or directory"},
		{"not an sbom", []string{"sbom", "generate", "stellaopscli_test.go", "-o", out}, 1, "unrecognised SBOM"},
		{"bad format", []string{"sbom", "generate", alpine, "-f", "xml"}, 2, `unknown --format "xml"`},
		{"bad sbom type", []string{"sbom", "generate", alpine, "--sbom-type", "swid"}, 2, "--sbom-type"},
		{"no target", []string{"sbom", "generate"}, 2, "accepts 1 arg"},
		{"unknown flag", []string{"sbom", "generate", alpine, "--bogus"}, 2, "unknown flag: --bogus"},
		{"hostile image", []string{"sbom", "generate", "../../../testdata/images/osv-scalibr/symlink-attack.tar", "-o", out}, 1, "points outside the root"},
		{"sbom-only bom-index", []string{"sbom", "generate", "testdata/alpine.cdx.json.golden", "--bom-index", out}, 2, "--bom-index needs an image"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := run(t, t.TempDir(), c.args...)
			if code != c.code || !strings.Contains(stderr, c.stderr) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line containing %q", code, stderr, c.code, c.stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a failed run left %s behind", out)
			}
		})
	}
}
