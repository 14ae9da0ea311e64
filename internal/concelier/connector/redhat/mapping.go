package redhat

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/inventory"
)

// ProvenanceSource is the provenance name of every record; merge's precedence table classifies it
// as a distro source.
const ProvenanceSource = "redhat-csaf"

// rhelCPE matches the mainline RHEL platforms: cpe:/o:redhat:enterprise_linux:9,
// cpe:/a:redhat:enterprise_linux:9::appstream, cpe:/o:redhat:enterprise_linux:7::server, and the
// minor-release form some products use (enterprise_linux:8.2 is still the rhel 8 line).
var rhelCPE = regexp.MustCompile(`^cpe:/[ao]:redhat:enterprise_linux:(\d+)(?:\.\d+)?(?::|$)`)

// ReleaseOf returns the RHEL major release a platform CPE is keyed by ("9"), or "" for a CPE we
// do not map. Extended-support streams (rhel_eus, rhel_aus, rhel_tus, rhel_e4s, rhel_els) are
// deliberately not mapped: their fixes (el8_6.1) ship only to subscribers of that minor release,
// and Concelier keys RHEL by major version like the matcher does, so filing them under rhel:8
// would tell a mainline RHEL 8 image that an older EUS build fixes it.
func ReleaseOf(cpe string) string {
	m := rhelCPE.FindStringSubmatch(cpe)
	if m == nil {
		return ""
	}
	return m[1]
}

// MapStats counts the product statements a mapping kept and skipped.
type MapStats struct {
	Kept int
	// SkippedPlatform: products on platforms other than mainline RHEL (EUS-family streams,
	// other products) or with no platform.
	SkippedPlatform int
	// SkippedModule: module-stream packages (…module+el…).
	SkippedModule int
	// SkippedOther: source RPMs, bare platforms and unresolved product IDs.
	SkippedOther int
}

func (s *MapStats) add(o MapStats) {
	s.Kept += o.Kept
	s.SkippedPlatform += o.SkippedPlatform
	s.SkippedModule += o.SkippedModule
	s.SkippedOther += o.SkippedOther
}

// Map turns a CSAF document into canonical advisories, one per vulnerability (a VEX file has one,
// an RHSA may list several). document and digest name the raw document for provenance.
//
// Product status → canonical status:
//   - fixed → fixed with an ECOSYSTEM range introduced 0, fixed <epoch:version-release>.
//   - known_affected → from the product's remediation: no_fix_planned → will_not_fix;
//     none_available → fix_deferred when its details say "Deferred", end_of_life when they say
//     "Out of support scope", affected otherwise; any other → affected.
//   - known_not_affected → not_affected; under_investigation → under_investigation.
//
// A product is mapped only when it resolves to a mainline RHEL platform (see ReleaseOf) and a
// binary package: source RPMs (arch=src) are skipped since RPM advisories are keyed by binary
// name. Module-stream builds (…module+el8…) are skipped: their versions are only comparable
// within the stream, and the matcher does not know an installed package's module stream, so a
// range over them would misfire on non-modular builds of the same name.
//
// The threat of category impact ("Important") gives each package's Severity; cvss_v3 scores give
// the advisory's Severities.
func Map(d *Document, document, digest string) ([]*advisory.Advisory, MapStats) {
	var st MapStats
	products := d.Products()
	out := make([]*advisory.Advisory, 0, len(d.Vulnerabilities))
	for i := range d.Vulnerabilities {
		a, s := mapVuln(d, &d.Vulnerabilities[i], products, document, digest)
		st.add(s)
		out = append(out, a)
	}
	return out, st
}

