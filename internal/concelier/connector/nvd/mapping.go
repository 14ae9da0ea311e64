package nvd

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/inventory"
)

// EcosystemCPE is the ecosystem CPE-keyed advisories are filed under; it must equal the
// matcher's (internal/match/cpe.go), which looks them up by "<vendor>:<product>" with no distro.
const EcosystemCPE inventory.Ecosystem = "cpe"

// page is one CVE API 2.0 response (and the shape of NVD's 2.0 JSON feed files).
type page struct {
	ResultsPerPage  int     `json:"resultsPerPage"`
	StartIndex      int     `json:"startIndex"`
	TotalResults    int     `json:"totalResults"`
	Format          string  `json:"format"`
	Version         string  `json:"version"`
	Timestamp       string  `json:"timestamp"`
	Vulnerabilities []vulnW `json:"vulnerabilities"`
}

type vulnW struct {
	CVE cve `json:"cve"`
}

type cve struct {
	ID               string          `json:"id"`
	SourceIdentifier string          `json:"sourceIdentifier"`
	Published        string          `json:"published"`
	LastModified     string          `json:"lastModified"`
	VulnStatus       string          `json:"vulnStatus"`
	Descriptions     []langString    `json:"descriptions"`
	Metrics          metrics         `json:"metrics"`
	Weaknesses       []weakness      `json:"weaknesses"`
	Configurations   []configuration `json:"configurations"`
	References       []reference     `json:"references"`
}

type langString struct {
	Lang  string `json:"lang"`
	Value string `json:"value"`
}

type metrics struct {
	V40 []metric `json:"cvssMetricV40"`
	V31 []metric `json:"cvssMetricV31"`
	V30 []metric `json:"cvssMetricV30"`
	V2  []metric `json:"cvssMetricV2"`
}

type metric struct {
	Source   string `json:"source"`
	Type     string `json:"type"` // Primary or Secondary
	CVSSData struct {
		Version      string  `json:"version"`
		VectorString string  `json:"vectorString"`
		BaseScore    float64 `json:"baseScore"`
		BaseSeverity string  `json:"baseSeverity"`
	} `json:"cvssData"`
}

type weakness struct {
	Source      string       `json:"source"`
	Type        string       `json:"type"`
	Description []langString `json:"description"`
}

type configuration struct {
	Operator string `json:"operator"`
	Negate   bool   `json:"negate"`
	Nodes    []node `json:"nodes"`
}

type node struct {
	Operator string     `json:"operator"`
	Negate   bool       `json:"negate"`
	CPEMatch []cpeMatch `json:"cpeMatch"`
}

type cpeMatch struct {
	Vulnerable            bool   `json:"vulnerable"`
	Criteria              string `json:"criteria"`
	VersionStartIncluding string `json:"versionStartIncluding"`
	VersionStartExcluding string `json:"versionStartExcluding"`
	VersionEndIncluding   string `json:"versionEndIncluding"`
	VersionEndExcluding   string `json:"versionEndExcluding"`
	MatchCriteriaID       string `json:"matchCriteriaId"`
}

type reference struct {
	URL    string   `json:"url"`
	Source string   `json:"source"`
	Tags   []string `json:"tags"`
}

var cveID = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// parsePage reads a page and checks what fetch and map rely on.
func parsePage(b []byte) (*page, error) {
	var p page
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("not an NVD CVE page: %w", err)
	}
	if p.Format != "" && p.Format != "NVD_CVE" {
		return nil, fmt.Errorf("not an NVD CVE page: format %q", p.Format)
	}
	if p.Vulnerabilities == nil {
		lp, ok := legacyPage(b)
		if !ok {
			return nil, errors.New("not an NVD CVE page: no vulnerabilities array (nor a 1.1 feed's CVE_Items)")
		}
		p = *lp
	}
	if p.TotalResults < 0 || p.StartIndex < 0 {
		return nil, fmt.Errorf("not an NVD CVE page: startIndex %d, totalResults %d", p.StartIndex, p.TotalResults)
	}
	for i, v := range p.Vulnerabilities {
		if !cveID.MatchString(v.CVE.ID) {
			return nil, fmt.Errorf("vulnerabilities[%d]: id %q is not a CVE", i, v.CVE.ID)
		}
	}
	return &p, nil
}

