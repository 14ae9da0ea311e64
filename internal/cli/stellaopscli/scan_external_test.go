package stellaopscli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
)

// fakeScanner puts an executable called name on PATH that records its arguments in <dir>/args,
// writes a diagnostic to stderr, prints sbom to stdout and exits with code.
func fakeScanner(t *testing.T, name, sbom string, code int) string {
	t.Helper()
	bin := t.TempDir()
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + filepath.Join(bin, "args") + "\necho 'scanner: analysing /src' >&2\n"
	if sbom != "" {
		script += "gzip -dc " + sbom + "\n"
	}
	script += "exit " + strconv.Itoa(code) + "\n"
	if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return bin
}

// TestScanRunExternalRunners: the docker and dotnet runners run the scanner as the help says,
// record its standard error and arguments in the scan-run envelope, keep its standard output as
// the artefact and upload it on exit 0; a scanner's non-zero exit code is the command's, and
// nothing is uploaded then.
func TestScanRunExternalRunners(t *testing.T) {
	e := newCLIEnv(t, servertest.Config(), server.Options{DataDir: servertest.SnapshotDataDir(t)})
	e.identity("ci", "stella.api", "scanner.scans.enqueue", "scanner.scans.read")
	results := t.TempDir()
	e.vars["STELLAOPS_RESULTSDIRECTORY"] = results
	sbom, err := filepath.Abs(filepath.Join("..", "..", "..", "testdata", "sbom", "postgres-stretch.cdx.xml.gz"))
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()

	bin := fakeScanner(t, "docker", sbom, 0)
	code, out, stderr := e.run("scan", "run", "--runner", "docker", "--entry", "registry.local/stellaops/scanner:1", "--target", target, "--", "--format", "cyclonedx")
	if code != 0 || !strings.Contains(out, "Scan run recorded in") || !regexp.MustCompile(`Uploaded to \S+: scan [0-9a-f]{32}\.`).MatchString(stderr) {
		t.Fatalf("docker runner: exit %d\n%s%s", code, out, stderr)
	}
	args, _ := os.ReadFile(filepath.Join(bin, "args"))
	want := "run\n--rm\n--network\nnone\n-v\n" + target + ":/src:ro\nregistry.local/stellaops/scanner:1\n--format\ncyclonedx\n"
	if string(args) != want {
		t.Errorf("docker called with\n%s\nwant\n%s", args, want)
	}
	runs, _ := filepath.Glob(filepath.Join(results, "scan-run-*.json"))
	if len(runs) != 1 {
		t.Fatalf("scan-run files: %v", runs)
	}
	var meta struct {
		Runner    string
		Arguments []string
		ExitCode  int
		Stderr    string
		Artefact  struct{ Path string }
	}
	b, _ := os.ReadFile(runs[0])
	if err := json.Unmarshal(b, &meta); err != nil || meta.Runner != "docker" || meta.Arguments[0] != "docker" || meta.ExitCode != 0 ||
		!strings.Contains(meta.Stderr, "scanner: analysing /src") {
		t.Fatalf("envelope %s (%v)", b, err)
	}
	if a, _ := os.ReadFile(meta.Artefact.Path); !strings.Contains(string(a), "<bom") {
		t.Errorf("the artefact is not the scanner's output: %.100s", a)
	}

	// dotnet: the entry assembly and the target, and a failing scanner's exit code propagates.
	bin = fakeScanner(t, "dotnet", "", 3)
	code, _, stderr = e.run("scan", "run", "--runner", "dotnet", "--entry", "Scanner.dll", "--target", target)
	if code != 3 || strings.Contains(stderr, "Uploaded") || !strings.Contains(stderr, "dotnet exited with code 3") {
		t.Fatalf("dotnet runner failing: exit %d\n%s", code, stderr)
	}
	if args, _ := os.ReadFile(filepath.Join(bin, "args")); string(args) != "Scanner.dll\n--target\n"+target+"\n" {
		t.Errorf("dotnet called with %q", args)
	}
	// DefaultRunner from the configuration.
	e.vars["STELLAOPS_DEFAULTRUNNER"] = "dotnet"
	if code, _, stderr := e.run("scan", "run", "--entry", "Scanner.dll", "--target", target); code != 3 {
		t.Errorf("DefaultRunner dotnet: exit %d %s", code, stderr)
	}
}
