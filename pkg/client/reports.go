package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
)

// ReportFinding is a finding as the policy judges it (the policy preview's finding).
type ReportFinding struct {
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
	VEX             []ReportVEXStatement `json:"vex,omitempty"`
}

// ReportVEXStatement is a VEX claim about a finding.
type ReportVEXStatement struct {
	Vendor        string `json:"vendor,omitempty"`
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
}

// ReportRequest asks POST /api/v1/reports for a signed report: ImageDigest and Findings (a
// non-nil, possibly empty list), or ScanID.
type ReportRequest struct {
	ImageDigest string          `json:"imageDigest,omitempty"`
	Findings    []ReportFinding `json:"findings,omitempty"`
	ScanID      string          `json:"scanId,omitempty"`
	Environment string          `json:"environment,omitempty"`
}

// MarshalJSON writes an empty Findings list as [] (an image without findings) rather than
// leaving it out, which the server reads as "no findings given".
func (r ReportRequest) MarshalJSON() ([]byte, error) {
	type plain ReportRequest
	if r.Findings != nil && len(r.Findings) == 0 {
		return json.Marshal(struct {
			plain
			Findings []ReportFinding `json:"findings"`
		}{plain(r), r.Findings})
	}
	return json.Marshal(plain(r))
}

// SignedReport is the §2.7 report.
type SignedReport struct {
	ReportID    string          `json:"reportId"`
	ImageDigest string          `json:"imageDigest"`
	Verdict     string          `json:"verdict"`
	Policy      ReportPolicyRef `json:"policy"`
	Summary     ReportSummary   `json:"summary"`
	Verdicts    []ReportVerdict `json:"verdicts"`
	Issues      []ReportIssue   `json:"issues"`
}

// ReportIssue is a diagnostics warning of the policy that decided.
type ReportIssue struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Severity string `json:"severity"`
	Path     string `json:"path"`
}

// ReportPolicyRef names the policy revision that decided.
type ReportPolicyRef struct {
	RevisionID string `json:"revisionId,omitempty"`
	Digest     string `json:"digest"`
}

// ReportSummary counts verdicts by outcome.
type ReportSummary struct {
	Total     int `json:"total"`
	Blocked   int `json:"blocked"`
	Warned    int `json:"warned"`
	Ignored   int `json:"ignored"`
	Quieted   int `json:"quieted"`
	Escalated int `json:"escalated,omitempty"`
}

// ReportVerdict is the policy's decision on one finding.
type ReportVerdict struct {
	FindingID     string             `json:"findingId"`
	Status        string             `json:"status"`
	RuleName      string             `json:"ruleName,omitempty"`
	RuleAction    string             `json:"ruleAction,omitempty"`
	Score         float64            `json:"score"`
	ConfigVersion string             `json:"configVersion,omitempty"`
	Inputs        map[string]float64 `json:"inputs,omitempty"`
	Quiet         bool               `json:"quiet"`
	QuietedBy     string             `json:"quietedBy,omitempty"`
	SourceTrust   string             `json:"sourceTrust,omitempty"`
	Reachability  string             `json:"reachability,omitempty"`
	Justification string             `json:"justification,omitempty"`
	Reasons       []string           `json:"reasons,omitempty"`
}

// DSSEEnvelope is a DSSE envelope in the spec's shape; Payload and signatures are the raw
// bytes (base64 on the wire).
type DSSEEnvelope struct {
	PayloadType string          `json:"payloadType"`
	Payload     []byte          `json:"payload"`
	Signatures  []DSSESignature `json:"signatures"`
}

// DSSESignature is one signature of an envelope.
type DSSESignature struct {
	KeyID     string `json:"keyId,omitempty"`
	Algorithm string `json:"algorithm,omitempty"`
	Signature []byte `json:"signature"`
}

