// Package match finds the vulnerabilities of an inventory in an advisory snapshot. OS packages are
// matched only against their own distro release's data, by the key that distro tracks (the source
// package for Debian, Ubuntu and Alpine, the binary package for RPM distros); language packages by
// ecosystem and normalised name. Ranges follow OSV semantics exactly, with each ecosystem's own
// version rules (internal/version). CPE matching is off unless asked for, and then only for
// components with no ecosystem.
//
// It reads the snapshot and the inventory and nothing else: no network, no clock.
package match

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/inventory"
)

// Match methods, as the spec names them.
const (
	MethodExact          = "exact"
	MethodSourceIndirect = "source-indirect"
	MethodCPE            = "cpe"
)

// Reader is what the matcher reads from a snapshot during one scan.
type Reader interface {
	Lookup(eco inventory.Ecosystem, distro, name string) ([]snapshot.Entry, error)
	Summary(id string) (*snapshot.Summary, error)
	// Covers says whether the snapshot has data for eco on distro (known: whether it records it).
	Covers(eco inventory.Ecosystem, distro string) (covered, known bool)
	Digest() string
	Close() error
}

// Source opens readers; *snapshot.Snapshot is one.
type Source interface {
	Reader() (*snapshot.Reader, error)
}

var (
	_ Source = (*snapshot.Snapshot)(nil)
	_ Reader = (*snapshot.Reader)(nil)
)

// Config tunes matching.
type Config struct {
	// CPE enables CPE matching for components that have no ecosystem but carry CPEs.
	CPE bool
}

// ComponentRef identifies the matched component in a finding.
type ComponentRef struct {
	Name      string              `json:"name"`
	Version   string              `json:"version"`
	Ecosystem inventory.Ecosystem `json:"ecosystem,omitempty"`
	PURL      string              `json:"purl,omitempty"`
	Locations []string            `json:"locations,omitempty"`
}

// Finding is one vulnerability of one component.
type Finding struct {
	ID        string       `json:"id"`
	Aliases   []string     `json:"aliases,omitempty"`
	Summary   string       `json:"summary,omitempty"`
	Component ComponentRef `json:"component"`
	// MatchedPackage and InstalledVersion are what was compared: for Debian the source package
	// and its version.
	MatchedPackage   string          `json:"matchedPackage"`
	InstalledVersion string          `json:"installedVersion"`
	FixedVersions    []string        `json:"fixedVersions,omitempty"`
	FixedVersion     string          `json:"fixedVersion,omitempty"`
	Status           advisory.Status `json:"status"`
	Severity         advisory.Level  `json:"severity"`
	// SeveritySource says which rating decided Severity ("osv:crates.io CVSS_V3").
	SeveritySource string              `json:"severitySource,omitempty"`
	CVSS           []advisory.Severity `json:"cvss,omitempty"`
	MatchMethod    string              `json:"matchMethod"`
	Distro         string              `json:"distro,omitempty"`
	Layer          string              `json:"layer,omitempty"`
	DataSource     string              `json:"dataSource"`
	Snapshot       string              `json:"snapshot"`
	PrimaryURL     string              `json:"primaryUrl,omitempty"`
	CWEs           []string            `json:"cwes,omitempty"`
	KnownExploited bool                `json:"knownExploited,omitempty"`
	// VEX is the VEX decision about this finding when VEX documents were applied.
	VEX *VEXRef `json:"vex,omitempty"`
	// key is the component's key, for ordering and de-duplication.
	key string
}

