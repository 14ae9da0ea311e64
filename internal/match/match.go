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

// Source is what the matcher reads from a snapshot.
type Source interface {
	Lookup(eco inventory.Ecosystem, distro, name string) ([]snapshot.Entry, error)
	Advisory(id string) (*advisory.Advisory, error)
	Digest() string
}

var _ Source = (*snapshot.Snapshot)(nil)

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
	// key is the component's key, for ordering and de-duplication.
	key string
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
	m := &matcher{src: src, cfg: cfg, ss: schemes{}, advs: map[string]*advisory.Advisory{}}
	res := &Result{Snapshot: src.Digest(), Findings: []Finding{}}
	noDistro := 0
	for i := range inv.Components {
		if i%256 == 0 {
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
		if err != nil {
			return nil, err
		}
		res.Findings = append(res.Findings, fs...)
	}
	if noDistro > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d OS package(s) not matched: their distro release is unknown", noDistro))
	}
	slices.SortFunc(res.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.ID, b.ID))
	})
	res.Findings = slices.CompactFunc(res.Findings, func(a, b Finding) bool { return a.key == b.key && a.ID == b.ID })
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
	src  Source
	cfg  Config
	ss   schemes
	advs map[string]*advisory.Advisory
}

var errNoDistro = fmt.Errorf("no distro release")

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
	for _, id := range order {
		h := hits[id]
		var v verdict
		v.affected = true
		v.fixed, v.next = sortFixed(m.ss, t.eco, t.installed, h.ranges, h.fixed)
		f, err := m.finding(c, t, h.entry, v)
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
