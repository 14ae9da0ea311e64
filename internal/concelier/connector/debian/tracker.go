package debian

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/version"
)

// ProvenanceSource is the provenance name of mapped records; merge precedence knows it as a
// distro source.
const ProvenanceSource = "debian-tracker"

// releases maps the tracker's codenames to the release part of distro keys ("debian:12").
// Unknown codenames (experimental, or a release newer than this table) are skipped: a key the
// matcher never looks up would only add noise.
var releases = map[string]string{
	"squeeze":  "6",
	"wheezy":   "7",
	"jessie":   "8",
	"stretch":  "9",
	"buster":   "10",
	"bullseye": "11",
	"bookworm": "12",
	"trixie":   "13",
	"forky":    "14",
	"sid":      "unstable",
}

// ReleaseKey returns the distro key of a tracker codename ("bookworm" → "debian:12"), or "".
func ReleaseKey(codename string) string {
	v, ok := releases[codename]
	if !ok {
		return ""
	}
	return advisory.DistroKey(inventory.Distro{ID: "debian", VersionID: v})
}

var cveRE = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

var debScheme = func() version.Scheme {
	s, ok := version.For(inventory.EcosystemDeb)
	if !ok {
		panic("version: no deb scheme")
	}
	return s
}()

// trackerRelease is one release's state of one package and CVE in the tracker's JSON.
type trackerRelease struct {
	Status       string            `json:"status"`
	FixedVersion string            `json:"fixed_version"`
	Urgency      string            `json:"urgency"`
	NoDSA        string            `json:"nodsa"`
	NoDSAReason  string            `json:"nodsa_reason"`
	Repositories map[string]string `json:"repositories"`
}

type trackerCVE struct {
	Description string                    `json:"description"`
	Scope       string                    `json:"scope"`
	DebianBug   json.Number               `json:"debianbug"`
	Releases    map[string]trackerRelease `json:"releases"`
}

// ParseJSON reads the tracker's JSON (https://security-tracker.debian.org/tracker/data/json):
// source package → CVE → per-release state.
func ParseJSON(b []byte) (map[string]map[string]trackerCVE, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, errors.New("tracker json: not a JSON object")
	}
	var data map[string]map[string]trackerCVE
	if err := json.Unmarshal(b, &data); err != nil {
		return nil, fmt.Errorf("tracker json: %w", err)
	}
	return data, nil
}

// severity reads an urgency: "low", "medium**" (the stars mark a guess), "unimportant". "not
// yet assigned" and "end-of-life" are not ratings and give nil.
func severity(urgency string) *advisory.Severity {
	u := strings.TrimRight(strings.TrimSpace(urgency), "*")
	switch u {
	case "unimportant", "low", "medium", "high", "critical":
		return &advisory.Severity{Source: ProvenanceSource, Level: advisory.ParseLevel(u)}
	}
	return nil
}

func fixedRange(v string) []advisory.Range {
	return []advisory.Range{{Type: advisory.RangeEcosystem, Events: []advisory.Event{{Introduced: "0"}, {Fixed: v}}}}
}

