package match

import (
	"cmp"
	"slices"
	"strings"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/version"
)

// verdict is what one index entry says about one installed version.
type verdict struct {
	affected bool
	fixed    []string // every fixed version the entry names, ascending
	next     string   // the lowest fixed version above the installed one
}

// parsed caches parsed versions for one scan: the same range bounds recur across components.
type parsed struct {
	scheme version.Scheme
	cache  map[string]version.Version
}

func (p *parsed) parse(s string) (version.Version, bool) {
	if v, ok := p.cache[s]; ok {
		return v, v != nil
	}
	v, err := p.scheme.Parse(s)
	if err != nil {
		v = nil
	}
	p.cache[s] = v
	return v, v != nil
}

// schemes hands out one parse cache per scheme.
type schemes map[string]*parsed

func (ss schemes) get(s version.Scheme) *parsed {
	p, ok := ss[s.Name()]
	if !ok {
		p = &parsed{scheme: s, cache: map[string]version.Version{}}
		ss[s.Name()] = p
	}
	return p
}

// rangeScheme is the scheme a range is evaluated in: SEMVER ranges use SemVer 2.0 whatever the
// ecosystem (the OSV rule); ECOSYSTEM ranges the ecosystem's own.
func rangeScheme(t advisory.RangeType, eco inventory.Ecosystem) (version.Scheme, bool) {
	switch t {
	case advisory.RangeSemVer:
		return version.SemVer(), true
	case advisory.RangeEcosystem:
		return schemeFor(eco)
	}
	return nil, false // GIT ranges name commits, not versions
}

// semverForm adapts an installed version to a SEMVER range: Go writes "v1.2.3", OSV "1.2.3".
func semverForm(eco inventory.Ecosystem, v string) string {
	if eco == inventory.EcosystemGo {
		return strings.TrimPrefix(v, "v")
	}
	return v
}

// evaluate applies OSV semantics to one entry: a version is affected if the entry lists it
// (exactly) in its versions, or if any SEMVER/ECOSYSTEM range contains it. Within a range, events are sorted by
// version ("0" first) and walked: introduced opens, fixed closes at the fixed version,
// last_affected closes after it; a limit bounds the range from above. A distro status other than
// fixed/affected decides alone.
func evaluate(ss schemes, eco inventory.Ecosystem, installed string, e *snapshot.Entry) verdict {
	var out verdict
	switch e.Status {
	case advisory.StatusNotAffected:
		return out
	case advisory.StatusWillNotFix, advisory.StatusFixDeferred, advisory.StatusEndOfLife,
		advisory.StatusUnderInvestigation, advisory.StatusAffected:
		if len(e.Ranges) == 0 && !e.HasAnyVersion() {
			out.affected = true
			return out
		}
	}
	// OSV's versions field lists exact version strings (the ranges carry the semantics), and
	// osv-scanner compares them exactly; so do we.
	if e.HasVersion(installed) {
		out.affected = true
	}
	for i := range e.Ranges {
		r := &e.Ranges[i]
		s, ok := rangeScheme(r.Type, eco)
		if !ok {
			continue
		}
		p := ss.get(s)
		form := installed
		if r.Type == advisory.RangeSemVer {
			form = semverForm(eco, installed)
		}
		iv, ok := p.parse(form)
		if !ok {
			continue
		}
		if inRange(p, iv, r.Events) {
			out.affected = true
		}
	}
	if !out.affected {
		return out // fixed versions are only gathered for matches
	}
	for _, r := range e.Ranges {
		for _, ev := range r.Events {
			if ev.Fixed != "" {
				out.fixed = append(out.fixed, ev.Fixed)
			}
		}
	}
	out.fixed, out.next = sortFixed(ss, eco, installed, e.Ranges, out.fixed)
	return out
}

type event struct {
	kind int // 0 introduced, 1 last_affected, 2 fixed, 3 limit: the order for equal versions
	v    version.Version
	raw  string
}

