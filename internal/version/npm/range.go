package npm

import (
	"strings"

	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

// comparator is one primitive comparison; op is "", "<", "<=", ">" or ">=", and any is set for
// the comparator that matches every version.
type comparator struct {
	op  string
	v   Version
	any bool
}

func (c comparator) String() string {
	if c.any {
		return ""
	}
	return c.op + c.v.Canonical()
}

func (c comparator) test(v Version) bool {
	if c.any {
		return true
	}
	r := v.Compare(c.v)
	switch c.op {
	case "":
		return r == 0
	case "<":
		return r < 0
	case "<=":
		return r <= 0
	case ">":
		return r > 0
	}
	return r >= 0
}

func (c comparator) isNull() bool { return c.String() == "<0.0.0-0" }

// Range is a parsed node-semver range: a union of comparator sets, each an intersection.
type Range struct {
	raw string
	opt Options
	set [][]comparator
}

// ParseRange parses a node-semver range with default (strict) options.
func ParseRange(expr string) (Range, error) { return ParseRangeOptions(expr, Options{}) }

// ParseRangeOptions parses a node-semver range. Errors wrap vererr.ErrInvalid.
func ParseRangeOptions(expr string, opt Options) (Range, error) {
	if len(expr) > 64*1024 {
		return Range{}, vererr.New(Name+" range", expr, "longer than 64 KiB")
	}
	g := strictGrammar()
	if opt.Loose {
		g = looseGrammar()
	}
	r := Range{raw: expr, opt: opt}
	// node-semver drops build metadata from ranges before it parses their versions.
	clean := buildMeta().ReplaceAllString(expr, "")
	for _, part := range strings.Split(clean, "||") {
		words, ok := g.desugar(strings.TrimSpace(part), opt)
		if !ok {
			return Range{}, vererr.New(Name+" range", expr, "invalid x-range")
		}
		set, err := g.comparators(words, opt, expr)
		if err != nil {
			return Range{}, err
		}
		if len(set) > 0 {
			r.set = append(r.set, set)
		}
	}
	if len(r.set) == 0 {
		return Range{}, vererr.New(Name+" range", expr, "no comparator")
	}
	if len(r.set) > 1 {
		first := r.set[0]
		kept := r.set[:0]
		for _, s := range r.set {
			if !s[0].isNull() {
				kept = append(kept, s)
			}
		}
		r.set = kept
		if len(r.set) == 0 {
			r.set = [][]comparator{first}
		}
		for _, s := range r.set {
			if len(s) == 1 && s[0].any {
				r.set = [][]comparator{s}
				break
			}
		}
	}
	return r, nil
}

// comparators parses primitive comparators, keeping node-semver's simplifications: a null set
// ("<0.0.0-0") replaces the whole set, duplicates are dropped, and "any" is dropped when other
// comparators remain.
func (g *grammar) comparators(words []string, opt Options, expr string) ([]comparator, error) {
	var out []comparator
	seen := map[string]bool{}
	for _, w := range words {
		m := g.comparator.FindStringSubmatch(w)
		if m == nil {
			return nil, vererr.New(Name+" range", expr, "invalid comparator "+w)
		}
		c := comparator{op: m[1], any: m[2] == ""}
		if c.op == "=" {
			c.op = ""
		}
		if !c.any {
			v, err := ParseOptions(m[2], opt)
			if err != nil {
				return nil, vererr.New(Name+" range", expr, "invalid version "+m[2])
			}
			c.v = v
		}
		if c.isNull() {
			return []comparator{c}, nil
		}
		if key := c.String(); !seen[key] {
			seen[key] = true
			out = append(out, c)
		}
	}
	if len(out) > 1 && seen[""] {
		kept := out[:0]
		for _, c := range out {
			if !c.any {
				kept = append(kept, c)
			}
		}
		out = kept
	}
	return out, nil
}

// String returns node-semver's canonical form of the range ("*" for any version).
func (r Range) String() string {
	sets := make([]string, len(r.set))
	for i, s := range r.set {
		cs := make([]string, len(s))
		for j, c := range s {
			cs[j] = c.String()
		}
		sets[i] = strings.TrimSpace(strings.Join(cs, " "))
	}
	if out := strings.Join(sets, "||"); out != "" {
		return out
	}
	return "*"
}

// Raw returns the range as given to ParseRange.
func (r Range) Raw() string { return r.raw }

// Contains reports whether v satisfies the range, with node-semver's pre-release rule.
func (r Range) Contains(v Version) bool {
	for _, s := range r.set {
		if r.testSet(s, v) {
			return true
		}
	}
	return false
}

func (r Range) testSet(set []comparator, v Version) bool {
	for _, c := range set {
		if !c.test(v) {
			return false
		}
	}
	if v.pre == "" || r.opt.IncludePrerelease {
		return true
	}
	// A pre-release only matches when a comparator names a pre-release of the same tuple.
	for _, c := range set {
		if !c.any && c.v.pre != "" && c.v.sameTuple(v) {
			return true
		}
	}
	return false
}

// GreaterThan reports whether v is greater than every version the range can match
// (node-semver's gtr).
func (r Range) GreaterThan(v Version) bool { return r.outside(v, true) }

// LessThan reports whether v is less than every version the range can match (node-semver's ltr).
func (r Range) LessThan(v Version) bool { return r.outside(v, false) }

func (r Range) outside(v Version, high bool) bool {
	if r.Contains(v) {
		return false
	}
	comp, ecomp := "<", "<="
	gt := func(a, b Version) bool { return a.Compare(b) < 0 }
	lt := func(a, b Version) bool { return a.Compare(b) > 0 }
	lte := func(a, b Version) bool { return a.Compare(b) >= 0 }
	if high {
		comp, ecomp = ">", ">="
		gt = func(a, b Version) bool { return a.Compare(b) > 0 }
		lt = func(a, b Version) bool { return a.Compare(b) < 0 }
		lte = func(a, b Version) bool { return a.Compare(b) <= 0 }
	}
	zero, _ := ParseOptions("0.0.0", Options{})
	for _, set := range r.set {
		var hi, lo *comparator
		for i := range set {
			c := set[i]
			if c.any {
				c = comparator{op: ">=", v: zero}
			}
			if hi == nil {
				hi, lo = &c, &c
				continue
			}
			if gt(c.v, hi.v) {
				hi = &c
			} else if lt(c.v, lo.v) {
				lo = &c
			}
		}
		if hi.op == comp || hi.op == ecomp {
			return false
		}
		if (lo.op == "" || lo.op == comp) && lte(v, lo.v) {
			return false
		}
		if lo.op == ecomp && lt(v, lo.v) {
			return false
		}
	}
	return true
}
