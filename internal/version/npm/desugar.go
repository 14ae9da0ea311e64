package npm

import (
	"regexp"
	"strings"
	"sync"
)

// Regular expressions of node-semver's range grammar, compiled for both modes.
type grammar struct {
	hyphen, comparatorTrim, tildeTrim, caretTrim *regexp.Regexp
	caret, tilde, xrange, comparator, star       *regexp.Regexp
}

func newGrammar(plain, xrange string) *grammar {
	return &grammar{
		hyphen:         regexp.MustCompile(`^\s*(` + xrange + `)\s+-\s+(` + xrange + `)\s*$`),
		comparatorTrim: regexp.MustCompile(`(\s*)((?:<|>)?=?)\s*(` + plain + `|` + xrange + `)`),
		tildeTrim:      regexp.MustCompile(`(\s*)~>?\s+`),
		caretTrim:      regexp.MustCompile(`(\s*)\^\s+`),
		caret:          regexp.MustCompile(`^\^` + xrange + `$`),
		tilde:          regexp.MustCompile(`^~>?` + xrange + `$`),
		xrange:         regexp.MustCompile(`^((?:<|>)?=?)\s*` + xrange + `$`),
		comparator:     regexp.MustCompile(`^((?:<|>)?=?)\s*(` + plain + `)$|^$`),
		star:           regexp.MustCompile(`(<|>)?=?\s*\*`),
	}
}

// The range grammars are compiled on first use: every stellaops process links this package, few
// parse npm ranges, and compiling them at start-up cost every command ~0.5 MB and a few ms.
var (
	strictGrammar = sync.OnceValue(func() *grammar { return newGrammar(fullPlain, xrangeStrict) })
	looseGrammar  = sync.OnceValue(func() *grammar { return newGrammar(loosePlain, xrangeLoose) })
	// buildMeta is build metadata inside a range; node-semver drops it before parsing versions.
	buildMeta = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*`) })
	gte0      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*>=\s*0\.0\.0\s*$`) })
	gte0Pre   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*>=\s*0\.0\.0-0\s*$`) })
)

func isX(id string) bool { return id == "" || id == "x" || id == "X" || id == "*" }

// inc returns the decimal string n+1 (n is a string of digits). A result above 2^53-1 makes
// the comparator using it invalid later, as in node-semver.
func inc(n string) string {
	b := []byte(strings.TrimLeft(n, "0"))
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			return string(b)
		}
		b[i] = '0'
	}
	return "1" + string(b)
}

// num returns a numeric identifier as node-semver's +M would print it (no leading zeros).
func num(n string) string {
	if t := strings.TrimLeft(n, "0"); t != "" {
		return t
	}
	return "0"
}

// badX reports a numeric component after an "x" one ("1.x.5", "x.1"), which node-semver rejects.
func badX(ids ...string) bool {
	seenX := false
	for _, id := range ids {
		if isX(id) {
			seenX = true
		} else if seenX {
			return true
		}
	}
	return false
}

// errBadX marks a comparator with a number after an "x".
const errBadX = "\x00"

func (g *grammar) replaceCaret(comp string, opt Options) string {
	m := g.caret.FindStringSubmatch(comp)
	if m == nil {
		return comp
	}
	M, mi, p, pr := m[1], m[2], m[3], m[4]
	if badX(M, mi, p) {
		return errBadX
	}
	z := ""
	if opt.IncludePrerelease {
		z = "-0"
	}
	switch {
	case isX(M):
		return ""
	case isX(mi):
		return ">=" + num(M) + ".0.0" + z + " <" + inc(M) + ".0.0-0"
	case isX(p):
		if num(M) == "0" {
			return ">=" + num(M) + "." + num(mi) + ".0" + z + " <" + num(M) + "." + inc(mi) + ".0-0"
		}
		return ">=" + num(M) + "." + num(mi) + ".0" + z + " <" + inc(M) + ".0.0-0"
	}
	lo := ">=" + num(M) + "." + num(mi) + "." + num(p)
	if pr != "" {
		lo += "-" + pr
	}
	switch {
	case num(M) != "0":
		return lo + " <" + inc(M) + ".0.0-0"
	case num(mi) != "0":
		return lo + " <" + num(M) + "." + inc(mi) + ".0-0"
	}
	return lo + " <" + num(M) + "." + num(mi) + "." + inc(p) + "-0"
}

func (g *grammar) replaceTilde(comp string, opt Options) string {
	m := g.tilde.FindStringSubmatch(comp)
	if m == nil {
		return comp
	}
	M, mi, p, pr := m[1], m[2], m[3], m[4]
	if badX(M, mi, p) {
		return errBadX
	}
	z := ""
	if opt.IncludePrerelease {
		z = "-0"
	}
	switch {
	case isX(M):
		return ""
	case isX(mi):
		return ">=" + num(M) + ".0.0" + z + " <" + inc(M) + ".0.0-0"
	case isX(p):
		return ">=" + num(M) + "." + num(mi) + ".0" + z + " <" + num(M) + "." + inc(mi) + ".0-0"
	}
	lo := ">=" + num(M) + "." + num(mi) + "." + num(p)
	if pr != "" {
		lo += "-" + pr
	}
	return lo + " <" + num(M) + "." + inc(mi) + ".0-0"
}

func (g *grammar) replaceXRange(comp string, opt Options) string {
	comp = strings.TrimSpace(comp)
	m := g.xrange.FindStringSubmatch(comp)
	if m == nil {
		return comp
	}
	op, M, mi, p := m[1], m[2], m[3], m[4]
	if badX(M, mi, p) {
		return errBadX
	}
	xM := isX(M)
	xm := xM || isX(mi)
	xp := xm || isX(p)
	if op == "=" && xp {
		op = ""
	}
	pr := ""
	if opt.IncludePrerelease {
		pr = "-0"
	}
	switch {
	case xM:
		if op == ">" || op == "<" {
			return "<0.0.0-0"
		}
		return "*"
	case op != "" && xp:
		M = num(M)
		if xm {
			mi = "0"
		} else {
			mi = num(mi)
		}
		p = "0"
		switch op {
		case ">":
			op = ">="
			if xm {
				M, mi = inc(M), "0"
			} else {
				mi = inc(mi)
			}
		case "<=":
			op = "<"
			if xm {
				M = inc(M)
			} else {
				mi = inc(mi)
			}
		}
		if op == "<" {
			pr = "-0"
		}
		return op + M + "." + mi + "." + p + pr
	case xm:
		return ">=" + num(M) + ".0.0" + pr + " <" + inc(M) + ".0.0-0"
	case xp:
		return ">=" + num(M) + "." + num(mi) + ".0" + pr + " <" + num(M) + "." + inc(mi) + ".0-0"
	}
	return comp
}

func (g *grammar) hyphenReplace(rng string, opt Options) string {
	m := g.hyphen.FindStringSubmatch(rng)
	if m == nil {
		return rng
	}
	from, fM, fm, fp, fpr := m[1], m[2], m[3], m[4], m[5]
	to, tM, tm, tp, tpr := m[7], m[8], m[9], m[10], m[11]
	if badX(fM, fm, fp) || badX(tM, tm, tp) {
		return errBadX
	}
	z := ""
	if opt.IncludePrerelease {
		z = "-0"
	}
	switch {
	case isX(fM):
		from = ""
	case isX(fm):
		from = ">=" + num(fM) + ".0.0" + z
	case isX(fp):
		from = ">=" + num(fM) + "." + num(fm) + ".0" + z
	case fpr != "":
		from = ">=" + from
	default:
		from = ">=" + from + z
	}
	switch {
	case isX(tM):
		to = ""
	case isX(tm):
		to = "<" + inc(tM) + ".0.0-0"
	case isX(tp):
		to = "<" + num(tM) + "." + inc(tm) + ".0-0"
	case tpr != "":
		to = "<=" + num(tM) + "." + num(tm) + "." + num(tp) + "-" + tpr
	case opt.IncludePrerelease:
		to = "<" + num(tM) + "." + num(tm) + "." + inc(tp) + "-0"
	default:
		to = "<=" + to
	}
	return strings.TrimSpace(from + " " + to)
}

var reWS = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\s+`) })

