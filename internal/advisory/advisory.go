// Package advisory owns the canonical advisory model: one record per vulnerability (keyed by its
// CVE when there is one), the packages it affects per ecosystem or distro release, severities with
// their sources, and the provenance of every record. Feeds (OSV here; distro trackers, NVD and
// others in Concelier) are mapped into it; the snapshot package freezes it for matching.
//
// It must not fetch anything or know about inventories beyond the ecosystem names; matching lives
// in internal/match.
package advisory

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/inventory"
)

// Status says what a source states about a package and a vulnerability. The values and their
// order follow Trivy's DB status integers (0 unknown … 7 end_of_life).
type Status string

// Statuses.
const (
	StatusUnknown            Status = "unknown"
	StatusNotAffected        Status = "not_affected"
	StatusAffected           Status = "affected"
	StatusFixed              Status = "fixed"
	StatusUnderInvestigation Status = "under_investigation"
	StatusWillNotFix         Status = "will_not_fix"
	StatusFixDeferred        Status = "fix_deferred"
	StatusEndOfLife          Status = "end_of_life"
)

// RangeType is an OSV range type.
type RangeType string

// Range types. GIT ranges name commits and are never evaluated against package versions.
const (
	RangeSemVer    RangeType = "SEMVER"
	RangeEcosystem RangeType = "ECOSYSTEM"
	RangeGit       RangeType = "GIT"
)

// Event is one OSV range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Range is an OSV affected range.
type Range struct {
	Type   RangeType `json:"type"`
	Repo   string    `json:"repo,omitempty"`
	Events []Event   `json:"events"`
}

// Affected is what one source says about one package: in a language ecosystem (Distro empty) or
// in one distro release (Distro "debian:12", "almalinux:8"), by ranges, explicit versions, or a
// status such as will_not_fix.
type Affected struct {
	Ecosystem inventory.Ecosystem `json:"ecosystem"`
	// Distro is the release key (see DistroKey); empty for language ecosystems.
	Distro string `json:"distro,omitempty"`
	// Package is the name the source uses: a source package for Debian, Ubuntu and Alpine feeds,
	// a binary package for RPM distros, the ecosystem's full name for languages.
	Package  string   `json:"package"`
	Ranges   []Range  `json:"ranges,omitempty"`
	Versions []string `json:"versions,omitempty"`
	// Status is set by distro feeds; for range data it is empty (fixed or affected is derived).
	Status Status `json:"status,omitempty"`
	// Severity is the package-level rating a distro gives (Debian urgency, Ubuntu priority).
	Severity *Severity `json:"severity,omitempty"`
	// Source names the provenance entry this came from.
	Source string `json:"source"`
}

// Reference is a link about the vulnerability.
type Reference struct {
	Type string `json:"type,omitempty"`
	URL  string `json:"url"`
}

// Provenance names a source document an advisory was built from.
type Provenance struct {
	// Source is the feed: "osv:Go", "osv:AlmaLinux", later "debian-tracker", "nvd", …
	Source string `json:"source"`
	// Document is the record's id or path within the feed.
	Document string `json:"document"`
	// Digest is "sha256:<hex>" of the document bytes as read.
	Digest string `json:"digest"`
}

// Advisory is one vulnerability.
type Advisory struct {
	// ID is the CVE when the sources name exactly one, otherwise the source's own identifier.
	ID string `json:"id"`
	// Aliases are the other identifiers of the same vulnerability (GHSA, GO, PYSEC, …), sorted.
	Aliases []string `json:"aliases,omitempty"`
	// Related are identifiers of related but distinct records (an ALSA erratum's CVEs).
	Related    []string    `json:"related,omitempty"`
	Summary    string      `json:"summary,omitempty"`
	Details    string      `json:"details,omitempty"`
	Published  time.Time   `json:"published,omitzero"`
	Modified   time.Time   `json:"modified,omitzero"`
	Withdrawn  time.Time   `json:"withdrawn,omitzero"`
	Severities []Severity  `json:"severities,omitempty"`
	CWEs       []string    `json:"cwes,omitempty"`
	References []Reference `json:"references,omitempty"`
	Affected   []Affected  `json:"affected,omitempty"`
	// KnownExploited is set from CISA KEV; it never changes ranges.
	KnownExploited bool         `json:"knownExploited,omitempty"`
	Sources        []Provenance `json:"sources"`
}

// PrimaryURL picks the advisory's own page: an ADVISORY reference, else a WEB one, else the first.
func (a *Advisory) PrimaryURL() string {
	best, rank := "", 3
	for _, r := range a.References {
		k := 2
		switch r.Type {
		case "ADVISORY":
			k = 0
		case "WEB":
			k = 1
		}
		if k < rank {
			best, rank = r.URL, k
		}
	}
	return best
}

