package client

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// PolicySource is a policy as submitted (the spec's policy object).
type PolicySource struct {
	// Format is "yaml" (the default) or "rego".
	Format  string `json:"format,omitempty"`
	Content string `json:"content"`
	// Actor is informational; imports record the token subject.
	Actor string `json:"actor,omitempty"`
	// Description is the change note an import keeps on the revision.
	Description string `json:"description,omitempty"`
}

// PolicyRevision is one revision of the policy history.
type PolicyRevision struct {
	RevisionID  string    `json:"revisionId"`
	Digest      string    `json:"digest"`
	Format      string    `json:"format"`
	CreatedAt   time.Time `json:"createdAt"`
	Actor       string    `json:"actor"`
	Description string    `json:"description,omitempty"`
}

// PolicyIssue is one diagnostics finding about a policy.
type PolicyIssue struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Severity string `json:"severity"`
	Path     string `json:"path"`
}

// PolicyImportResult is the answer of POST /policy/import.
type PolicyImportResult struct {
	// Created is false when the policy already was the active revision.
	Created  bool           `json:"created"`
	Revision PolicyRevision `json:"revision"`
	Issues   []PolicyIssue  `json:"issues"`
}

type policyEnvelope struct {
	Policy PolicySource `json:"policy"`
}

// ImportPolicy makes src the active policy (needs scope policy.write). An invalid policy is an
// *Error with status 400 whose Errors list every problem.
func (c *Client) ImportPolicy(ctx context.Context, src PolicySource) (PolicyImportResult, error) {
	var out PolicyImportResult
	_, err := c.sendJSON(ctx, http.MethodPost, "/policy/import", policyEnvelope{Policy: src}, true, false, &out)
	return out, err
}

// PolicyValidation is the answer of POST /policy/validate for a valid policy.
type PolicyValidation struct {
	Valid     bool          `json:"valid"`
	Format    string        `json:"format"`
	Digest    string        `json:"digest"`
	Version   string        `json:"version,omitempty"`
	RuleCount int           `json:"ruleCount"`
	Issues    []PolicyIssue `json:"issues"`
}

// ValidatePolicy lints src without recording it (needs scope policy.read). An invalid policy
// is an *Error with status 400 whose Errors list every problem.
func (c *Client) ValidatePolicy(ctx context.Context, src PolicySource) (PolicyValidation, error) {
	var out PolicyValidation
	_, err := c.sendJSON(ctx, http.MethodPost, "/policy/validate", policyEnvelope{Policy: src}, true, false, &out)
	return out, err
}

// PolicyExport is a policy source as GET /policy/export serves it.
type PolicyExport struct {
	RevisionID string
	Digest     string
	// Format is "yaml" or "rego", from the Content-Type.
	Format  string
	Content []byte
}

// ExportPolicy downloads the active policy's source, or revision's when it is not empty
// (needs scope policy.read).
func (c *Client) ExportPolicy(ctx context.Context, revision string) (PolicyExport, error) {
	var q url.Values
	if revision != "" {
		q = url.Values{"revision": {revision}}
	}
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/policy/export", query: q, auth: true})
	if err != nil {
		return PolicyExport{}, err
	}
	e := PolicyExport{RevisionID: r.Header.Get("X-Stella-Policy-Revision"), Digest: r.Header.Get("X-Stella-Policy-Digest"),
		Format: "yaml", Content: r.Body}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "text/x-rego" {
		e.Format = "rego"
	}
	return e, nil
}

