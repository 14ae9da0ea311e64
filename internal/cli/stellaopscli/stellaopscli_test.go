package stellaopscli_test

import (
	"bytes"
	"context"
	"encoding/json"
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

// TestScanRun scans the real postgres-stretch SBOM with the bundled advisories: the first run seeds
// the snapshot from the bundled data; results and scan-run metadata land in the results directory.
func TestScanRun(t *testing.T) {
	data, results := t.TempDir(), t.TempDir()
	sbomFile := "../../report/testdata/postgres-stretch.cdx.xml.gz"
	code, out, stderr := run(t, data, "scan", "run", "--target", sbomFile, "--results-dir", results, "-f", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "Built the advisory snapshot") {
		t.Errorf("first run did not say it built the snapshot: %q", stderr)
	}
	var res struct {
		Snapshot struct{ Digest string } `json:"snapshot"`
		Findings []struct {
			ID      string   `json:"id"`
			Aliases []string `json:"aliases"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 13 || !strings.HasPrefix(res.Snapshot.Digest, "sha256:") {
		t.Fatalf("findings = %d, snapshot %q", len(res.Findings), res.Snapshot.Digest)
	}
	files, _ := filepath.Glob(filepath.Join(results, "*.json"))
	if len(files) != 2 {
		t.Fatalf("results dir holds %v", files)
	}
	var meta struct {
		Runner   string `json:"runner"`
		ExitCode int    `json:"exitCode"`
		Artefact struct {
			Path, Digest string
		} `json:"artefact"`
		Summary map[string]int `json:"summary"`
	}
	b, _ := os.ReadFile(filepath.Join(results, filepath.Base(files[1])))
	if !strings.HasPrefix(filepath.Base(files[1]), "scan-run-") {
		b, _ = os.ReadFile(files[0])
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Runner != "self" || meta.ExitCode != 0 || meta.Summary["Unknown"] != 13 || !strings.HasPrefix(meta.Artefact.Digest, "sha256:") {
		t.Errorf("metadata = %+v", meta)
	}
	art, err := os.ReadFile(meta.Artefact.Path)
	if err != nil || !strings.Contains(string(art), `"schemaVersion": "stellaops.scan-result/v1"`) {
		t.Errorf("artefact %s: %v", meta.Artefact.Path, err)
	}

	// Second run: snapshot reused, SARIF to a file, another pair of result files.
	sarif := filepath.Join(t.TempDir(), "out.sarif")
	code, _, stderr = run(t, data, "scan", "run", "--target", sbomFile, "--results-dir", results, "-f", "sarif", "-o", sarif)
	if code != 0 || strings.Contains(stderr, "Built the advisory snapshot") {
		t.Fatalf("second run: exit %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(sarif); !strings.Contains(string(b), `"version": "2.1.0"`) {
		t.Error("SARIF output missing")
	}
	if files, _ := filepath.Glob(filepath.Join(results, "*.json")); len(files) != 4 {
		t.Errorf("after two runs results dir holds %d files, want 4", len(files))
	}

	// The image target works the same way, and finds nothing in alpine 3.10 (no Alpine data bundled).
	code, out, stderr = run(t, data, "scan", "run", "--target", alpine, "--results-dir", results)
	if code != 0 || !strings.Contains(out, "No known vulnerabilities.") || !strings.Contains(out, "Components: 14") {
		t.Errorf("alpine: exit %d, %s %s", code, out, stderr)
	}
}

func TestScanRunErrors(t *testing.T) {
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"scan", "run"}, 2, "--target is required"},
		{[]string{"scan", "run", "--target", alpine, "-f", "html"}, 2, `unknown --format "html"`},
		{[]string{"scan", "run", "--target", alpine, "--runner", "docker"}, 2, "--runner docker needs --entry"},
		{[]string{"scan", "run", "--target", alpine, "--runner", "docker", "--entry", "img"}, 2, "the docker runner scans a directory"},
		{[]string{"scan", "run", "--target", alpine, "--runner", "podman"}, 2, `--runner "podman": want docker, dotnet or self`},
	}
	for _, c := range cases {
		code, _, stderr := run(t, t.TempDir(), c.args...)
		if code != c.code || !strings.Contains(stderr, c.stderr) {
			t.Errorf("%v: exit %d, %q; want %d containing %q", c.args, code, stderr, c.code, c.stderr)
		}
	}
	// A failed scan still records its run.
	results := t.TempDir()
	code, _, stderr := run(t, t.TempDir(), "scan", "run", "--target", "./missing.tar", "--results-dir", results)
	files, _ := filepath.Glob(filepath.Join(results, "scan-run-*.json"))
	if code != 1 || len(files) != 1 {
		t.Fatalf("exit %d (%s), run files %v", code, stderr, files)
	}
	b, _ := os.ReadFile(files[0])
	if !strings.Contains(string(b), `"exitCode": 1`) || !strings.Contains(string(b), "no such file") {
		t.Errorf("failed run metadata: %s", b)
	}
}
