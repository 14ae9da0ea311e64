package vex

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Status is a VEX status in the OpenVEX vocabulary. StatusUnknown is never read from a document:
// it is the decision when no claim, or no decidable claim, exists.
type Status string

// The statuses.
const (
	StatusNotAffected        Status = "not_affected"
	StatusAffected           Status = "affected"
	StatusFixed              Status = "fixed"
	StatusUnderInvestigation Status = "under_investigation"
	StatusUnknown            Status = "unknown"
)

// Justification is why a product is not affected, in the OpenVEX (and CSAF flag) vocabulary.
type Justification string

// The justifications of the OpenVEX specification.
const (
	JustificationComponentNotPresent                         Justification = "component_not_present"
	JustificationVulnerableCodeNotPresent                    Justification = "vulnerable_code_not_present"
	JustificationVulnerableCodeNotInExecutePath              Justification = "vulnerable_code_not_in_execute_path"
	JustificationVulnerableCodeCannotBeControlledByAdversary Justification = "vulnerable_code_cannot_be_controlled_by_adversary"
	JustificationInlineMitigationsAlreadyExist               Justification = "inline_mitigations_already_exist"
)

// Format names a VEX document format.
type Format string

// The formats.
const (
	FormatOpenVEX   Format = "openvex"
	FormatCycloneDX Format = "cyclonedx"
	FormatCSAF      Format = "csaf"
)

// Source says where a claim came from, precisely enough for a report to cite the statement.
type Source struct {
	Format Format `json:"format"`
	// Document is the name the caller gave the parser (a path, a URL).
	Document string `json:"document"`
	// DocumentID is the document's own identifier: OpenVEX @id, CycloneDX serialNumber, CSAF
	// tracking.id.
	DocumentID string `json:"documentId,omitempty"`
	// Digest is "sha256:<hex>" of the document's JSON bytes (after gunzip).
	Digest string `json:"digest"`
	// Statement is the zero-based index of the OpenVEX statement, CycloneDX vulnerability or CSAF
	// vulnerability.
	Statement int `json:"statement"`
	// StatementID is the statement's own ID when it has one (OpenVEX statement @id, CycloneDX
	// vulnerability bom-ref).
	StatementID string `json:"statementId,omitempty"`
	// ProductRefs are the product references as written (purl, bom-ref, CSAF product IDs) that
	// gave this claim, sorted.
	ProductRefs []string `json:"productRefs,omitempty"`
}

// Claim is one issuer's statement about one vulnerability in one product.
type Claim struct {
	// Vulnerability is the ID as written (CVE IDs upper-cased); Aliases are other IDs the
	// document gives for the same vulnerability.
	Vulnerability string   `json:"vulnerability"`
	Aliases       []string `json:"aliases,omitempty"`
	// Product is the product's purl in packageurl-go's normalised form.
	Product string `json:"product"`
	// Within is the enclosing product as written, when the statement names the product as part
	// of another (an OpenVEX subcomponent's product, a CSAF relationship's platform).
	Within string `json:"within,omitempty"`
	Status Status `json:"status"`
	// RawStatus is the status as written ("known_not_affected", "resolved", …).
	RawStatus string `json:"rawStatus,omitempty"`
	// Justification is empty when the document gives none or its value has no OpenVEX
	// equivalent; RawJustification keeps the value as written.
	Justification    Justification `json:"justification,omitempty"`
	RawJustification string        `json:"rawJustification,omitempty"`
	ImpactStatement  string        `json:"impactStatement,omitempty"`
	ActionStatement  string        `json:"actionStatement,omitempty"`
	// Issuer is the document's author or publisher; it selects the claim's trust weight.
	Issuer string `json:"issuer,omitempty"`
	// Timestamp is when the statement was made or last updated (UTC); zero when unknown.
	Timestamp time.Time `json:"timestamp,omitzero"`
	Source    Source    `json:"source"`
}

// Document is one parsed VEX document.
type Document struct {
	Name      string    `json:"name"`
	Format    Format    `json:"format"`
	ID        string    `json:"id,omitempty"`
	Digest    string    `json:"digest"`
	Issuer    string    `json:"issuer,omitempty"`
	Timestamp time.Time `json:"timestamp,omitzero"`
	// Claims are sorted by vulnerability, product, then source.
	Claims []Claim `json:"claims"`
	// Skipped lists, in document order, the first statements or products that gave no claim and
	// why; SkippedTotal counts them all.
	Skipped      []Skip `json:"skipped,omitempty"`
	SkippedTotal int    `json:"skippedTotal,omitempty"`
}

// Skip records a statement or product reference that produced no claim.
type Skip struct {
	Statement int    `json:"statement"`
	Ref       string `json:"ref,omitempty"`
	Reason    string `json:"reason"`
}

// normalizeVulnID trims the ID and upper-cases CVE IDs, which documents write in either case.
func normalizeVulnID(id string) string {
	id = strings.TrimSpace(id)
	if len(id) > 4 && strings.EqualFold(id[:4], "cve-") {
		return strings.ToUpper(id)
	}
	return id
}

// vulnKey folds an ID for comparison: IDs are compared case-insensitively.
func vulnKey(id string) string { return strings.ToUpper(strings.TrimSpace(id)) }

// compareClaims is the stable content order used for documents and as the last consensus
// tie-breaker. It compares everything that can differ between two claims, so equal results mean
// interchangeable claims.
func compareClaims(a, b *Claim) int {
	return cmp.Or(
		strings.Compare(a.Vulnerability, b.Vulnerability),
		strings.Compare(a.Product, b.Product),
		strings.Compare(a.Issuer, b.Issuer),
		strings.Compare(string(a.Source.Format), string(b.Source.Format)),
		strings.Compare(a.Source.DocumentID, b.Source.DocumentID),
		strings.Compare(a.Source.Digest, b.Source.Digest),
		cmp.Compare(a.Source.Statement, b.Source.Statement),
		strings.Compare(a.Within, b.Within),
		strings.Compare(string(a.Status), string(b.Status)),
		strings.Compare(a.RawStatus, b.RawStatus),
		strings.Compare(string(a.Justification), string(b.Justification)),
		strings.Compare(a.RawJustification, b.RawJustification),
		a.Timestamp.Compare(b.Timestamp),
		strings.Compare(a.ImpactStatement, b.ImpactStatement),
		strings.Compare(a.ActionStatement, b.ActionStatement),
		strings.Compare(a.Source.StatementID, b.Source.StatementID),
		strings.Compare(a.Source.Document, b.Source.Document),
		slices.Compare(a.Source.ProductRefs, b.Source.ProductRefs),
		slices.Compare(a.Aliases, b.Aliases),
	)
}
