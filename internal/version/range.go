package version

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/stellaops/stellaops/internal/version/internal/digits"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
	"github.com/stellaops/stellaops/internal/version/npm"
)

// Range is a set of versions of one scheme, parsed from an advisory constraint expression.
type Range interface {
	// Contains reports whether v is in the range. v must come from the range's Scheme; Contains
	// panics otherwise, like Version.Compare.
	Contains(v Version) bool
	// String returns the expression as given to ParseRange.
	String() string
}

// maxRangeLen bounds a range expression.
const maxRangeLen = 64 * 1024

// ParseRange parses a constraint expression for versions of scheme s. Errors wrap ErrInvalid.
//
// For npm it is node-semver's range syntax ("<1.2.3 || >=2.0.0 <2.1.0", "^1.2.3", "~1.2", "1.x",
// "1.2.3 - 2.3.4", with node-semver's pre-release rule), where a "," is read as a space, as
// GitHub advisories write npm ranges (">= 1.0.0, < 1.2.3").
//
// For every other scheme it is the common advisory syntax: alternatives separated by "||", each a
// list of comparators separated by "," or spaces; a comparator is an operator (=, ==, !=, <, <=,
// >, >=) and a version, or a bare version (equality). Scheme-specific forms: PyPI "~=1.4.2",
// "==1.4.*", "!=1.4.*" and "===" (PEP 440 specifiers); RubyGems "~> 1.4" (pessimistic); Maven
// version ranges ("[1.0,2.0)", "(,1.0]", "[1.2]", several intervals for a union). Cargo's and
// Composer's caret and tilde requirements are not supported.
func ParseRange(s Scheme, expr string) (Range, error) {
	if len(expr) > maxRangeLen {
		return nil, fmt.Errorf("range of %s versions: longer than 64 KiB: %w", s.Name(), ErrInvalid)
	}
	if s.Name() == npm.Name {
		r, err := npm.ParseRange(strings.ReplaceAll(expr, ",", " "))
		if err != nil {
			return nil, err
		}
		return npmRange{r: r, raw: expr}, nil
	}
	if s.Name() == "maven" && strings.ContainsAny(expr, "[(") {
		return parseMavenRange(s, expr)
	}
	return parseConstraints(s, expr)
}

type npmRange struct {
	r   npm.Range
	raw string
}

func (r npmRange) Contains(v Version) bool {
	x, ok := v.(value[npm.Version])
	if !ok || x.scheme != npm.Name {
		panic(fmt.Sprintf("version: npm range tested with %T", v))
	}
	return r.r.Contains(x.v)
}

func (r npmRange) String() string { return r.raw }

// bound is one comparator: v op bound. prefix bounds (PEP 440 "==1.4.*") are a half-open
// interval [lo, hi).
type bound struct {
	op      string // "=", "!=", "<", "<=", ">", ">=", "in", "notin", "==="
	v       Version
	hi      Version // for "in" and "notin"
	literal string  // for "==="
}