// words splits like JavaScript's s.split(/\s+/): "" gives [""], a leading blank a leading "".
func words(s string) []string { return reWS().Split(s, -1) }

// mapWords applies f to every word of the trimmed s and joins the results with spaces, as
// node-semver's replaceCarets, replaceTildes and replaceXRanges do.
func mapWords(s string, f func(string) string) (string, bool) {
	ws := words(strings.TrimSpace(s))
	for i, w := range ws {
		ws[i] = f(w)
		if ws[i] == errBadX {
			return "", false
		}
	}
	return strings.Join(ws, " "), true
}

// parseComparator desugars one word of a range into primitive comparators.
func (g *grammar) parseComparator(comp string, opt Options) (string, bool) {
	for _, f := range []func(string, Options) string{g.replaceCaret, g.replaceTilde, g.replaceXRange} {
		var ok bool
		if comp, ok = mapWords(comp, func(w string) string { return f(w, opt) }); !ok {
			return "", false
		}
	}
	return g.star.ReplaceAllString(strings.TrimSpace(comp), ""), true
}

// desugar turns one "||"-free comparator set into node-semver's primitive comparators ("" is
// any version).
func (g *grammar) desugar(set string, opt Options) ([]string, bool) {
	set = g.hyphenReplace(strings.TrimSpace(set), opt)
	if set == errBadX {
		return nil, false
	}
	set = g.comparatorTrim.ReplaceAllString(set, "$1$2$3")
	set = g.tildeTrim.ReplaceAllString(set, "$1~")
	set = g.caretTrim.ReplaceAllString(set, "$1^")
	var parts []string
	for _, w := range strings.Split(set, " ") {
		c, ok := g.parseComparator(w, opt)
		if !ok {
			return nil, false
		}
		parts = append(parts, c)
	}
	re := gte0()
	if opt.IncludePrerelease {
		re = gte0Pre()
	}
	var out []string
	for _, c := range words(strings.Join(parts, " ")) {
		c = re.ReplaceAllString(c, "")
		if opt.Loose && !g.comparator.MatchString(c) {
			continue
		}
		out = append(out, c)
	}
	return out, true
}
