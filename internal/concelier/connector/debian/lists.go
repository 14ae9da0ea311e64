package debian

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/inventory"
)

// ListKind is which of the tracker's text lists a document is.
type ListKind string

// The lists under the tracker's data/ directory.
const (
	ListCVE ListKind = "CVE" // data/CVE/list: one entry per CVE with per-release statements
	ListDSA ListKind = "DSA" // data/DSA/list: Debian Security Advisories
	ListDLA ListKind = "DLA" // data/DLA/list: Debian LTS Advisories
)

// KindOf tells the list kind from a document URI ("…/data/DSA/list"); "" when it is not a list.
func KindOf(uri string) ListKind {
	if path.Base(uri) != "list" {
		return ""
	}
	switch k := ListKind(path.Base(path.Dir(uri))); k {
	case ListCVE, ListDSA, ListDLA:
		return k
	}
	return ""
}

// Entry is one entry of a list: its header line and the indented lines under it.
type Entry struct {
	Line   int // of the header, 1-based
	Header string
	Body   []string // trimmed
}

// ParseList splits a tracker list into entries. Lines indented by a tab or spaces belong to the
// entry above; anything indented before the first header means this is not a tracker list.
func ParseList(b []byte) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), " \t\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(out) == 0 {
				return nil, fmt.Errorf("tracker list line %d: indented line before any entry", n)
			}
			e := &out[len(out)-1]
			e.Body = append(e.Body, strings.TrimSpace(line))
			continue
		}
		out = append(out, Entry{Line: n, Header: line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tracker list: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("tracker list: no entries")
	}
	return out, nil
}

// Statement is a package line: "[bookworm] - foot 1.13.1-2+deb12u1", "- ant <unfixed>
// (unimportant)". Release is the codename, "sid" for unqualified lines.
type Statement struct {
	Release string
	Package string
	Version string // set when the line names a fixed version
	Tag     string // "unfixed", "no-dsa", … when it names a state instead
	Notes   string // the parenthesised remark: urgency, bug number, reason
}

var stmtRE = regexp.MustCompile(`^(?:\[([a-z0-9-]+)\]\s+)?-\s+(\S+)(?:\s+(.*))?$`)

// ParseStatement reads a package line; ok is false for other lines (NOTE:, TODO:, {…}).
func ParseStatement(line string) (Statement, bool) {
	m := stmtRE.FindStringSubmatch(line)
	if m == nil {
		return Statement{}, false
	}
	s := Statement{Release: m[1], Package: m[2]}
	if s.Release == "" {
		s.Release = "sid" // unqualified lines describe unstable
	}
	rest := strings.TrimSpace(m[3])
	if i := strings.IndexByte(rest, '('); i >= 0 {
		s.Notes = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest[i+1:]), ")"))
		rest = strings.TrimSpace(rest[:i])
	}
	switch {
	case strings.HasPrefix(rest, "<") && strings.HasSuffix(rest, ">"):
		s.Tag = rest[1 : len(rest)-1]
	case rest != "":
		s.Version = strings.Fields(rest)[0]
	}
	return s, true
}

// urgencyOf finds an urgency among a statement's notes ("low; bug #990901").
func urgencyOf(notes string) *advisory.Severity {
	for _, f := range strings.FieldsFunc(notes, func(r rune) bool { return r == ';' || r == ',' }) {
		if s := severity(f); s != nil {
			return s
		}
	}
	return nil
}

// affected maps a statement, or returns false when it says nothing to match on (<removed>,
// <itp>, an unknown release or tag, a version the deb scheme rejects).
//
// The tags: <unfixed> affected; <not-affected> not_affected; <no-dsa> and <ignored>
// will_not_fix (no security update will be issued; a point release may still fix a no-dsa
// issue, but nothing to wait for); <postponed> fix_deferred (an update will come with a later
// one); <end-of-life> end_of_life; <undetermined> under_investigation.
func (s Statement) affected() (advisory.Affected, bool) {
	key := ReleaseKey(s.Release)
	if key == "" {
		return advisory.Affected{}, false
	}
	af := advisory.Affected{Ecosystem: inventory.EcosystemDeb, Distro: key, Package: s.Package, Source: ProvenanceSource,
		Severity: urgencyOf(s.Notes)}
	if s.Version != "" {
		if s.Version == "0" {
			af.Status = advisory.StatusNotAffected
			return af, true
		}
		if _, err := debScheme.Parse(s.Version); err != nil {
			return af, false
		}
		af.Ranges = fixedRange(s.Version)
		return af, true
	}
	switch s.Tag {
	case "unfixed":
		af.Status = advisory.StatusAffected
	case "not-affected":
		af.Status = advisory.StatusNotAffected
	case "no-dsa", "ignored":
		af.Status = advisory.StatusWillNotFix
	case "postponed":
		af.Status = advisory.StatusFixDeferred
	case "end-of-life":
		af.Status = advisory.StatusEndOfLife
	case "undetermined":
		af.Status = advisory.StatusUnderInvestigation
	default:
		return af, false
	}
	return af, true
}

