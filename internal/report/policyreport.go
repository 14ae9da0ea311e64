package report

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/stellaops/stellaops/internal/canonjson"
	"github.com/stellaops/stellaops/internal/policy"
)

// PayloadType is the DSSE payload type of a signed policy report.
const PayloadType = "application/vnd.stellaops.report+json"

// PolicyReport is the report of spec §2.7: the verdict of a policy over an image's findings, as
// it is signed. Nulls are left out and it carries no clock, so the same findings, policy and
// image give the same bytes (and the same reportId) whenever and wherever it is assembled.
type PolicyReport struct {
	ReportID    string           `json:"reportId"`
	ImageDigest string           `json:"imageDigest"`
	Verdict     string           `json:"verdict"`
	Policy      PolicyRef        `json:"policy"`
	Summary     policy.Summary   `json:"summary"`
	Verdicts    []policy.Verdict `json:"verdicts"`
	Issues      []policy.Issue   `json:"issues"`
}

// PolicyRef names the policy revision that decided.
type PolicyRef struct {
	RevisionID string `json:"revisionId,omitempty"`
	Digest     string `json:"digest"`
}

// AssemblePolicyReport builds the report of an evaluation and returns it with its canonical
// (RFC 8785) bytes, the payload to sign. Verdicts are sorted by finding id and issues by path
// and code. The reportId is "report-" and the first 20 hex digits of the SHA-256 of the
// canonical report without its id, so it names the content.
func AssemblePolicyReport(imageDigest string, ref PolicyRef, res policy.Result, issues []policy.Issue) (*PolicyReport, []byte, error) {
	if imageDigest == "" {
		return nil, nil, fmt.Errorf("policy report: no image digest")
	}
	r := &PolicyReport{
		ImageDigest: imageDigest,
		Verdict:     string(res.PolicyStatus),
		Policy:      PolicyRef{RevisionID: ref.RevisionID, Digest: strings.TrimPrefix(cmp.Or(ref.Digest, res.PolicyDigest), "sha256:")},
		Summary:     res.Summary,
		Verdicts:    slices.Clone(res.Verdicts),
		Issues:      slices.Clone(issues),
	}
	if r.Verdicts == nil {
		r.Verdicts = []policy.Verdict{}
	}
	if r.Issues == nil {
		r.Issues = []policy.Issue{}
	}
	slices.SortStableFunc(r.Verdicts, func(a, b policy.Verdict) int { return strings.Compare(a.FindingID, b.FindingID) })
	slices.SortStableFunc(r.Issues, func(a, b policy.Issue) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Code, b.Code)
	})
	// The id covers everything else: hash the report with an empty id, then set it.
	unnamed, err := canonjson.Marshal(r)
	if err != nil {
		return nil, nil, fmt.Errorf("policy report: %w", err)
	}
	sum := sha256.Sum256(unnamed)
	r.ReportID = "report-" + hex.EncodeToString(sum[:])[:20]
	b, err := canonjson.Marshal(r)
	if err != nil {
		return nil, nil, fmt.Errorf("policy report: %w", err)
	}
	return r, b, nil
}