// VEXRef is the VEX decision about a finding: the status the statements came to and the one
// that decided it. The finding stays in the results whatever the status; the policy decides what
// a not_affected statement is worth.
type VEXRef struct {
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
	Issuer        string `json:"issuer,omitempty"`
	Document      string `json:"document,omitempty"`
	Statement     int    `json:"statement"`
	// Conflicts counts the statements that said otherwise.
	Conflicts int    `json:"conflicts,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Summary counts findings per severity, in the spec's keys.
type Summary struct {
	Critical int `json:"Critical"`
	High     int `json:"High"`
	Medium   int `json:"Medium"`
	Low      int `json:"Low"`
	Unknown  int `json:"Unknown"`
}

// Result is every finding of one inventory against one snapshot.
type Result struct {
	Snapshot string    `json:"snapshot"`
	Findings []Finding `json:"findings"`
	Summary  Summary   `json:"summary"`
	Notes    []string  `json:"notes,omitempty"`
}

// Match finds the vulnerabilities of inv in src.
func Match(ctx context.Context, src Source, inv *inventory.Inventory, cfg Config) (*Result, error) {
	r, err := src.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	m := &matcher{src: r, cfg: cfg, ss: schemes{}, sums: map[string]*summary{}}
	res := &Result{Snapshot: r.Digest(), Findings: []Finding{}}
	noDistro := 0
	uncovered := map[string]int{} // coverage key → packages nothing in the snapshot covers
	// Findings come out in component order (the inventory's total order), then by advisory ID:
	// deterministic without sorting thousands of findings afterwards.
	order := make([]int, len(inv.Components))
	for i := range order {
		order[i] = i
	}
	if !slices.IsSortedFunc(inv.Components, func(a, b inventory.Component) int { return inventory.Compare(&a, &b) }) {
		slices.SortStableFunc(order, func(a, b int) int { return inventory.Compare(&inv.Components[a], &inv.Components[b]) })
	}
	seen := map[string]bool{}
	var per [][]Finding // one slice per component, joined once at the end
	total := 0
	for n, i := range order {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		c := &inv.Components[i]
		fs, err := m.component(c, inv.Distro)
		if err == errNoDistro {
			noDistro++
			continue
		}
		if nc, ok := err.(notCovered); ok {
			uncovered[string(nc)]++
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(fs) == 0 {
			continue
		}
		if k := fs[0].key; seen[k] {
			continue // the same package twice in an unfinalised inventory
		} else {
			seen[k] = true
		}
		slices.SortFunc(fs, func(a, b Finding) int { return cmp.Compare(a.ID, b.ID) })
		per = append(per, fs)
		total += len(fs)
	}
	res.Findings = make([]Finding, 0, total)
	for _, fs := range per {
		res.Findings = append(res.Findings, fs...)
	}
	if noDistro > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d OS package(s) not matched: their distro release is unknown", noDistro))
	}
	for _, k := range slices.Sorted(maps.Keys(uncovered)) {
		what, on, _ := strings.Cut(k, "/")
		if on != "" {
			what += " package(s) of " + on
		} else {
			what += " package(s)"
		}
		res.Notes = append(res.Notes, fmt.Sprintf("%d %s not checked: the advisory snapshot has no data for them", uncovered[k], what))
	}
	for _, f := range res.Findings {
		res.Summary.add(f.Severity)
	}
	return res, nil
}

func (s *Summary) add(l advisory.Level) {
	switch l {
	case advisory.LevelCritical:
		s.Critical++
	case advisory.LevelHigh:
		s.High++
	case advisory.LevelMedium:
		s.Medium++
	case advisory.LevelLow, advisory.LevelNone:
		s.Low++
	default:
		s.Unknown++
	}
}

type matcher struct {
	src  Reader
	cfg  Config
	ss   schemes
	sums map[string]*summary
}

var errNoDistro = fmt.Errorf("no distro release")

// notCovered is the error for a package the snapshot has no data for: its coverage key.
type notCovered string

func (e notCovered) Error() string { return "no advisory data for " + string(e) }

// target is what one component is looked up and compared by.
type target struct {
	eco       inventory.Ecosystem
	distro    string
	name      string
	installed string
	method    string
	// guessEpoch: the version came without an epoch from an SBOM, which often drops it;
	// compare as if it had the advisory's epoch (Grype's "auto" strategy).
	guessEpoch bool
}

func lookupTarget(c *inventory.Component, invDistro inventory.Distro) (target, error) {
	t := target{eco: c.Ecosystem, name: c.Name, installed: c.Version, method: MethodExact}
	if !c.Ecosystem.IsOS() {
		return t, nil
	}
	d := c.Distro
	if d.IsZero() {
		d = invDistro
	}
	if t.distro = advisory.DistroKey(d); t.distro == "" {
		return t, errNoDistro
	}
	if c.Ecosystem != inventory.EcosystemRPM && c.Source.Name != "" {
		// Debian, Ubuntu and Alpine file advisories under the source package.
		t.name = c.Source.Name
		if c.Source.Version != "" {
			t.installed = c.Source.Version
		}
		if t.name != c.Name {
			t.method = MethodSourceIndirect
		}
	}
	t.guessEpoch = strings.HasPrefix(c.FoundBy, "sbom/") && c.Ecosystem != inventory.EcosystemAPK &&
		!strings.Contains(t.installed, ":")
	return t, nil
}

func (m *matcher) component(c *inventory.Component, invDistro inventory.Distro) ([]Finding, error) {
	if c.Ecosystem == inventory.EcosystemUnknown {
		if m.cfg.CPE {
			return m.cpe(c)
		}
		return nil, nil
	}
	if c.Version == "" {
		return nil, nil
	}
	t, err := lookupTarget(c, invDistro)
	if err != nil {
		return nil, err
	}
	if covered, known := m.src.Covers(t.eco, t.distro); known && !covered {
		return nil, notCovered(snapshot.CoverageKey(t.eco, t.distro))
	}
	entries, err := m.src.Lookup(t.eco, t.distro, t.name)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	return m.findings(c, t, entries)
}

// findings evaluates a component's entries and builds one finding per advisory: several entries of
// one advisory (two sources, two affected blocks) unite their fixed versions.
func (m *matcher) findings(c *inventory.Component, t target, entries []snapshot.Entry) ([]Finding, error) {
	type hit struct {
		entry  *snapshot.Entry
		fixed  []string
		ranges []advisory.Range
	}
	var order []string
	hits := map[string]*hit{}
	for i := range entries {
		e := &entries[i]
		installed := t.installed
		if t.guessEpoch {
			if ep := entryEpoch(e); ep != "" {
				installed = ep + ":" + installed
			}
		}
		v := evaluate(m.ss, t.eco, installed, e)
		if !v.affected {
			continue
		}
		h, ok := hits[e.Advisory]
		if !ok {
			h = &hit{entry: e}
			hits[e.Advisory] = h
			order = append(order, e.Advisory)
		}
		h.fixed = append(h.fixed, v.fixed...)
		h.ranges = append(h.ranges, e.Ranges...)
	}
	out := make([]Finding, 0, len(order))
	var ref ComponentRef
	var key string
	if len(order) > 0 {
		// Built once per component, not once per finding.
		ref = ComponentRef{Name: c.Name, Version: c.Version, Ecosystem: c.Ecosystem, PURL: c.PackageURL(), Locations: c.Locations}
		key = ref.PURL
		if key == "" {
			key = c.Key()
		}
	}
	for _, id := range order {
		h := hits[id]
		var v verdict
		v.affected = true
		v.fixed, v.next = sortFixed(m.ss, t.eco, t.installed, h.ranges, h.fixed)
		f, err := m.finding(ref, key, c.Layer, t, h.entry, v)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// entryEpoch returns the epoch the entry's versions carry, if any.
func entryEpoch(e *snapshot.Entry) string {
	for _, r := range e.Ranges {
		for _, ev := range r.Events {
			for _, v := range []string{ev.Fixed, ev.Introduced, ev.LastAffected} {
				if i := strings.IndexByte(v, ':'); i > 0 && strings.Trim(v[:i], "0123456789") == "" && v != "0" {
					return v[:i]
				}
			}
		}
	}
	return ""
}
