package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// PreviewRequest is the spec's POST /api/v1/policy/preview body.
type PreviewRequest struct {
	ImageDigest string    `json:"imageDigest,omitempty"`
	Findings    []Finding `json:"findings"`
	// Baseline verdicts are optional; findings without one get a synthesised Pass baseline.
	Baseline []Verdict `json:"baseline,omitempty"`
	// Policy is the staged policy; without it the active policy is previewed.
	Policy *Source `json:"policy,omitempty"`
	// Environment applies to findings that do not name their own (our addition).
	Environment string `json:"environment,omitempty"`
}

// PreviewResponse is the spec's preview response.
type PreviewResponse struct {
	Success      bool   `json:"success"`
	PolicyDigest string `json:"policyDigest,omitempty"`
	// RevisionID is "preview" for a staged policy, else the active revision's id.
	RevisionID string  `json:"revisionId,omitempty"`
	Changed    int     `json:"changed"`
	Diffs      []Diff  `json:"diffs"`
	Issues     []Issue `json:"issues"`
}

// Diff is one finding's baseline and projected verdicts. Changed is true when the status, the
// deciding rule or the quiet flag differ; a score alone does not count, since synthesised
// baselines have none.
type Diff struct {
	FindingID string
	Baseline  Verdict
	Projected Verdict
	Changed   bool
}

var _ json.Marshaler = Diff{}

// MarshalJSON writes both verdicts in their compact form, as the spec's example does.
func (d Diff) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		FindingID string         `json:"findingId"`
		Baseline  compactVerdict `json:"baseline"`
		Projected compactVerdict `json:"projected"`
		Changed   bool           `json:"changed"`
	}{d.FindingID, d.Baseline.compact(), d.Projected.compact(), d.Changed})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Diff) UnmarshalJSON(b []byte) error {
	var raw struct {
		FindingID string  `json:"findingId"`
		Baseline  Verdict `json:"baseline"`
		Projected Verdict `json:"projected"`
		Changed   bool    `json:"changed"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	*d = Diff{FindingID: raw.FindingID, Baseline: raw.Baseline, Projected: raw.Projected, Changed: raw.Changed}
	return nil
}

// Preview projects a policy over findings and compares with their baseline verdicts. The
// staged policy in the request is previewed if there is one, else active (which may be nil
// only when the request has a policy). An invalid staged policy is not an error: the response
// has success false and the problems as issues.
func (e *Engine) Preview(ctx context.Context, req PreviewRequest, active *Policy) (PreviewResponse, error) {
	resp := PreviewResponse{Diffs: []Diff{}, Issues: []Issue{}}
	p := active
	if req.Policy != nil {
		staged, errs, err := e.load(ctx, *req.Policy)
		if err != nil {
			return resp, err
		}
		// Warnings and infos travel with the preview; only errors stop it.
		resp.Issues = e.diagnostics(staged, errs).Issues
		if len(errs) > 0 {
			return resp, nil
		}
		p = staged.WithRevisionID("preview")
	}
	if p == nil {
		return resp, ErrNoPolicy
	}
	res, err := p.Evaluate(ctx, Input{ImageDigest: req.ImageDigest, Environment: req.Environment, Findings: req.Findings})
	if err != nil {
		return resp, err
	}
	resp.Success = true
	resp.PolicyDigest = p.Digest()
	resp.RevisionID = p.RevisionID()
	baseline := make(map[string]Verdict, len(req.Baseline))
	for _, b := range req.Baseline {
		baseline[b.FindingID] = b
	}
	for _, v := range res.Verdicts {
		b, ok := baseline[v.FindingID]
		if !ok {
			b = Verdict{FindingID: v.FindingID, Status: StatusPass}
		}
		d := Diff{FindingID: v.FindingID, Baseline: b, Projected: v, Changed: verdictChanged(b, v)}
		if d.Changed {
			resp.Changed++
		}
		resp.Diffs = append(resp.Diffs, d)
	}
	slices.SortStableFunc(resp.Diffs, func(a, b Diff) int { return strings.Compare(a.FindingID, b.FindingID) })
	return resp, nil
}

// verdictChanged compares what a reviewer cares about. Statuses are compared
// case-insensitively because older clients send "pass"/"blocked" (the spec's excerpt does).
func verdictChanged(a, b Verdict) bool {
	return !strings.EqualFold(string(a.Status), string(b.Status)) || a.RuleName != b.RuleName || a.Quiet != b.Quiet
}
