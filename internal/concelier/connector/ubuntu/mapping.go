package ubuntu

import (
	"regexp"
	"strings"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/inventory"
)

// ProvenanceSource is the provenance name of every record; merge's precedence table classifies it
// as a distro source.
const ProvenanceSource = "ubuntu-tracker"

// releases maps tracker codenames to os-release VERSION_IDs, which is what Ubuntu distro keys use
// ("ubuntu:22.04"). Releases older than trusty are absent on purpose: no supported image uses
// them and the tracker marks them all end-of-life. A codename missing here is skipped (and
// counted) rather than guessed, so a new release needs a line here.
var releases = map[string]string{
	"trusty":   "14.04",
	"xenial":   "16.04",
	"bionic":   "18.04",
	"cosmic":   "18.10",
	"disco":    "19.04",
	"eoan":     "19.10",
	"focal":    "20.04",
	"groovy":   "20.10",
	"hirsute":  "21.04",
	"impish":   "21.10",
	"jammy":    "22.04",
	"kinetic":  "22.10",
	"lunar":    "23.04",
	"mantic":   "23.10",
	"noble":    "24.04",
	"oracular": "24.10",
	"plucky":   "25.04",
	"questing": "25.10",
}

// ReleaseVersion returns the VERSION_ID of a tracker codename, "" for one we do not map.
func ReleaseVersion(codename string) string { return releases[codename] }

// debVersionRE is a Debian version as the tracker writes released versions: an optional epoch,
// then the upstream version and revision (no spaces). Notes that are prose fail it.
var debVersionRE = regexp.MustCompile(`^(\d+:)?[0-9][A-Za-z0-9.+~:-]*$`)

// MapStats counts the release lines a mapping kept and skipped, for the stage statistics.
type MapStats struct {
	Kept int
	// SkippedRelease: upstream, devel, ESM/fips/overlay pockets and unknown codenames.
	SkippedRelease int
	// SkippedStatus: DNE, empty statuses, and "released" without a usable version.
	SkippedStatus int
}

// Map turns a parsed tracker file into the canonical advisory. document and digest name the raw
// document for provenance.
//
// Release lines:
//   - "upstream" and "devel" are skipped: neither is a release an image runs.
//   - Pockets written "<release>/<pocket>" or "<pocket>/<release>" (trusty/esm, esm-infra/xenial,
//     esm-apps/jammy, focal/fips, vivid/stable-phone-overlay) are skipped: their fixes need an
//     Ubuntu Pro or FIPS subscription an ordinary image does not have, and mapping them under the
//     plain release key would give a second, contradicting statement for the same package.
//
// Statuses:
//   - released (v) → fixed: an ECOSYSTEM range introduced 0, fixed v.
//   - needed, active → affected. pending (v) → affected with no fixed version: v is the version
//     the fix is expected in, not one published to the archive, so it cannot close a range yet.
//   - deferred → fix_deferred.
//   - ignored → end_of_life when the note says the release or package reached end of life or
//     left standard support ("end of standard support", "reached end-of-life", "out of standard
//     support", "was needs-triage now end-of-life"), otherwise will_not_fix.
//   - needs-triage → under_investigation; not-affected → not_affected.
//   - DNE (the package does not exist in that release) and empty statuses are skipped.
//
// Priority (or Priority_<package>) gives each package's Severity; "untriaged" gives none.
func Map(f *File, document, digest string) (*advisory.Advisory, MapStats) {
	var st MapStats
	a := &advisory.Advisory{
		ID:        f.Candidate,
		Details:   f.Description,
		Summary:   firstLine(f.UbuntuDescription),
		Published: f.PublicDate,
		Sources:   []advisory.Provenance{{Source: ProvenanceSource, Document: document, Digest: digest}},
	}
	for _, r := range f.References {
		if isURL(r) {
			a.References = append(a.References, advisory.Reference{Type: "WEB", URL: r})
		}
	}
	for _, r := range f.Bugs {
		if isURL(r) {
			a.References = append(a.References, advisory.Reference{Type: "REPORT", URL: r})
		}
	}
	a.References = append(a.References, advisory.Reference{Type: "ADVISORY", URL: "https://ubuntu.com/security/" + f.Candidate})
	for _, c := range f.CVSS {
		// The tracker copies other scorers' vectors (mostly NVD's); the severity's source keeps
		// who scored it so merge does not take it for Ubuntu's own rating.
		if s, err := advisory.ParseCVSS(ProvenanceSource+":"+c.Source, "", c.Vector); err == nil {
			a.Severities = append(a.Severities, s)
		}
	}
	for _, ps := range f.Statuses {
		version := ReleaseVersion(ps.Release)
		if version == "" {
			st.SkippedRelease++
			continue
		}
		aff := advisory.Affected{
			Ecosystem: inventory.EcosystemDeb,
			Distro:    advisory.DistroKey(inventory.Distro{ID: "ubuntu", VersionID: version}),
			Package:   ps.Package,
			Source:    ProvenanceSource,
		}
		switch ps.Status {
		case "released":
			v, _, _ := strings.Cut(ps.Note, " ")
			if !debVersionRE.MatchString(v) {
				st.SkippedStatus++
				continue
			}
			aff.Status = advisory.StatusFixed
			aff.Ranges = []advisory.Range{{Type: advisory.RangeEcosystem, Events: []advisory.Event{{Introduced: "0"}, {Fixed: v}}}}
		case "needed", "active", "pending":
			aff.Status = advisory.StatusAffected
		case "deferred":
			aff.Status = advisory.StatusFixDeferred
		case "ignored":
			aff.Status = ignoredStatus(ps.Note)
		case "needs-triage":
			aff.Status = advisory.StatusUnderInvestigation
		case "not-affected":
			aff.Status = advisory.StatusNotAffected
		default: // DNE, empty, or a status the tracker may add later
			st.SkippedStatus++
			continue
		}
		prio := f.Priority
		if p, ok := f.PackagePriority[ps.Package]; ok {
			prio = p
		}
		if lvl := advisory.ParseLevel(prio); lvl != advisory.LevelUnknown {
			aff.Severity = &advisory.Severity{Source: ProvenanceSource, Level: lvl}
		}
		a.Affected = append(a.Affected, aff)
		st.Kept++
	}
	a.Normalize()
	return a, st
}

// ignoredStatus tells end-of-life apart from a decision not to fix, from the note.
func ignoredStatus(note string) advisory.Status {
	n := strings.ToLower(note)
	for _, s := range []string{"end-of-life", "end of life", "end of standard support", "out of standard support", "end-of-standard-support"} {
		if strings.Contains(n, s) {
			return advisory.StatusEndOfLife
		}
	}
	return advisory.StatusWillNotFix
}

func isURL(s string) bool { return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n\n")
	return strings.Join(strings.Fields(line), " ")
}