func mapVuln(d *Document, v *Vulnerability, products map[string]Component, document, digest string) (*advisory.Advisory, MapStats) {
	var st MapStats
	a := &advisory.Advisory{
		ID:        v.CVE,
		Summary:   v.Title,
		Published: parseTime(v.ReleaseDate),
		Modified:  parseTime(d.Document.Tracking.CurrentReleaseDate),
		Sources:   []advisory.Provenance{{Source: ProvenanceSource, Document: document, Digest: digest}},
	}
	if id := d.Document.Tracking.ID; id != v.CVE && strings.HasPrefix(id, "RHSA-") {
		a.Related = []string{id}
	}
	for _, n := range v.Notes {
		if n.Category == "description" {
			a.Details = n.Text
		}
	}
	if v.CWE != nil && v.CWE.ID != "" {
		a.CWEs = []string{v.CWE.ID}
	}
	for _, r := range v.References {
		typ := "WEB"
		if r.Category == "self" {
			typ = "ADVISORY"
		}
		a.References = append(a.References, advisory.Reference{Type: typ, URL: r.URL})
	}
	for _, s := range v.Scores {
		if s.CVSSv3 == nil || s.CVSSv3.VectorString == "" {
			continue
		}
		if sev, err := advisory.ParseCVSS(ProvenanceSource, "CVSS_V3", s.CVSSv3.VectorString); err == nil {
			a.Severities = append(a.Severities, sev)
		}
	}

	// Impact: a product-specific threat wins over the vulnerability-wide one.
	var impact string
	productImpact := map[string]string{}
	for _, t := range v.Threats {
		if t.Category != "impact" {
			continue
		}
		if len(t.ProductIDs) == 0 {
			impact = t.Details
		}
		for _, id := range t.ProductIDs {
			productImpact[id] = t.Details
		}
	}
	remediation := map[string]struct{ category, details string }{}
	for _, r := range v.Remediations {
		for _, id := range r.ProductIDs {
			prev, seen := remediation[id]
			// A vendor_fix says more than a workaround listed beside it.
			if !seen || prev.category == "workaround" || prev.category == "mitigation" {
				remediation[id] = struct{ category, details string }{r.Category, r.Details}
			}
		}
	}

	add := func(ids []string, status func(id string) advisory.Status) {
		for _, id := range sortedUnique(ids) {
			c, ok := products[id]
			s := status(id)
			// Fixed builds are listed per architecture, binary RPMs beside the source RPM; the
			// binaries are what installs. Statements without a fix name the component by its
			// source package (arch=src, no version): that name is all the feed gives, and for
			// most packages it is also the main binary's.
			if !ok || c.Name == "" || (c.Arch == "src" && s == advisory.StatusFixed) {
				st.SkippedOther++
				continue
			}
			rel := ReleaseOf(c.CPE)
			if rel == "" {
				st.SkippedPlatform++
				continue
			}
			if strings.Contains(c.EVR, ".module+") {
				st.SkippedModule++
				continue
			}
			aff := advisory.Affected{
				Ecosystem: inventory.EcosystemRPM,
				Distro:    advisory.DistroKey(inventory.Distro{ID: "rhel", VersionID: rel}),
				Package:   c.Name,
				Status:    s,
				Source:    ProvenanceSource,
			}
			if s == advisory.StatusFixed {
				if c.EVR == "" {
					st.SkippedOther++
					continue
				}
				aff.Ranges = []advisory.Range{{Type: advisory.RangeEcosystem, Events: []advisory.Event{{Introduced: "0"}, {Fixed: c.EVR}}}}
			}
			lvl := impact
			if p, ok := productImpact[id]; ok {
				lvl = p
			}
			if l := advisory.ParseLevel(lvl); l != advisory.LevelUnknown {
				aff.Severity = &advisory.Severity{Source: ProvenanceSource, Level: l}
			}
			a.Affected = append(a.Affected, aff)
			st.Kept++
		}
	}
	ps := &v.ProductStatus
	add(ps.Fixed, func(string) advisory.Status { return advisory.StatusFixed })
	add(ps.KnownAffected, func(id string) advisory.Status {
		r := remediation[id]
		details := strings.ToLower(r.details)
		switch {
		case r.category == "no_fix_planned":
			if strings.Contains(details, "out of support scope") {
				return advisory.StatusEndOfLife
			}
			return advisory.StatusWillNotFix
		case r.category == "none_available" && strings.Contains(details, "deferred"):
			return advisory.StatusFixDeferred
		case r.category == "none_available" && strings.Contains(details, "out of support scope"):
			return advisory.StatusEndOfLife
		}
		return advisory.StatusAffected
	})
	add(ps.KnownNotAffected, func(string) advisory.Status { return advisory.StatusNotAffected })
	add(ps.UnderInvestigation, func(string) advisory.Status { return advisory.StatusUnderInvestigation })
	a.Normalize()
	return a, st
}

func parseTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// FixedPackages lists (cpe, name, evr) of every fixed package (source and binary), on any platform: what the
// document says was shipped, before the platform and module filters. Tests compare it with the
// OSV conversion of the same advisory.
func FixedPackages(d *Document) [][3]string {
	products := d.Products()
	var out [][3]string
	for _, v := range d.Vulnerabilities {
		for _, id := range v.ProductStatus.Fixed {
			if c, ok := products[id]; ok && c.Name != "" {
				out = append(out, [3]string{c.CPE, c.Name, c.EVR})
			}
		}
	}
	slices.SortFunc(out, func(x, y [3]string) int {
		return strings.Compare(strings.Join(x[:], "\x00"), strings.Join(y[:], "\x00"))
	})
	return slices.Compact(out)
}