// IDs returns the advisory's identifier followed by its aliases.
func (a *Advisory) IDs() []string { return append([]string{a.ID}, a.Aliases...) }

// Normalize sorts and de-duplicates every list so equal advisories encode to equal bytes.
func (a *Advisory) Normalize() {
	a.Aliases = uniq(slices.DeleteFunc(a.Aliases, func(s string) bool { return s == a.ID }))
	a.Related = uniq(slices.DeleteFunc(a.Related, func(s string) bool { return s == a.ID || slices.Contains(a.Aliases, s) }))
	a.CWEs = uniq(a.CWEs)
	slices.SortFunc(a.References, func(x, y Reference) int { return cmp.Or(cmp.Compare(x.URL, y.URL), cmp.Compare(x.Type, y.Type)) })
	a.References = slices.Compact(a.References)
	slices.SortFunc(a.Severities, compareSeverity)
	a.Severities = slices.CompactFunc(a.Severities, func(x, y Severity) bool { return compareSeverity(x, y) == 0 })
	for i := range a.Affected {
		a.Affected[i].Versions = uniq(a.Affected[i].Versions)
	}
	// Sort by key, then by full content, so identical statements (the same document read twice)
	// sit together and collapse.
	enc := make(map[*Affected]string, len(a.Affected))
	content := func(x *Affected) string {
		if s, ok := enc[x]; ok {
			return s
		}
		b, _ := json.Marshal(x) // plain data: cannot fail
		enc[x] = string(b)
		return string(b)
	}
	idx := make([]int, len(a.Affected))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int {
		x, y := &a.Affected[i], &a.Affected[j]
		return cmp.Or(cmp.Compare(x.Ecosystem, y.Ecosystem), cmp.Compare(x.Distro, y.Distro),
			cmp.Compare(x.Package, y.Package), cmp.Compare(x.Source, y.Source), cmp.Compare(content(x), content(y)))
	})
	sorted := make([]Affected, 0, len(idx))
	for n, i := range idx {
		if n > 0 && content(&a.Affected[i]) == content(&a.Affected[idx[n-1]]) {
			continue
		}
		sorted = append(sorted, a.Affected[i])
	}
	a.Affected = sorted
	slices.SortFunc(a.Sources, func(x, y Provenance) int {
		return cmp.Or(cmp.Compare(x.Source, y.Source), cmp.Compare(x.Document, y.Document), cmp.Compare(x.Digest, y.Digest))
	})
	a.Sources = slices.Compact(a.Sources)
}

// Merge folds b (a record of the same vulnerability from another document) into a: identifiers,
// affected packages, severities and references are united; text and dates are kept from a unless
// empty. The precedence rules of Concelier's merge build on this.
func (a *Advisory) Merge(b *Advisory) {
	if b.ID != a.ID {
		a.Aliases = append(a.Aliases, b.ID)
	}
	a.Aliases = append(a.Aliases, b.Aliases...)
	a.Related = append(a.Related, b.Related...)
	a.Summary = cmp.Or(a.Summary, b.Summary)
	a.Details = cmp.Or(a.Details, b.Details)
	if a.Published.IsZero() || (!b.Published.IsZero() && b.Published.Before(a.Published)) {
		a.Published = b.Published
	}
	if b.Modified.After(a.Modified) {
		a.Modified = b.Modified
	}
	a.Severities = append(a.Severities, b.Severities...)
	a.CWEs = append(a.CWEs, b.CWEs...)
	a.References = append(a.References, b.References...)
	a.Affected = append(a.Affected, b.Affected...)
	a.KnownExploited = a.KnownExploited || b.KnownExploited
	a.Sources = append(a.Sources, b.Sources...)
	a.Normalize()
}

// CanonicalID picks the key of a record: its CVE alias when it has exactly one (or is one),
// otherwise its own id.
func CanonicalID(id string, aliases []string) string {
	if strings.HasPrefix(id, "CVE-") {
		return id
	}
	var cve string
	for _, a := range aliases {
		if strings.HasPrefix(a, "CVE-") {
			if cve != "" && cve != a {
				return id
			}
			cve = a
		}
	}
	return cmp.Or(cve, id)
}

func uniq(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.DeleteFunc(s, func(v string) bool { return v == "" })
	slices.Sort(s)
	s = slices.Compact(s)
	if len(s) == 0 {
		return nil
	}
	return s
}
