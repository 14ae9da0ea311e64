package stellaopscli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const postgresStretch = "../../../testdata/sbom/postgres-stretch.cdx.xml.gz"

// A policy that quiets one runc CVE when a VEX statement says it is not reachable, and blocks the
// rest of runc.
const runcPolicy = `version: "1.0"
rules:
  - name: Waive with VEX
    vulnerabilities: [CVE-2024-21626]
    action:
      type: requireVex
      requireVex: {justifications: [vulnerable_code_not_in_execute_path]}
      quiet: true
      justification: vendor statement
  - name: Block runc
    packages: ["pkg:golang/github.com/opencontainers/runc@*"]
    action: block
`

// An OpenVEX document about runc 1.0.1: CVE-2024-21626 is not affected.
const runcVEX = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/runc-1",
  "author": "Example Vendor",
  "timestamp": "2026-01-02T03:04:05Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2024-21626"},
    "products": [{"@id": "pkg:golang/github.com/opencontainers/runc@v1.0.1"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }]
}`

type verdict struct {
	FindingID, Status, RuleName, QuietedBy string
	Quiet                                  bool
}

type signedReport struct {
	Valid  bool
	KeyID  string
	Report struct {
		ReportID, ImageDigest, Verdict string
		Summary                        map[string]int
		Verdicts                       []verdict
	}
}

func TestScanPolicyVEXSignedReport(t *testing.T) {
	data, dir := t.TempDir(), t.TempDir()
	pol, vexDoc := filepath.Join(dir, "policy.yaml"), filepath.Join(dir, "runc.openvex.json")
	os.WriteFile(pol, []byte(runcPolicy), 0o644)
	os.WriteFile(vexDoc, []byte(runcVEX), 0o644)
	scanArgs := func(reportFile string) []string {
		return []string{"scan", "run", "--target", postgresStretch, "-f", "json", "--results-dir", filepath.Join(dir, "results"),
			"--policy-file", pol, "--vex", vexDoc, "--report", reportFile}
	}
	rep1 := filepath.Join(dir, "report1.dsse.json")
	code, out, stderr := run(t, data, scanArgs(rep1)...)
	if code != 0 {
		t.Fatalf("scan: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "Policy blocked: 13 findings, 10 blocked, 0 warned, 0 ignored, 1 quieted") ||
		!strings.Contains(stderr, "VEX: 1 not_affected") {
		t.Errorf("stderr: %s", stderr)
	}
	// The scan result records the VEX decision on the finding, and keeps the finding.
	var res struct {
		Findings []struct {
			ID  string
			VEX *struct{ Status, Issuer, Document string }
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	vexed := 0
	for _, f := range res.Findings {
		if f.VEX != nil {
			vexed++
			if f.ID != "CVE-2024-21626" || f.VEX.Status != "not_affected" || f.VEX.Issuer != "Example Vendor" || f.VEX.Document != vexDoc {
				t.Errorf("VEX on %s: %+v", f.ID, f.VEX)
			}
		}
	}
	if len(res.Findings) != 13 || vexed != 1 {
		t.Errorf("%d findings, %d with VEX", len(res.Findings), vexed)
	}

	// The envelope verifies with the data directory's keyring and says what the policy decided.
	code, out, stderr = run(t, data, "report", "verify", rep1)
	if code != 0 {
		t.Fatalf("verify: exit %d %s %s", code, out, stderr)
	}
	var sr signedReport
	if err := json.Unmarshal([]byte(out), &sr); err != nil {
		t.Fatal(err)
	}
	if !sr.Valid || sr.Report.Verdict != "blocked" || sr.Report.Summary["quieted"] != 1 || sr.Report.Summary["blocked"] != 10 ||
		!strings.HasPrefix(sr.Report.ImageDigest, "sha256:") {
		t.Errorf("verified report: %+v", sr)
	}
	for _, v := range sr.Report.Verdicts {
		switch {
		case strings.HasPrefix(v.FindingID, "CVE-2024-21626 "):
			if v.Status != "Quieted" || !v.Quiet || v.QuietedBy != "Waive with VEX" {
				t.Errorf("VEX-waived finding: %+v", v)
			}
		case strings.Contains(v.FindingID, "opencontainers/runc"):
			if v.Status != "Blocked" || v.RuleName != "Block runc" {
				t.Errorf("runc finding: %+v", v)
			}
		default:
			if v.Status != "Pass" {
				t.Errorf("x/sys finding: %+v", v)
			}
		}
	}

	// A second run in another process state gives the same envelope, byte for byte.
	rep2 := filepath.Join(dir, "report2.dsse.json")
	if code, _, stderr := run(t, data, scanArgs(rep2)...); code != 0 {
		t.Fatalf("second scan: %s", stderr)
	}
	b1, _ := os.ReadFile(rep1)
	b2, _ := os.ReadFile(rep2)
	if len(b1) == 0 || !bytes.Equal(b1, b2) {
		t.Error("two runs over the same inputs signed different envelopes")
	}

	// One changed byte of the payload fails verification (exit 1).
	i := bytes.Index(b1, []byte(`"payload":"`)) + len(`"payload":"`) + 10
	tampered := bytes.Clone(b1)
	tampered[i] ^= 0x01
	if tampered[i] == '"' || tampered[i] == '\\' {
		tampered[i] = 'A'
	}
	bad := filepath.Join(dir, "tampered.dsse.json")
	os.WriteFile(bad, tampered, 0o644)
	if code, out, _ := run(t, data, "report", "verify", bad); code != 1 || !strings.Contains(out, `"valid": false`) {
		t.Errorf("tampered report: exit %d %s", code, out)
	}
}

// An hs256 secret given with --signing-key, verified offline with the same secret.
func TestScanReportWithHMACKey(t *testing.T) {
	data, dir := t.TempDir(), t.TempDir()
	secret := filepath.Join(dir, "report.key")
	os.WriteFile(secret, []byte("c3RlbGxhb3BzLXRlc3Qtc2VjcmV0LW5vdC1mb3ItcHJvZHVjdGlvbg==\n"), 0o600)
	rep := filepath.Join(dir, "r.dsse.json")
	if code, _, stderr := run(t, data, "scan", "run", "--target", postgresStretch, "--results-dir", filepath.Join(dir, "results"),
		"--report", rep, "--signing-key", secret); code != 0 {
		t.Fatalf("scan: %s", stderr)
	}
	if code, out, _ := run(t, t.TempDir(), "report", "verify", rep, "--key", secret); code != 0 ||
		!strings.Contains(out, `"keyId": "scanner-report-signing"`) || !strings.Contains(out, `"algorithm": "hs256"`) {
		t.Errorf("verify with the secret: exit %d %s", code, out)
	}
	other := filepath.Join(dir, "other.key")
	os.WriteFile(other, []byte("b3RoZXItc2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OTA=\n"), 0o600)
	if code, _, _ := run(t, t.TempDir(), "report", "verify", rep, "--key", other); code != 1 {
		t.Errorf("verify with another secret: exit %d", code)
	}
	if code, _, _ := run(t, data, "report", "verify", filepath.Join(dir, "missing.json")); code != 2 {
		t.Errorf("missing file: exit %d", code)
	}
}
