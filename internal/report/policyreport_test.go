package report_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/report"
)

const blockCritical = "version: \"1.0\"\nrules:\n  - name: Block Critical\n    severity: [Critical]\n    action: block\n"

func evaluate(t *testing.T, content string, findings ...policy.Finding) (*policy.Policy, policy.Result) {
	t.Helper()
	p, err := policy.New(policy.DefaultConfig()).Compile(context.Background(), policy.Source{Format: policy.FormatYAML, Content: content})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Evaluate(context.Background(), policy.Input{ImageDigest: "sha256:deadbeef", Findings: findings})
	if err != nil {
		t.Fatal(err)
	}
	return p, res
}

// The spec §2.7 example: a Critical NVD finding reachable at runtime, under "Block Critical".
// Everything but the two content-derived values (reportId, policy digest) is the spec's text.
func TestPolicyReportSpecExample(t *testing.T) {
	p, res := evaluate(t, blockCritical, policy.Finding{ID: "finding-1", Severity: "Critical", Source: "NVD", Reachability: "runtime"})
	r, b, err := report.AssemblePolicyReport("sha256:deadbeef", report.PolicyRef{RevisionID: "rev-1", Digest: p.Digest()}, res, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if id, _ := got["reportId"].(string); !strings.HasPrefix(id, "report-") || len(id) != len("report-")+20 || id != r.ReportID {
		t.Errorf("reportId %q", got["reportId"])
	}
	got["reportId"] = "report-3def5f362aa475ef14b6"
	got["policy"].(map[string]any)["digest"] = "27d2ec2b34feedc304fc564d252ecee1c8fa14ea581a5ff5c1ea8963313d5c8d"
	var want map[string]any
	if err := json.Unmarshal([]byte(`{
	  "reportId": "report-3def5f362aa475ef14b6",
	  "imageDigest": "sha256:deadbeef",
	  "verdict": "blocked",
	  "policy": { "revisionId": "rev-1", "digest": "27d2ec2b34feedc304fc564d252ecee1c8fa14ea581a5ff5c1ea8963313d5c8d" },
	  "summary": { "total": 1, "blocked": 1, "warned": 0, "ignored": 0, "quieted": 0 },
	  "verdicts": [
	    {
	      "findingId": "finding-1",
	      "status": "Blocked",
	      "ruleName": "Block Critical",
	      "ruleAction": "Block",
	      "score": 40.5,
	      "configVersion": "1.0",
	      "inputs": {
	        "reachabilityWeight": 0.45,
	        "baseScore": 40.5,
	        "severityWeight": 90,
	        "trustWeight": 1,
	        "trustWeight.NVD": 1,
	        "reachability.runtime": 0.45
	      },
	      "quiet": false,
	      "sourceTrust": "NVD",
	      "reachability": "runtime"
	    }
	  ],
	  "issues": []
	}`), &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report (-spec +ours):\n%s", diff)
	}
	if !strings.HasPrefix(string(b), `{"imageDigest":"sha256:deadbeef","issues":[],"policy":{`) {
		t.Errorf("not canonical JSON: %.80s", b)
	}
}

// The same findings and policy give the same bytes; any change of verdict changes the id.
func TestPolicyReportDeterministic(t *testing.T) {
	f := []policy.Finding{{ID: "b", Severity: "High", Source: "GHSA"}, {ID: "a", Severity: "Critical", Source: "NVD"}}
	p, res1 := evaluate(t, blockCritical, f...)
	_, res2 := evaluate(t, blockCritical, f[1], f[0])
	ref := report.PolicyRef{RevisionID: "rev-1", Digest: p.Digest()}
	r1, b1, err := report.AssemblePolicyReport("sha256:abc", ref, res1, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, b2, _ := report.AssemblePolicyReport("sha256:abc", ref, res2, nil)
	if string(b1) != string(b2) {
		t.Errorf("two assemblies differ:\n%s\n%s", b1, b2)
	}
	if r1.Verdicts[0].FindingID != "a" || r1.Verdict != "blocked" {
		t.Errorf("report %+v", r1)
	}
	_, res3 := evaluate(t, "version: \"1.0\"\nrules: []\n", f...)
	r3, _, _ := report.AssemblePolicyReport("sha256:abc", ref, res3, nil)
	if r3.ReportID == r1.ReportID {
		t.Error("a different verdict kept the same reportId")
	}
	if _, _, err := report.AssemblePolicyReport("", ref, res1, nil); err == nil {
		t.Error("no image digest: no error")
	}
}
