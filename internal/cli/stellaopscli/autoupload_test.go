package stellaopscli_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
)

// TestScanRunUploadsOnSuccess: with a backend configured, a successful scan run uploads its
// artefact and the server has the scan; with the server down the run still succeeds, warns,
// and names the scan upload command that retries; --no-upload keeps it local. The results
// directory comes from StellaOps:ResultsDirectory.
func TestScanRunUploadsOnSuccess(t *testing.T) {
	e := newCLIEnv(t, servertest.Config(), server.Options{DataDir: servertest.SnapshotDataDir(t)})
	e.identity("ci", "stella.api", "scanner.scans.enqueue", "scanner.scans.read")
	results := t.TempDir()
	e.vars["STELLAOPS_RESULTSDIRECTORY"] = results
	sbomPath := filepath.Join("..", "..", "..", "testdata", "sbom", "postgres-stretch.cdx.xml.gz")

	code, _, stderr := e.run("scan", "run", "--target", sbomPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m := regexp.MustCompile(`Uploaded to \S+: scan ([0-9a-f]{32})\.`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no upload reported: %q", stderr)
	}
	runs, _ := filepath.Glob(filepath.Join(results, "scan-run-*.json"))
	if len(runs) != 1 {
		t.Fatalf("scan-run files in StellaOps:ResultsDirectory: %v", runs)
	}
	// The uploaded scan is on the server, with the run's 13 findings.
	code, out, stderr := e.run("scan", "upload", "--file", runs[0], "--json")
	if code != 0 || !strings.Contains(out, m[1]) {
		t.Fatalf("the same artefact again should name scan %s: exit %d %s %s", m[1], code, out, stderr)
	}

	if code, _, stderr := e.run("scan", "run", "--target", sbomPath, "--no-upload"); code != 0 || strings.Contains(stderr, "Uploaded") {
		t.Errorf("--no-upload: exit %d: %q", code, stderr)
	}
	e.srv.Stop(t)
	code, _, stderr = e.run("scan", "run", "--target", sbomPath)
	if code != 0 || !strings.Contains(stderr, "retry with: stellaops-cli scan upload --file "+results) {
		t.Errorf("server down: exit %d: %q", code, stderr)
	}
}