// StageStats counts what parse or map did.
type StageStats struct {
	Documents int                 `json:"documents"`
	CVEs      int                 `json:"cves"`
	Failed    int                 `json:"failed"`
	Errors    []advisory.DocError `json:"errors,omitempty"`
}

// Parse checks pending pages; a malformed one is marked failed with the reason and the run goes on.
func (c *Connector) Parse(ctx context.Context) (StageStats, error) {
	var st StageStats
	docs, err := c.st.ListDocuments(ctx, SourceID, store.StatusPendingParse)
	if err != nil {
		return st, err
	}
	for _, d := range docs {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Documents++
		status, reason := store.StatusParsed, ""
		if p, err := parsePage(d.Content); err != nil {
			status, reason = store.StatusFailed, err.Error()
			st.Failed++
			st.Errors = append(st.Errors, advisory.DocError{Document: d.URI, Reason: reason})
		} else {
			st.CVEs += len(p.Vulnerabilities)
		}
		if err := c.st.SetDocumentStatus(ctx, SourceID, d.URI, d.Digest, status, reason); err != nil && !errors.Is(err, store.ErrConflict) {
			return st, err
		} // a conflict: the page changed under us and is pending again
	}
	return st, nil
}

// Map stores one record per CVE of the parsed pages. A page holds many records: its previous
// records are deleted before the new ones are stored, so a CVE that moved to another page is not
// left attributed to this one.
func (c *Connector) Map(ctx context.Context) (StageStats, error) {
	var st StageStats
	docs, err := c.st.ListDocuments(ctx, SourceID, store.StatusParsed)
	if err != nil {
		return st, err
	}
	// A CVE changed twice appears in two windows' pages: the copy NVD modified last wins,
	// whatever order the pages' URIs sort in.
	latest := map[string]*advisory.Advisory{}
	docOf := map[string]string{}
	var order []string
	var done []store.Document
	for _, d := range docs {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Documents++
		p, err := parsePage(d.Content)
		if err != nil { // parse accepted it; only a changed parser could get here
			st.Failed++
			st.Errors = append(st.Errors, advisory.DocError{Document: d.URI, Reason: err.Error()})
			if err := c.st.SetDocumentStatus(ctx, SourceID, d.URI, d.Digest, store.StatusFailed, err.Error()); err != nil && !errors.Is(err, store.ErrConflict) {
				return st, err
			}
			continue
		}
		for _, v := range p.Vulnerabilities {
			a := toAdvisory(v.CVE, d.URI, d.Digest)
			prev, ok := latest[a.ID]
			if !ok {
				order = append(order, a.ID)
			}
			if !ok || !a.Modified.Before(prev.Modified) {
				latest[a.ID], docOf[a.ID] = a, d.URI
			}
		}
		done = append(done, d)
	}
	advs := make([]*advisory.Advisory, len(order))
	for i, id := range order {
		advs[i] = latest[id]
	}
	encs, err := store.EncodeAll(ctx, advs)
	if err != nil {
		return st, err
	}
	recs := make([]store.MappedRecord, len(encs))
	for i, e := range encs {
		recs[i] = store.MappedRecord{Source: SourceID, DocumentURI: docOf[advs[i].ID], Encoded: e}
	}
	for _, d := range done {
		if _, err := c.st.DeleteMappedByDocument(ctx, SourceID, d.URI); err != nil {
			return st, err
		}
	}
	if err := c.st.UpsertMapped(ctx, recs); err != nil {
		return st, err
	}
	for _, d := range done {
		if err := c.st.SetDocumentStatus(ctx, SourceID, d.URI, d.Digest, store.StatusMapped, ""); err != nil && !errors.Is(err, store.ErrConflict) {
			return st, err
		}
	}
	st.CVEs = len(recs)
	return st, nil
}

