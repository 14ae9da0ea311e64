package stellaopscli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

const stretchSBOM = "../../report/testdata/postgres-stretch.cdx.xml.gz"

// uploadEnv is a server with the bundled advisory snapshot (the one `scan run` builds locally)
// and a CLI that may post and read scans.
func uploadEnv(t *testing.T, cfg server.Config) *cliEnv {
	e := newCLIEnv(t, cfg, server.Options{DataDir: servertest.SnapshotDataDir(t)})
	e.data = servertest.SnapshotDataDir(t)
	e.identity("ci-bot", authority.ScopeScansEnqueue, authority.ScopeScansRead)
	return e
}

// TestScanUpload re-uploads what `scan run` left in its results directory, and the SBOM it
// scanned: the server re-matches the inventory against the same snapshot and finds the same.
func TestScanUpload(t *testing.T) {
	e := uploadEnv(t, servertest.Config())
	results := t.TempDir()
	if code, _, stderr := e.run("scan", "run", "--target", stretchSBOM, "--results-dir", results, "-f", "json", "-o", os.DevNull); code != 0 {
		t.Fatalf("scan run: exit %d: %s", code, stderr)
	}
	runs, _ := filepath.Glob(filepath.Join(results, "scan-run-*.json"))
	if len(runs) != 1 {
		t.Fatalf("results: %v", runs)
	}
	var meta struct {
		Snapshot string
		Summary  struct{ Unknown int }
		Artefact struct{ Path string }
	}
	b, _ := os.ReadFile(runs[0])
	if err := json.Unmarshal(b, &meta); err != nil || meta.Summary.Unknown != 13 {
		t.Fatalf("scan-run metadata %s: %v", b, err)
	}

	summary := regexp.MustCompile(`(?m)^Findings: 13 \(Critical 0, High 0, Medium 0, Low 0, Unknown 13\)$`)
	for _, c := range []struct{ file, what string }{
		{runs[0], "Uploaded the inventory of scan result " + meta.Artefact.Path},
		{meta.Artefact.Path, "Uploaded the inventory of scan result " + meta.Artefact.Path},
		{stretchSBOM, "Uploaded file " + stretchSBOM},
	} {
		code, out, stderr := e.run("scan", "upload", "--file", c.file)
		if code != 0 || !strings.Contains(out, c.what) || !summary.MatchString(out) || !strings.Contains(out, "Snapshot: "+meta.Snapshot) ||
			!strings.Contains(out, "Policy:   pass (no active policy: blocks at Critical)") || !strings.Contains(out, "Quota:    ") {
			t.Errorf("upload %s: exit %d\n%s%s", c.file, code, out, stderr)
		}
	}

	// --json is the server's answer; --threshold reaches the server.
	code, out, stderr := e.run("scan", "upload", "--file", stretchSBOM, "--json", "--threshold", "LOW")
	var done client.ScanCompleted
	if err := json.Unmarshal([]byte(out), &done); err != nil || code != 0 || !strings.HasPrefix(done.Digest, "sha256:") || !strings.EqualFold(done.Policy.Threshold, "low") {
		t.Errorf("--json: exit %d, %v\n%s%s", code, err, out, stderr)
	}

	// A policy block is reported, not an upload failure: exit 0 (the CI gate is stella's).
	cookie := filepath.Join(t.TempDir(), "cookie.cdx.json")
	if err := os.WriteFile(cookie, []byte(`{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [
  {"type": "library", "name": "cookie", "version": "0.6.1", "purl": "pkg:cargo/cookie@0.6.1"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = e.run("scan", "upload", "--file", cookie, "--threshold", "high")
	if code != 0 || !strings.Contains(out, "Policy:   blocked (no active policy: blocks at High)") || !strings.Contains(out, "Findings: 1 (Critical 0, High 1,") {
		t.Errorf("blocked upload: exit %d\n%s%s", code, out, stderr)
	}

	// An artefact changed since its run is not sent.
	if err := os.WriteFile(meta.Artefact.Path, append(b, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = e.run("scan", "upload", "--file", runs[0])
	if code != 1 {
		t.Errorf("changed artefact: exit %d", code)
	}
	oneLine(t, "changed artefact", stderr, "it changed since the run")

	notAnSBOM := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notAnSBOM, []byte("just some notes, long enough not to be taken for an upload URL\n"+strings.Repeat("x", 9000)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "--file is required"},
		{[]string{"--file", filepath.Join(results, "missing.json")}, 2, "--file: open "},
		{[]string{"--file", results}, 2, "is a directory"},
		{[]string{"--file", stretchSBOM, "--threshold", "severe"}, 2, `--threshold "severe"`},
		{[]string{"--file", stretchSBOM, "--sbom-type", "swid"}, 2, "--sbom-type: unknown SBOM format"},
		{[]string{"--file", notAnSBOM}, 1, "scan upload: HTTP 415: the body is neither an image archive"},
	} {
		code, _, stderr := e.run(append([]string{"scan", "upload"}, c.args...)...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d", c.args, code, c.code)
		}
		oneLine(t, strings.Join(c.args, " "), stderr, c.msg)
	}

	e.srv.Stop(t)
	code, _, stderr = e.run("scan", "upload", "--file", stretchSBOM)
	if code != 1 {
		t.Errorf("server down: exit %d", code)
	}
	oneLine(t, "server down", stderr, "scan upload: cannot reach the server")
}

// TestScanUploadQueued: an image archive that outlasts the server's sync budget is queued
// (202); --wait follows the scan to its result.
func TestScanUploadQueued(t *testing.T) {
	cfg := servertest.Config()
	cfg.Scanner.SyncBudget = time.Nanosecond
	e := uploadEnv(t, cfg)
	code, out, stderr := e.run("scan", "upload", "--file", alpine)
	if code != 0 || !regexp.MustCompile(`Scan \S+ queued \(\w+\): /api/v1/scans/\S+\n`).MatchString(out) || !strings.Contains(out, "--wait") {
		t.Errorf("queued upload: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = e.run("scan", "upload", "--file", alpine, "--wait", "--poll-interval", "20ms")
	if code != 0 || !strings.Contains(out, "Findings: 0 (Critical 0") || !strings.Contains(out, "Policy:   pass") {
		t.Errorf("queued upload with --wait: exit %d\n%s%s", code, out, stderr)
	}
}