// MapJSON maps the tracker's JSON to one advisory per CVE, sorted by ID. Per release:
//
//   - resolved with fixed_version "0": not_affected (the release never had the flaw);
//   - resolved with a version: an ECOSYSTEM range introduced 0 / fixed <version>;
//   - open: affected, or will_not_fix for <no-dsa> / <ignored>, fix_deferred for <postponed>,
//     end_of_life when the release's support for the package has ended (urgency end-of-life);
//   - undetermined: under_investigation.
//
// Records that are not CVEs (TEMP-… placeholders), unknown releases and unknown statuses are
// skipped.
func MapJSON(uri, digest string, content []byte) ([]*advisory.Advisory, error) {
	data, err := ParseJSON(content)
	if err != nil {
		return nil, err
	}
	b := newBuilder(uri, digest)
	for pkg, cves := range data {
		for id, c := range cves {
			if !cveRE.MatchString(id) {
				continue
			}
			for rel, r := range c.Releases {
				key := ReleaseKey(rel)
				if key == "" {
					continue
				}
				af := advisory.Affected{Ecosystem: inventory.EcosystemDeb, Distro: key, Package: pkg, Source: ProvenanceSource,
					Severity: severity(r.Urgency)}
				switch r.Status {
				case "resolved":
					switch v := strings.TrimSpace(r.FixedVersion); {
					case v == "0":
						af.Status = advisory.StatusNotAffected
					case v == "":
						continue // resolved without a version: nothing to compare against
					default:
						if _, err := debScheme.Parse(v); err != nil {
							continue
						}
						af.Ranges = fixedRange(v)
					}
				case "open":
					af.Status = openStatus(r)
				case "undetermined":
					af.Status = advisory.StatusUnderInvestigation
				default:
					continue
				}
				a := b.advisory(id)
				a.Summary = cmp.Or(a.Summary, strings.TrimSpace(c.Description))
				a.Affected = append(a.Affected, af)
			}
		}
	}
	return b.done(), nil
}

// openStatus refines "open": the tracker's no-dsa marks say the security team will not issue an
// update (ignored, or a minor issue left to a point release) or has postponed it.
func openStatus(r trackerRelease) advisory.Status {
	switch {
	case strings.TrimRight(r.Urgency, "*") == "end-of-life":
		return advisory.StatusEndOfLife
	case r.NoDSAReason == "postponed":
		return advisory.StatusFixDeferred
	case r.NoDSAReason == "ignored", r.NoDSA != "":
		return advisory.StatusWillNotFix
	}
	return advisory.StatusAffected
}

// builder collects one document's advisories by CVE.
type builder struct {
	uri, digest string
	byID        map[string]*advisory.Advisory
}

func newBuilder(uri, digest string) *builder {
	return &builder{uri: uri, digest: digest, byID: map[string]*advisory.Advisory{}}
}

func (b *builder) advisory(id string) *advisory.Advisory {
	a := b.byID[id]
	if a == nil {
		a = &advisory.Advisory{ID: id,
			References: []advisory.Reference{{Type: "ADVISORY", URL: "https://security-tracker.debian.org/tracker/" + id}},
			Sources:    []advisory.Provenance{{Source: ProvenanceSource, Document: b.uri, Digest: b.digest}}}
		b.byID[id] = a
	}
	return a
}

func (b *builder) done() []*advisory.Advisory {
	out := make([]*advisory.Advisory, 0, len(b.byID))
	for _, a := range b.byID {
		if len(a.Affected) == 0 {
			continue
		}
		a.Affected = lowestFixes(a.Affected)
		a.Normalize()
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y *advisory.Advisory) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// lowestFixes keeps, per release and package, only the lowest fixed version: two DSAs for one CVE
// (a regression update) both list a fix, and the first one is when the flaw was fixed.
func lowestFixes(afs []advisory.Affected) []advisory.Affected {
	type key struct{ distro, pkg string }
	best := map[key]int{}
	out := afs[:0]
	for _, af := range afs {
		if len(af.Ranges) == 0 {
			out = append(out, af)
			continue
		}
		k := key{af.Distro, af.Package}
		i, ok := best[k]
		if !ok {
			best[k] = len(out)
			out = append(out, af)
			continue
		}
		if lessDeb(fixedOf(af), fixedOf(out[i])) {
			out[i] = af
		}
	}
	return out
}

func fixedOf(af advisory.Affected) string {
	for _, e := range af.Ranges[0].Events {
		if e.Fixed != "" {
			return e.Fixed
		}
	}
	return ""
}

func lessDeb(a, b string) bool {
	va, err1 := debScheme.Parse(a)
	vb, err2 := debScheme.Parse(b)
	if err1 != nil || err2 != nil {
		return a < b
	}
	return va.Compare(vb) < 0
}