// inRange reports whether iv lies inside one range.
func inRange(p *parsed, iv version.Version, events []advisory.Event) bool {
	// Nearly every range is "introduced X (or 0), fixed Y": decide it without sorting.
	if len(events) == 2 && events[0].Introduced != "" && events[1].Fixed != "" {
		fixed, ok := p.parse(events[1].Fixed)
		if !ok {
			return events[0].Introduced == "0" || p.atLeast(iv, events[0].Introduced)
		}
		if events[0].Introduced == "0" {
			return iv.Compare(fixed) < 0
		}
		intro, ok := p.parse(events[0].Introduced)
		if ok && intro.Compare(fixed) <= 0 {
			return iv.Compare(intro) >= 0 && iv.Compare(fixed) < 0
		}
	}
	evs := make([]event, 0, len(events))
	var limits []version.Version
	for _, e := range events {
		var ev event
		switch {
		case e.Introduced != "":
			ev = event{kind: 0, raw: e.Introduced}
		case e.LastAffected != "":
			ev = event{kind: 1, raw: e.LastAffected}
		case e.Fixed != "":
			ev = event{kind: 2, raw: e.Fixed}
		case e.Limit != "":
			ev = event{kind: 3, raw: e.Limit}
		}
		if ev.raw == "0" && ev.kind == 0 {
			evs = append(evs, ev) // nil version: before everything
			continue
		}
		if ev.raw == "*" && ev.kind == 3 {
			continue // no limit
		}
		v, ok := p.parse(ev.raw)
		if !ok {
			continue // an unreadable bound is ignored, as osv-scanner does
		}
		ev.v = v
		if ev.kind == 3 {
			limits = append(limits, v)
			continue
		}
		evs = append(evs, ev)
	}
	slices.SortStableFunc(evs, func(a, b event) int {
		switch {
		case a.v == nil && b.v == nil:
			return cmp.Compare(a.kind, b.kind)
		case a.v == nil:
			return -1
		case b.v == nil:
			return 1
		}
		return cmp.Or(a.v.Compare(b.v), cmp.Compare(a.kind, b.kind))
	})
	affected := false
	for _, ev := range evs {
		switch ev.kind {
		case 0:
			if ev.v == nil || iv.Compare(ev.v) >= 0 {
				affected = true
			}
		case 1:
			if iv.Compare(ev.v) > 0 {
				affected = false
			}
		case 2:
			if iv.Compare(ev.v) >= 0 {
				affected = false
			}
		}
	}
	if affected && len(limits) > 0 {
		below := false
		for _, l := range limits {
			below = below || iv.Compare(l) < 0
		}
		affected = below
	}
	return affected
}

// atLeast reports iv >= s; an unparsable s counts as satisfied (the bound is ignored).
func (p *parsed) atLeast(iv version.Version, s string) bool {
	v, ok := p.parse(s)
	return !ok || iv.Compare(v) >= 0
}

// sortFixed orders fixed versions ascending (unparsable ones last, as written) and picks the
// lowest one above the installed version.
func sortFixed(ss schemes, eco inventory.Ecosystem, installed string, ranges []advisory.Range, fixed []string) ([]string, string) {
	if len(fixed) == 0 {
		return nil, ""
	}
	s, ok := schemeFor(eco)
	if !ok || (len(ranges) > 0 && ranges[0].Type == advisory.RangeSemVer) {
		s, installed = version.SemVer(), semverForm(eco, installed)
	}
	p := ss.get(s)
	slices.Sort(fixed)
	fixed = slices.Compact(fixed)
	slices.SortStableFunc(fixed, func(a, b string) int {
		va, oka := p.parse(a)
		vb, okb := p.parse(b)
		switch {
		case oka && okb:
			return va.Compare(vb)
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	iv, ok := p.parse(installed)
	if !ok {
		return fixed, ""
	}
	for _, f := range fixed {
		if v, ok := p.parse(f); ok && v.Compare(iv) > 0 {
			return fixed, f
		}
	}
	return fixed, ""
}