// ReportResponse is the answer of POST /api/v1/reports.
type ReportResponse struct {
	Report SignedReport `json:"report"`
	DSSE   DSSEEnvelope `json:"dsse"`
	// Raw is the response body as received (the report object is what the payload encodes).
	Raw []byte `json:"-"`
	// LogEntry is the envelope's transparency-log entry id (from the Link header).
	LogEntry string `json:"-"`
}

var logLink = regexp.MustCompile(`</rekor/log/([0-9a-f]{64})>`)

// AssembleReport evaluates the active policy over an image's findings (or a stored scan's) and
// returns the signed report (needs scope scanner.reports).
func (c *Client) AssembleReport(ctx context.Context, req ReportRequest) (ReportResponse, error) {
	var out ReportResponse
	r, err := c.sendJSON(ctx, http.MethodPost, "/api/v1/reports", req, true, false, &out)
	if err != nil {
		return out, err
	}
	out.Raw = r.Body
	if m := logLink.FindStringSubmatch(r.Header.Get("Link")); m != nil {
		out.LogEntry = m[1]
	}
	return out, nil
}

// SignRequest asks POST /api/v1/signer/sign/dsse for an envelope: PayloadType and Payload, or
// Subject, PredicateType and Predicate (an in-toto statement's parts).
type SignRequest struct {
	PayloadType   string             `json:"payloadType,omitempty"`
	Payload       []byte             `json:"payload,omitempty"`
	Subject       []StatementSubject `json:"subject,omitempty"`
	PredicateType string             `json:"predicateType,omitempty"`
	Predicate     json.RawMessage    `json:"predicate,omitempty"`
}

// StatementSubject is an in-toto subject: a name and its digests by algorithm.
type StatementSubject struct {
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest"`
}

// SignResponse is the answer of POST /api/v1/signer/sign/dsse.
type SignResponse struct {
	DSSE          DSSEEnvelope    `json:"dsse"`
	KeyID         string          `json:"keyId"`
	Algorithm     string          `json:"algorithm"`
	PayloadDigest string          `json:"payloadDigest"`
	Raw           json.RawMessage `json:"-"`
}

// SignDSSE signs a payload or an in-toto statement with the server's key (needs scope
// signer.sign). Raw holds the envelope exactly as the server encoded it.
func (c *Client) SignDSSE(ctx context.Context, req SignRequest) (SignResponse, error) {
	var out struct {
		SignResponse
		DSSE json.RawMessage `json:"dsse"`
	}
	if _, err := c.sendJSON(ctx, http.MethodPost, "/api/v1/signer/sign/dsse", req, true, false, &out); err != nil {
		return SignResponse{}, err
	}
	res := out.SignResponse
	res.Raw = out.DSSE
	if err := json.Unmarshal(out.DSSE, &res.DSSE); err != nil {
		return res, fmt.Errorf("client: decode envelope: %w", err)
	}
	return res, nil
}

// ReferrersReport is the answer of GET /api/v1/signer/verify/referrers.
type ReferrersReport struct {
	Image     string           `json:"image"`
	Subject   string           `json:"subject"`
	Trusted   bool             `json:"trusted"`
	Truncated bool             `json:"truncated"`
	Referrers []ReferrerResult `json:"referrers"`
}

// ReferrerResult is the check of one DSSE referrer.
type ReferrerResult struct {
	Digest       string   `json:"digest"`
	ArtifactType string   `json:"artifactType,omitempty"`
	Envelope     string   `json:"envelope,omitempty"`
	PayloadType  string   `json:"payloadType,omitempty"`
	KeyID        string   `json:"keyId,omitempty"`
	Algorithm    string   `json:"algorithm,omitempty"`
	Subjects     []string `json:"subjects,omitempty"`
	Verified     bool     `json:"verified"`
	Error        string   `json:"error,omitempty"`
}

// VerifyReferrers checks image's DSSE referrers in its registry (needs scope signer.sign).
func (c *Client) VerifyReferrers(ctx context.Context, image string) (ReferrersReport, error) {
	var out ReferrersReport
	_, err := c.getJSON(ctx, "/api/v1/signer/verify/referrers", url.Values{"image": {image}}, true, false, &out)
	return out, err
}

