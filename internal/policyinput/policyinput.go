// Package policyinput turns a scan's matcher findings into what the policy judges, in one
// place for the CLI (`scan run --policy-file`), the worker and the report endpoint, so a report
// names findings alike whichever of them assembled it.
package policyinput

import (
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/policy"
)

// FindingID names a finding uniquely within a scan: its vulnerability and its component (the
// purl, else name@version).
func FindingID(f match.Finding) string {
	c := f.Component.PURL
	if c == "" {
		c = f.Component.Name + "@" + f.Component.Version
	}
	return f.ID + " " + c
}

// SourceName is the feed a finding's severity came from, in the spelling trust weights use
// ("NVD", "GHSA", "OSV", or a distro).
func SourceName(f match.Finding) string {
	s := f.SeveritySource
	if s == "" {
		s = f.DataSource
	}
	s, _, _ = strings.Cut(s, " ")
	switch {
	case strings.HasPrefix(s, "nvd"):
		return "NVD"
	case strings.HasPrefix(s, "ghsa"):
		return "GHSA"
	case strings.HasPrefix(s, "osv"):
		return "OSV"
	}
	return s
}

// SubjectDigest names the scanned artefact in a report: the image manifest digest, or the SBOM
// document's digest; a target without one (a directory) gets the all-zero digest.
func SubjectDigest(t inventory.Target) string {
	if t.Digest != "" {
		return t.Digest
	}
	return "sha256:" + strings.Repeat("0", 64)
}

// Findings maps fs to policy findings. vexOf, when not nil, gives the VEX statement of the i-th
// finding: only the deciding statement, because a lower-trust claim that was overruled must
// not satisfy a requireVex rule. A repeated finding id keeps its first finding: the policy
// refuses duplicates.
func Findings(fs []match.Finding, vexOf func(i int) *policy.VEXStatement) []policy.Finding {
	out := make([]policy.Finding, 0, len(fs))
	seen := make(map[string]bool, len(fs))
	for i, f := range fs {
		id := FindingID(f)
		if seen[id] {
			continue
		}
		seen[id] = true
		pf := policy.Finding{
			ID:              id,
			Severity:        string(f.Severity),
			Source:          SourceName(f),
			Vendor:          f.Distro,
			Package:         f.Component.PURL,
			Vulnerabilities: append([]string{f.ID}, f.Aliases...),
		}
		if f.KnownExploited {
			pf.Tags = append(pf.Tags, "kev")
		}
		if vexOf != nil {
			if st := vexOf(i); st != nil {
				pf.VEX = []policy.VEXStatement{*st}
			}
		}
		out = append(out, pf)
	}
	return out
}

// RecordedVEX is a vexOf reading the decision recorded on each finding (match.Finding.VEX).
func RecordedVEX(fs []match.Finding) func(i int) *policy.VEXStatement {
	return func(i int) *policy.VEXStatement {
		v := fs[i].VEX
		if v == nil || v.Issuer == "" {
			return nil
		}
		return &policy.VEXStatement{Vendor: v.Issuer, Status: v.Status, Justification: v.Justification}
	}
}
