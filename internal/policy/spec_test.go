package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/policy"
)

// The spec's §2.3 diagnostics example: the same request gives the same body, generatedAt
// included because the clock is the example's.
func TestSpecDiagnosticsExample(t *testing.T) {
	var req policy.DiagnosticsRequest
	decodeFile(t, "spec/diagnostics-request.json", &req)
	got, err := newEngine(t).Diagnose(context.Background(), req.Policy)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, got, readFile(t, "spec/diagnostics-response.json"))
}

// The spec's §2.3 preview example. Its score (5.0 from a severityWeight of 5.0 for a
// Critical finding, no trust or reachability input) cannot come from the same defaults as the
// §2.7 report (severityWeight 90 for Critical), so it is reproduced with the scoring that
// produced it: Critical weighs 5 and neither sources nor reachability are weighted. Only the
// digest, truncated in the spec ("9c5e..."), is ours.
func TestSpecPreviewExample(t *testing.T) {
	cfg := policy.DefaultConfig()
	cfg.Scoring = policy.Scoring{SeverityWeights: map[policy.Level]float64{policy.LevelCritical: 5}}
	e := policy.New(cfg)
	var req policy.PreviewRequest
	decodeFile(t, "spec/preview-request.json", &req)
	got, err := e.Preview(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(got.PolicyDigest) {
		t.Fatalf("policyDigest %q is not a sha256 hex digest", got.PolicyDigest)
	}
	want := readFile(t, "spec/preview-response.json")
	var w map[string]any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	w["policyDigest"] = got.PolicyDigest
	want, _ = json.Marshal(w)
	assertJSON(t, got, want)
}

// The §2.7 report verdict comes from the default scoring: Critical 90 × NVD 1 × runtime 0.45.
func TestSpecReportVerdicts(t *testing.T) {
	var req policy.PreviewRequest
	decodeFile(t, "spec/preview-request.json", &req)
	p, err := newEngine(t).Compile(context.Background(), *req.Policy)
	if err != nil {
		t.Fatal(err)
	}
	f := req.Findings[0]
	f.Reachability = "runtime"
	res := evaluate(t, p, policy.Input{ImageDigest: "sha256:deadbeef", Findings: []policy.Finding{f}})
	assertJSON(t, res.Verdicts, readFile(t, "spec/report-verdicts.json"))
	assertJSON(t, res.Summary, readFile(t, "spec/report-summary.json"))
	if res.PolicyStatus != policy.PolicyBlocked {
		t.Errorf("policyStatus = %s, want blocked (the report's verdict)", res.PolicyStatus)
	}
}

// With the default scoring, the preview example's finding (no reachability given) is scored
// with the "unknown" reachability weight: 90 × 1 × 0.30 = 27.
func TestDefaultScoringWithoutReachability(t *testing.T) {
	var req policy.PreviewRequest
	decodeFile(t, "spec/preview-request.json", &req)
	p, err := newEngine(t).Compile(context.Background(), *req.Policy)
	if err != nil {
		t.Fatal(err)
	}
	v := evaluate(t, p, policy.Input{Findings: req.Findings}).Verdicts[0]
	want := map[string]float64{"severityWeight": 90, "trustWeight": 1, "trustWeight.NVD": 1,
		"reachabilityWeight": 0.3, "reachability.unknown": 0.3, "baseScore": 27}
	if d := cmp.Diff(want, v.Inputs); d != "" || v.Score != 27 || v.Reachability != "unknown" {
		t.Errorf("score %v reachability %q inputs (-want +got):\n%s", v.Score, v.Reachability, d)
	}
}

// The spec's example import YAML lists the level 'None', which policy-schema@1 rejects with
// exactly the spec's error.
func TestSpecImportValidationError(t *testing.T) {
	_, err := newEngine(t).Compile(context.Background(), policy.Source{Content: string(readFile(t, "spec/import.yaml"))})
	var ve *policy.ValidationErrors
	if !errors.As(err, &ve) || !errors.Is(err, policy.ErrInvalid) {
		t.Fatalf("err = %v, want *ValidationErrors", err)
	}
	if len(ve.Errors) != 1 || ve.Errors[0].Line != 5 {
		t.Errorf("errors = %+v, want one, on line 5", ve.Errors)
	}
	ve.Errors[0].Line = 0 // the spec's body has no line; ours adds it
	assertJSON(t, ve, readFile(t, "spec/import-errors.json"))
}