// PolicyHistoryPage is a page of GET /policy/history, newest first.
type PolicyHistoryPage struct {
	Revisions []PolicyRevision `json:"revisions"`
	// NextCursor is the cursor of the next, older page; empty on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// PolicyHistory lists revisions newest first: limit per page (0: the server's default),
// starting after cursor (empty: from the newest). Needs scope policy.read.
func (c *Client) PolicyHistory(ctx context.Context, limit int, cursor string) (PolicyHistoryPage, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var page PolicyHistoryPage
	_, err := c.getJSON(ctx, "/policy/history", q, true, false, &page)
	return page, err
}

// PolicySchema returns the policy-schema@1 JSON Schema document.
func (c *Client) PolicySchema(ctx context.Context) ([]byte, error) {
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/policy/schema", auth: true})
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// PolicyDiagnostics is the answer of POST /api/v1/policy/diagnostics.
type PolicyDiagnostics struct {
	Success         bool          `json:"success"`
	Version         string        `json:"version,omitempty"`
	RuleCount       int           `json:"ruleCount"`
	ErrorCount      int           `json:"errorCount"`
	WarningCount    int           `json:"warningCount"`
	GeneratedAt     time.Time     `json:"generatedAt"`
	Issues          []PolicyIssue `json:"issues"`
	Recommendations []string      `json:"recommendations"`
}

// DiagnosePolicy validates and lints src without activating it.
func (c *Client) DiagnosePolicy(ctx context.Context, src PolicySource) (PolicyDiagnostics, error) {
	var out PolicyDiagnostics
	_, err := c.sendJSON(ctx, http.MethodPost, "/api/v1/policy/diagnostics", policyEnvelope{Policy: src}, true, false, &out)
	return out, err
}

// PolicyVEXStatement is one VEX claim about a finding.
type PolicyVEXStatement struct {
	Vendor        string `json:"vendor,omitempty"`
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
}

// PolicyFinding is a finding to judge; only ID is required.
type PolicyFinding struct {
	ID              string               `json:"id"`
	Severity        string               `json:"severity,omitempty"`
	Source          string               `json:"source,omitempty"`
	Vendor          string               `json:"vendor,omitempty"`
	Package         string               `json:"package,omitempty"`
	Vulnerabilities []string             `json:"vulnerabilities,omitempty"`
	Licenses        []string             `json:"licenses,omitempty"`
	Tags            []string             `json:"tags,omitempty"`
	Environment     string               `json:"environment,omitempty"`
	Reachability    string               `json:"reachability,omitempty"`
	VEX             []PolicyVEXStatement `json:"vex,omitempty"`
}

// PolicyVerdict is a verdict on one finding; Score is nil when the verdict has none (a
// synthesised baseline).
type PolicyVerdict struct {
	FindingID     string             `json:"findingId"`
	Status        string             `json:"status"`
	RuleName      string             `json:"ruleName,omitempty"`
	RuleAction    string             `json:"ruleAction,omitempty"`
	Score         *float64           `json:"score,omitempty"`
	ConfigVersion string             `json:"configVersion,omitempty"`
	Inputs        map[string]float64 `json:"inputs,omitempty"`
	Quiet         bool               `json:"quiet,omitempty"`
	QuietedBy     string             `json:"quietedBy,omitempty"`
	SourceTrust   string             `json:"sourceTrust,omitempty"`
	Reachability  string             `json:"reachability,omitempty"`
	Justification string             `json:"justification,omitempty"`
	Reasons       []string           `json:"reasons,omitempty"`
}

// PolicyPreviewRequest is the body of POST /api/v1/policy/preview. Policy nil previews the
// active policy.
type PolicyPreviewRequest struct {
	ImageDigest string          `json:"imageDigest,omitempty"`
	Findings    []PolicyFinding `json:"findings"`
	Baseline    []PolicyVerdict `json:"baseline,omitempty"`
	Policy      *PolicySource   `json:"policy,omitempty"`
	Environment string          `json:"environment,omitempty"`
}

// PolicyDiff is one finding's baseline and projected verdicts.
type PolicyDiff struct {
	FindingID string        `json:"findingId"`
	Baseline  PolicyVerdict `json:"baseline"`
	Projected PolicyVerdict `json:"projected"`
	Changed   bool          `json:"changed"`
}

// PolicyPreviewResponse is the answer of a preview.
type PolicyPreviewResponse struct {
	Success      bool          `json:"success"`
	PolicyDigest string        `json:"policyDigest,omitempty"`
	RevisionID   string        `json:"revisionId,omitempty"`
	Changed      int           `json:"changed"`
	Diffs        []PolicyDiff  `json:"diffs"`
	Issues       []PolicyIssue `json:"issues"`
}

// PreviewPolicy projects a staged (or the active) policy over findings.
func (c *Client) PreviewPolicy(ctx context.Context, req PolicyPreviewRequest) (PolicyPreviewResponse, error) {
	if req.Findings == nil {
		req.Findings = []PolicyFinding{}
	}
	var out PolicyPreviewResponse
	_, err := c.sendJSON(ctx, http.MethodPost, "/api/v1/policy/preview", req, true, false, &out)
	return out, err
}
