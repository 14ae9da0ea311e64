package report

import (
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/uuid"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/scan"
)

// writeCycloneDX writes the inventory's CycloneDX 1.6 BOM (as sbom.Encode does) plus one
// vulnerability per advisory, whose affects point at the components' bom-refs and whose other
// identifiers are listed under references.
func writeCycloneDX(w io.Writer, res *scan.Result, opts Options) error {
	if res.Inventory == nil {
		return fmt.Errorf("cyclonedx report: result has no inventory")
	}
	bom, refs := sbom.CycloneDX(res.Inventory, sbom.EncodeOptions{ToolVersion: opts.ToolVersion})
	// The serial number covers the findings and the snapshot too, not just the inventory.
	sum := sha256.Sum256([]byte(bom.SerialNumber + "\n" + res.Snapshot.Digest + "\n" + findingsKey(res.Findings)))
	bom.SerialNumber = "urn:uuid:" + uuid.NewSHA1(uuid.NameSpaceOID, sum[:]).String()
	if bom.Metadata != nil && !res.Snapshot.CreatedAt.IsZero() {
		// The document describes the state of the advisory data, so it carries that time.
		bom.Metadata.Timestamp = res.Snapshot.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	byID := map[string][]*match.Finding{}
	var ids []string
	for i := range res.Findings {
		f := &res.Findings[i]
		if _, ok := byID[f.ID]; !ok {
			ids = append(ids, f.ID)
		}
		byID[f.ID] = append(byID[f.ID], f)
	}
	slices.Sort(ids)
	vulns := make([]cdx.Vulnerability, 0, len(ids))
	for _, id := range ids {
		fs := byID[id]
		vulns = append(vulns, cdxVulnerability(id, fs, refs))
	}
	bom.Vulnerabilities = &vulns
	return sbom.WriteCycloneDX(w, bom, false)
}

func findingsKey(fs []match.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.ID + " " + f.Component.PURL + " " + f.InstalledVersion + "\n")
	}
	return b.String()
}

func cdxVulnerability(id string, fs []*match.Finding, refs map[string]string) cdx.Vulnerability {
	f := fs[0]
	v := cdx.Vulnerability{
		BOMRef:      id,
		ID:          id,
		Source:      sourceOf(id, f.PrimaryURL),
		Description: f.Summary,
	}
	var vrefs []cdx.VulnerabilityReference
	for _, a := range f.Aliases {
		vrefs = append(vrefs, cdx.VulnerabilityReference{ID: a, Source: sourceOf(a, "")})
	}
	if len(vrefs) > 0 {
		v.References = &vrefs
	}
	var ratings []cdx.VulnerabilityRating
	for _, c := range f.CVSS {
		score := c.Score
		ratings = append(ratings, cdx.VulnerabilityRating{Source: &cdx.Source{Name: c.Source}, Score: &score,
			Severity: cdxSeverity(c.Level), Method: cdxMethod(c.Type, c.Vector), Vector: c.Vector})
	}
	if f.Severity != advisory.LevelUnknown && f.SeveritySource != "" && !strings.Contains(f.SeveritySource, "CVSS_") {
		ratings = append(ratings, cdx.VulnerabilityRating{Source: &cdx.Source{Name: f.SeveritySource},
			Severity: cdxSeverity(f.Severity), Method: cdx.ScoringMethodOther})
	}
	if len(ratings) > 0 {
		v.Ratings = &ratings
	}
	var cwes []int
	for _, c := range f.CWEs {
		if n, err := strconv.Atoi(strings.TrimPrefix(c, "CWE-")); err == nil {
			cwes = append(cwes, n)
		}
	}
	if len(cwes) > 0 {
		v.CWEs = &cwes
	}
	if f.PrimaryURL != "" {
		v.Advisories = &[]cdx.Advisory{{URL: f.PrimaryURL}}
	}
	var affects []cdx.Affects
	var recs []string
	for _, ff := range fs {
		ref := refs[componentKey(ff)]
		if ref == "" {
			continue
		}
		affects = append(affects, cdx.Affects{Ref: ref, Range: &[]cdx.AffectedVersions{{
			Version: ff.Component.Version, Status: cdx.VulnerabilityStatusAffected}}})
		if ff.FixedVersion != "" {
			recs = append(recs, fmt.Sprintf("Upgrade %s to %s or later.", ff.MatchedPackage, ff.FixedVersion))
		}
	}
	slices.SortFunc(affects, func(a, b cdx.Affects) int { return strings.Compare(a.Ref, b.Ref) })
	v.Affects = &affects
	slices.Sort(recs)
	v.Recommendation = strings.Join(slices.Compact(recs), " ")
	props := []cdx.Property{
		{Name: "stellaops:status", Value: string(f.Status)},
		{Name: "stellaops:matchMethod", Value: f.MatchMethod},
		{Name: "stellaops:dataSource", Value: f.DataSource},
		{Name: "stellaops:snapshot", Value: f.Snapshot},
	}
	if f.SeveritySource != "" {
		props = append(props, cdx.Property{Name: "stellaops:severitySource", Value: f.SeveritySource})
	}
	v.Properties = &props
	return v
}

// componentKey rebuilds the inventory key of a finding's component (its purl, or the unknown-
// ecosystem fallback).
func componentKey(f *match.Finding) string {
	if f.Component.PURL != "" {
		return f.Component.PURL
	}
	return "unknown:" + f.Component.Name + "@" + f.Component.Version
}

// sourceOf names the database an identifier belongs to, from its prefix.
func sourceOf(id, url string) *cdx.Source {
	prefix, _, _ := strings.Cut(id, "-")
	names := map[string][2]string{
		"CVE":     {"NVD", "https://nvd.nist.gov/vuln/detail/" + id},
		"GHSA":    {"GitHub Advisory Database", "https://github.com/advisories/" + id},
		"GO":      {"Go Vulnerability Database", "https://pkg.go.dev/vuln/" + id},
		"PYSEC":   {"PyPA Advisory Database", "https://osv.dev/vulnerability/" + id},
		"RUSTSEC": {"RustSec Advisory Database", "https://rustsec.org/advisories/" + id},
		"ALSA":    {"AlmaLinux", "https://errata.almalinux.org/"},
		"PSF":     {"PSF Advisory Database", "https://osv.dev/vulnerability/" + id},
	}
	if n, ok := names[prefix]; ok {
		if url == "" {
			url = n[1]
		}
		return &cdx.Source{Name: n[0], URL: url}
	}
	return &cdx.Source{Name: prefix, URL: url}
}

func cdxSeverity(l advisory.Level) cdx.Severity {
	switch l {
	case advisory.LevelCritical:
		return cdx.SeverityCritical
	case advisory.LevelHigh:
		return cdx.SeverityHigh
	case advisory.LevelMedium:
		return cdx.SeverityMedium
	case advisory.LevelLow:
		return cdx.SeverityLow
	case advisory.LevelNone:
		return cdx.SeverityNone
	}
	return cdx.SeverityUnknown
}

func cdxMethod(typ, vector string) cdx.ScoringMethod {
	switch {
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		return cdx.ScoringMethodCVSSv31
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		return cdx.ScoringMethodCVSSv3
	case typ == "CVSS_V4":
		return cdx.ScoringMethodCVSSv4
	case typ == "CVSS_V2":
		return cdx.ScoringMethodCVSSv2
	}
	return cdx.ScoringMethodOther
}