// SignerKeys is the answer of GET /api/v1/signer/keys.
type SignerKeys struct {
	Keys            []SignerKey `json:"keys"`
	TransparencyLog struct {
		Origin    string `json:"origin"`
		KeyID     string `json:"keyId"`
		PublicKey string `json:"publicKey"`
	} `json:"transparencyLog"`
}

// SignerKey is one report signing key; PublicKey is PKIX PEM ("" for hs256).
type SignerKey struct {
	KeyID     string `json:"keyId"`
	Algorithm string `json:"algorithm"`
	Status    string `json:"status"`
	PublicKey string `json:"publicKey,omitempty"`
}

// SignerKeys reads the public keys that verify reports and the log's tree heads (public).
func (c *Client) SignerKeys(ctx context.Context) (SignerKeys, error) {
	var out SignerKeys
	_, err := c.getJSON(ctx, "/api/v1/signer/keys", nil, false, false, &out)
	return out, err
}

// AttestAccepted is the 202 answer of POST /attest.
type AttestAccepted struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	Location      string `json:"location"`
	Created       bool   `json:"created"`
	PredicateType string `json:"predicateType"`
	LogIndex      uint64 `json:"logIndex"`
	Rekor         string `json:"rekor"`
	// LocationHeader is the Location header of the answer.
	LocationHeader string `json:"-"`
}

// SubmitAttestation posts an in-toto statement or a DSSE envelope of one, as JSON (needs scope
// attestor.write).
func (c *Client) SubmitAttestation(ctx context.Context, statementOrEnvelope []byte) (AttestAccepted, error) {
	var out AttestAccepted
	r, err := c.do(ctx, request{method: http.MethodPost, path: "/attest", body: bytes.NewReader(statementOrEnvelope),
		contentType: "application/json", auth: true})
	if err != nil {
		return out, err
	}
	if err := decode(r, &out); err != nil {
		return out, err
	}
	out.LocationHeader = r.Header.Get("Location")
	return out, nil
}

// Attestation is the answer of GET /attest/{id}.
type Attestation struct {
	ID              string   `json:"id"`
	Status          string   `json:"status"`
	PredicateType   string   `json:"predicateType"`
	Subjects        []string `json:"subjects"`
	StatementDigest string   `json:"statementDigest"`
	CreatedAt       string   `json:"createdAt"`
	Signature       struct {
		KeyID     string `json:"keyId"`
		Algorithm string `json:"algorithm"`
		Verified  bool   `json:"verified"`
		Error     string `json:"error"`
	} `json:"signature"`
	TransparencyLog struct {
		UUID           string `json:"uuid"`
		LogIndex       uint64 `json:"logIndex"`
		IntegratedTime string `json:"integratedTime"`
		TreeSize       uint64 `json:"treeSize"`
		RootHash       string `json:"rootHash"`
		Verified       bool   `json:"verified"`
		Error          string `json:"error"`
		Location       string `json:"location"`
	} `json:"transparencyLog"`
	DSSE DSSEEnvelope `json:"dsse"`
}

// Attestation reads an attestation, verified by the server on the way (needs scope stella.api).
func (c *Client) Attestation(ctx context.Context, id string) (Attestation, error) {
	var out Attestation
	_, err := c.getJSON(ctx, "/attest/"+url.PathEscape(id), nil, true, false, &out)
	return out, err
}

// LogEntry returns the proof bundle of a transparency-log entry as served (canonical JSON: the
// entry, its inclusion proof and a signed tree head), for offline verification (needs scope
// stella.api).
func (c *Client) LogEntry(ctx context.Context, id string) ([]byte, error) {
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/rekor/log/" + url.PathEscape(id), auth: true})
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(r.Body, []byte("\n")), nil
}