// toAdvisory maps one CVE. It never fails: what cannot be read (a malformed vector, a CPE
// string of the wrong shape, an unknown date format) is left out.
func toAdvisory(v cve, uri, digest string) *advisory.Advisory {
	a := &advisory.Advisory{
		ID:         v.ID,
		Published:  parseTime(v.Published),
		Modified:   parseTime(v.LastModified),
		References: []advisory.Reference{{Type: "ADVISORY", URL: "https://nvd.nist.gov/vuln/detail/" + v.ID}},
		Sources:    []advisory.Provenance{{Source: ProvenanceName, Document: uri, Digest: digest}},
	}
	if desc := english(v.Descriptions); desc != "" {
		a.Details = desc
		a.Summary = summaryOf(desc)
	}
	if strings.EqualFold(v.VulnStatus, "Rejected") {
		// NVD gives no rejection date; the last modification is when it was rejected (or later).
		a.Withdrawn = cmp.Or(a.Modified, a.Published)
	}
	for _, set := range []struct {
		typ string
		ms  []metric
	}{{"CVSS_V4", v.Metrics.V40}, {"CVSS_V3", v.Metrics.V31}, {"CVSS_V3", v.Metrics.V30}, {"CVSS_V2", v.Metrics.V2}} {
		for _, m := range set.ms {
			sev, err := advisory.ParseCVSS(severitySource(m), set.typ, strings.TrimSpace(m.CVSSData.VectorString))
			if err != nil {
				continue // a malformed vector is no rating, not a failed document
			}
			a.Severities = append(a.Severities, sev)
		}
	}
	for _, w := range v.Weaknesses {
		for _, d := range w.Description {
			// NVD-CWE-Other and NVD-CWE-noinfo say nothing about the weakness.
			if cweID.MatchString(d.Value) {
				a.CWEs = append(a.CWEs, d.Value)
			}
		}
	}
	for _, r := range v.References {
		if r.URL != "" {
			a.References = append(a.References, advisory.Reference{Type: referenceType(r.Tags), URL: r.URL})
		}
	}
	a.Affected = affectedOf(v.Configurations)
	a.Normalize()
	return a
}

var cweID = regexp.MustCompile(`^CWE-\d+$`)

// severitySource names a rating's source: NVD's own (primary) analysis is "nvd", a CNA's or
// NVD's secondary one "nvd:<source>", so merge can tell them apart.
func severitySource(m metric) string {
	if m.Source == "nvd@nist.gov" && m.Type == "Primary" {
		return ProvenanceName
	}
	return ProvenanceName + ":" + cmp.Or(m.Source, "unknown")
}

// referenceType maps NVD's reference tags to OSV reference types; untagged links are WEB.
func referenceType(tags []string) string {
	rank := map[string]string{}
	for _, t := range tags {
		switch t {
		case "Vendor Advisory", "Third Party Advisory", "US Government Resource":
			rank["ADVISORY"] = "ADVISORY"
		case "Patch":
			rank["FIX"] = "FIX"
		case "Exploit":
			rank["EVIDENCE"] = "EVIDENCE"
		case "Issue Tracking":
			rank["REPORT"] = "REPORT"
		case "Mailing List":
			rank["DISCUSSION"] = "DISCUSSION"
		}
	}
	// One link often has several tags; the most specific about the fix or the advisory wins.
	for _, t := range []string{"ADVISORY", "FIX", "EVIDENCE", "REPORT", "DISCUSSION"} {
		if _, ok := rank[t]; ok {
			return t
		}
	}
	return "WEB"
}

// english picks the English description (NVD requires one), else the first.
func english(ds []langString) string {
	for _, d := range ds {
		if d.Lang == "en" {
			return strings.TrimSpace(d.Value)
		}
	}
	if len(ds) > 0 {
		return strings.TrimSpace(ds[0].Value)
	}
	return ""
}

// summaryOf is the description's first sentence, cut to 300 runes: NVD has no title, and the
// summary is shown on one line.
func summaryOf(desc string) string {
	s := desc
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > 300 {
		r := []rune(s)
		s = strings.TrimSpace(string(r[:299])) + "…"
	}
	return s
}

// parseTime reads NVD's timestamps, which are UTC without a zone ("2021-12-10T10:15:09.143").
func parseTime(s string) time.Time {
	// 1.1 feeds write "2021-12-10T10:15Z".
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
