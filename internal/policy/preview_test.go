package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/policy"
)

func TestPreviewAgainstBaselines(t *testing.T) {
	e := newEngine(t)
	staged := policy.Source{Content: string(readFile(t, "baseline.yaml"))}
	req := policy.PreviewRequest{
		Findings: loadFindings(t),
		Baseline: []policy.Verdict{
			// Older clients and the spec's excerpt write statuses in lower case.
			{FindingID: "f-critical-runtime", Status: "blocked", RuleName: "Block Critical"},
			{FindingID: "f-low", Status: "pass"},
			{FindingID: "f-kev-prod", Status: policy.StatusWarn, RuleName: "Warn everything"},
		},
		Policy: &staged,
	}
	resp, err := e.Preview(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Success || resp.RevisionID != "preview" || len(resp.Diffs) != 11 || len(resp.Issues) != 0 {
		t.Fatalf("response = %+v", resp)
	}
	changed := map[string]bool{}
	for _, d := range resp.Diffs {
		changed[d.FindingID] = d.Changed
	}
	// Unchanged: the two matching baselines and the one synthesised Pass that stays Pass.
	for id, want := range map[string]bool{"f-critical-runtime": false, "f-low": false, "f-kev-prod": true, "f-agpl": true} {
		if changed[id] != want {
			t.Errorf("%s changed = %v, want %v", id, changed[id], want)
		}
	}
	if resp.Changed != 9 {
		t.Errorf("changed = %d, want 9", resp.Changed)
	}
}

// Without a policy in the request the active one is previewed; without either, it is an error.
func TestPreviewActivePolicy(t *testing.T) {
	e := newEngine(t)
	h := policy.NewHistory(fixedClock(specNow))
	p := compile(t, e, "baseline.yaml")
	_, active, _ := h.Add(p)
	req := policy.PreviewRequest{Findings: []policy.Finding{{ID: "a", Severity: "Critical"}}}
	resp, err := e.Preview(context.Background(), req, active)
	if err != nil {
		t.Fatal(err)
	}
	if resp.RevisionID != "rev-1" || resp.PolicyDigest != p.Digest() || resp.Changed != 1 {
		t.Errorf("response = %+v", resp)
	}
	if _, err := e.Preview(context.Background(), req, nil); !errors.Is(err, policy.ErrNoPolicy) {
		t.Errorf("no policy: err = %v", err)
	}
}

// An invalid staged policy is a response with success false and the errors as issues.
func TestPreviewInvalidPolicy(t *testing.T) {
	resp, err := newEngine(t).Preview(context.Background(), policy.PreviewRequest{
		Findings: []policy.Finding{{ID: "a", Severity: "Critical"}},
		Policy:   &policy.Source{Content: string(readFile(t, "spec/import.yaml"))},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := policy.PreviewResponse{Diffs: []policy.Diff{}, Issues: []policy.Issue{
		{Code: "policy.level.invalid", Message: "Invalid level 'None' (line 5)", Severity: "Error", Path: "$.rules[0].severity"},
	}}
	if d := cmp.Diff(want, resp); d != "" {
		t.Errorf("response (-want +got):\n%s", d)
	}
	// A policy with warnings previews, and the warnings come along.
	resp, err = newEngine(t).Preview(context.Background(), policy.PreviewRequest{
		Findings: []policy.Finding{{ID: "a", Severity: "Low", Environment: "dev"}},
		Policy:   &policy.Source{Content: "version: \"1.0\"\nrules:\n  - {name: Ignore Low dev, severity: [Low], environments: [dev], action: ignore}\n"},
	}, nil)
	if err != nil || !resp.Success || len(resp.Issues) != 2 || resp.Diffs[0].Projected.Status != policy.StatusIgnored {
		t.Errorf("response = %+v, err %v", resp, err)
	}
}

func TestDiffJSONRoundTrip(t *testing.T) {
	d := policy.Diff{FindingID: "f", Baseline: policy.Verdict{FindingID: "f", Status: policy.StatusPass},
		Projected: policy.Verdict{FindingID: "f", Status: policy.StatusQuieted, Quiet: true, QuietedBy: "r", Score: 1.5,
			Inputs: map[string]float64{"severityWeight": 1.5}}, Changed: true}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"findingId":"f","baseline":{"findingId":"f","status":"Pass"},"projected":{"findingId":"f","status":"Quieted","score":1.5,"inputs":{"severityWeight":1.5},"quiet":true,"quietedBy":"r"},"changed":true}`
	if string(b) != want {
		t.Errorf("json = %s\nwant   %s", b, want)
	}
	var back policy.Diff
	if err := json.Unmarshal(b, &back); err != nil || !cmp.Equal(d, back) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