var (
	cveHeaderRE = regexp.MustCompile(`^(CVE-[0-9]{4}-[0-9A-Z]+)\s*(?:[(\[](.*)[)\]])?\s*$`)
	advHeaderRE = regexp.MustCompile(`^\[([0-9]{1,2} [A-Za-z]{3} [0-9]{4})\] ((?:DSA|DLA)-[0-9]+(?:-[0-9]+)?) (\S+)(?: - (.*))?$`)
	bracesRE    = regexp.MustCompile(`^\{(.*)\}$`)
)

// MapList maps one of the tracker's text lists to one advisory per CVE, sorted by ID.
//
// data/CVE/list says per release what the tracker knows: an unqualified "- pkg" line speaks for
// sid (unstable), "[bookworm] - pkg" for that release. Releases not named are left out: the
// tracker derives them from package versions this connector does not have (the JSON form gives
// them). Placeholder entries (CVE-2023-XXXX) have no ID and are skipped.
//
// data/DSA/list and data/DLA/list name the CVEs each advisory fixes and the fixed version per
// release; each CVE gets those ranges and the advisory as a related ID. An entry whose header is
// not "[date] DSA-n-m package - …" is skipped, as the tracker's own tools do.
func MapList(uri, digest string, content []byte) ([]*advisory.Advisory, error) {
	kind := KindOf(uri)
	if kind == "" {
		return nil, fmt.Errorf("tracker list: cannot tell the list from %q", uri)
	}
	entries, err := ParseList(content)
	if err != nil {
		return nil, err
	}
	b := newBuilder(uri, digest)
	for _, e := range entries {
		if kind == ListCVE {
			mapCVEEntry(b, e)
		} else {
			mapAdvisoryEntry(b, e)
		}
	}
	return b.done(), nil
}

func mapCVEEntry(b *builder, e Entry) {
	m := cveHeaderRE.FindStringSubmatch(e.Header)
	if m == nil || !cveRE.MatchString(m[1]) {
		return
	}
	var affected []advisory.Affected
	var related []string
	for _, line := range e.Body {
		if s, ok := ParseStatement(line); ok {
			if af, ok := s.affected(); ok {
				affected = append(affected, af)
			}
			continue
		}
		if bm := bracesRE.FindStringSubmatch(line); bm != nil {
			related = append(related, strings.Fields(bm[1])...)
		}
	}
	if len(affected) == 0 {
		return // NOT-FOR-US, RESERVED, REJECTED, TODO: nothing about Debian packages
	}
	a := b.advisory(m[1])
	if d := strings.TrimSpace(strings.TrimSuffix(m[2], "...")); d != "" && a.Summary == "" {
		a.Summary = d
	}
	a.Affected = append(a.Affected, affected...)
	a.Related = append(a.Related, related...)
}

func mapAdvisoryEntry(b *builder, e Entry) {
	m := advHeaderRE.FindStringSubmatch(e.Header)
	if m == nil {
		return
	}
	advID := m[2]
	var cves []string
	var affected []advisory.Affected
	for _, line := range e.Body {
		if bm := bracesRE.FindStringSubmatch(line); bm != nil {
			for _, id := range strings.Fields(bm[1]) {
				if cveRE.MatchString(id) {
					cves = append(cves, id)
				}
			}
			continue
		}
		if s, ok := ParseStatement(line); ok {
			if af, ok := s.affected(); ok {
				affected = append(affected, af)
			}
		}
	}
	for _, id := range cves {
		if len(affected) == 0 {
			break
		}
		a := b.advisory(id)
		a.Related = append(a.Related, advID)
		a.Affected = append(a.Affected, affected...)
		a.References = append(a.References, advisory.Reference{Type: "ADVISORY", URL: "https://security-tracker.debian.org/tracker/" + advID})
	}
}