func (b bound) test(v Version) bool {
	switch b.op {
	case "===":
		return v.String() == b.literal
	case "in", "notin":
		in := v.Compare(b.v) >= 0 && v.Compare(b.hi) < 0
		return in == (b.op == "in")
	}
	c := v.Compare(b.v)
	switch b.op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

type constraints struct {
	raw  string
	alts [][]bound
}

func (r constraints) Contains(v Version) bool {
	for _, alt := range r.alts {
		ok := true
		for _, b := range alt {
			if !b.test(v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (r constraints) String() string { return r.raw }

var comparatorRE = regexp.MustCompile(`^(~>|~=|===|==|!=|<=|>=|<|>|=)?\s*([^\s,<>=!~|]+)`)

func invalidRange(s Scheme, expr, why string) error {
	return vererr.New(s.Name()+" range", expr, why)
}

func parseConstraints(s Scheme, expr string) (Range, error) {
	r := constraints{raw: expr}
	for _, alt := range strings.Split(expr, "||") {
		var bounds []bound
		rest := strings.TrimSpace(alt)
		for rest != "" {
			m := comparatorRE.FindStringSubmatch(rest)
			if m == nil {
				return nil, invalidRange(s, expr, "expected a comparator at "+rest)
			}
			rest = strings.TrimLeft(rest[len(m[0]):], " \t,")
			bs, err := comparator(s, m[1], m[2])
			if err != nil {
				return nil, fmt.Errorf("range %q: %w", expr, err)
			}
			bounds = append(bounds, bs...)
		}
		if len(bounds) == 0 {
			return nil, invalidRange(s, expr, "empty alternative")
		}
		r.alts = append(r.alts, bounds)
	}
	return r, nil
}

// comparator turns one operator and version into bounds.
func comparator(s Scheme, op, ver string) ([]bound, error) {
	if op == "===" {
		return []bound{{op: "===", literal: ver}}, nil
	}
	pypi := s.Name() == "pypi"
	if pypi && strings.HasSuffix(ver, ".*") && (op == "==" || op == "!=") {
		lo, hi, err := pepPrefix(s, strings.TrimSuffix(ver, ".*"))
		if err != nil {
			return nil, err
		}
		kind := "in"
		if op == "!=" {
			kind = "notin"
		}
		return []bound{{op: kind, v: lo, hi: hi}}, nil
	}
	v, err := s.Parse(ver)
	if err != nil {
		return nil, err
	}
	switch op {
	case "", "=", "==":
		return []bound{{op: "=", v: v}}, nil
	case "~>", "~=":
		// Pessimistic (RubyGems) and compatible-release (PEP 440): >= v and below the release
		// with the last given component dropped and the one before it incremented.
		release, ok := releasePrefix(ver, pypi)
		if !ok || len(release) < 2 {
			return nil, invalidRange(s, op+ver, "needs at least two numeric components")
		}
		up := append([]string(nil), release[:len(release)-1]...)
		up[len(up)-1] = increment(up[len(up)-1])
		upper := strings.Join(up, ".")
		if pypi {
			upper = epochOf(ver) + upper + ".dev0"
		} else {
			upper += ".a"
		}
		hi, err := s.Parse(upper)
		if err != nil {
			return nil, err
		}
		return []bound{{op: ">=", v: v}, {op: "<", v: hi}}, nil
	}
	return []bound{{op: op, v: v}}, nil
}

// pepPrefix returns [prefix.dev0, next.dev0) for a PEP 440 prefix match.
func pepPrefix(s Scheme, prefix string) (lo, hi Version, err error) {
	release, ok := releasePrefix(prefix, true)
	if !ok || len(release) == 0 {
		return nil, nil, invalidRange(s, prefix+".*", "prefix match needs a release")
	}
	up := append([]string(nil), release...)
	up[len(up)-1] = increment(up[len(up)-1])
	if lo, err = s.Parse(prefix + ".dev0"); err != nil {
		return nil, nil, err
	}
	hi, err = s.Parse(epochOf(prefix) + strings.Join(up, ".") + ".dev0")
	return lo, hi, err
}

// epochOf returns a PEP 440 epoch with its "!" ("" when absent).
func epochOf(v string) string {
	if i := strings.IndexByte(v, '!'); i >= 0 {
		return v[:i+1]
	}
	return ""
}

// releasePrefix returns the leading numeric dot-separated components of v (after a PEP 440
// epoch and a leading "v" when pypi is set).
func releasePrefix(v string, pypi bool) ([]string, bool) {
	if pypi {
		v = strings.TrimPrefix(v[len(epochOf(v)):], "v")
	}
	var out []string
	for p := range strings.SplitSeq(v, ".") {
		if !digits.IsDigits(p) {
			break
		}
		out = append(out, p)
	}
	return out, len(out) > 0
}

// increment returns the decimal string n+1.
func increment(n string) string {
	b := []byte(n)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			return string(b)
		}
		b[i] = '0'
	}
	return "1" + string(b)
}

// parseMavenRange parses Maven version-range syntax: a union of intervals "[a,b]", "(a,b)",
// half-open mixes, open ends "(,b]" / "[a,)", and exact "[v]".
func parseMavenRange(s Scheme, expr string) (Range, error) {
	r := constraints{raw: expr}
	rest := strings.TrimSpace(expr)
	for rest != "" {
		if rest[0] != '[' && rest[0] != '(' {
			return nil, invalidRange(s, expr, "expected '[' or '('")
		}
		end := strings.IndexAny(rest, "])")
		if end < 0 {
			return nil, invalidRange(s, expr, "unclosed interval")
		}
		open, body, closing := rest[0], rest[1:end], rest[end]
		rest = strings.TrimLeft(rest[end+1:], " \t,")
		lo, hi, isRange := strings.Cut(body, ",")
		lo, hi = strings.TrimSpace(lo), strings.TrimSpace(hi)
		var bounds []bound
		if !isRange {
			if open != '[' || closing != ']' || lo == "" {
				return nil, invalidRange(s, expr, "an exact version is written [v]")
			}
			v, err := s.Parse(lo)
			if err != nil {
				return nil, err
			}
			bounds = append(bounds, bound{op: "=", v: v})
		} else {
			for _, e := range []struct {
				ver, incl, excl string
				inclusive       bool
			}{{lo, ">=", ">", open == '['}, {hi, "<=", "<", closing == ']'}} {
				if e.ver == "" {
					continue
				}
				v, err := s.Parse(e.ver)
				if err != nil {
					return nil, err
				}
				op := e.excl
				if e.inclusive {
					op = e.incl
				}
				bounds = append(bounds, bound{op: op, v: v})
			}
		}
		r.alts = append(r.alts, bounds)
	}
	if len(r.alts) == 0 {
		return nil, invalidRange(s, expr, "no interval")
	}
	return r, nil
}
