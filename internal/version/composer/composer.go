// Package composer compares Composer (Packagist) versions with PHP's version_compare, which
// composer/semver's Comparator applies to the versions it is given: after a leading "v" or "V" is
// dropped, components split at ".", "-", "_", "+" and at digit/non-digit boundaries; numbers
// compare numerically (here at any length, where PHP would saturate); named components by rank:
// dev < alpha = a < beta = b < RC = rc < "#" (a number) < pl = p, anything else below dev; a
// number against a name ranks as "#"; left-over components compare against "#" (so 1.0 < 1.0.0,
// 1.0 > 1.0-beta and 1.0 < 1.0-p1).
//
// It is our own implementation, written from php-src ext/standard/versioning.c as the
// specification; there is no Go port. We do not apply VersionParser::normalize (1.0 → 1.0.0.0)
// first: the vectors, generated with version_compare from real Packagist versions, show raw
// version_compare order (v3.0 < v3.0.0-beta, 1.0.0 > 1.0, upper-case ALPHA unranked). The
// package must not know about composer.json or constraints.
package composer

import (
	"strings"

	"github.com/stellaops/stellaops/internal/version/internal/digits"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

// Name is the scheme name.
const Name = "composer"

// Version is a parsed Composer version. The zero value is not a valid version.
type Version struct {
	s    string
	toks []string
}

// Parse parses a Composer version. Errors wrap vererr.ErrInvalid (version.ErrInvalid).
func Parse(s string) (Version, error) {
	if err := vererr.CheckLen(Name, s, vererr.MaxLen); err != nil {
		return Version{}, err
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return Version{}, vererr.New(Name, s, "not printable ASCII")
		}
	}
	toks := tokens(trimV(s))
	if len(toks) == 0 {
		return Version{}, vererr.New(Name, s, "no version components")
	}
	return Version{s: s, toks: toks}, nil
}

// trimV drops a leading "v" or "V" before a digit.
func trimV(s string) string {
	if len(s) > 1 && (s[0] == 'v' || s[0] == 'V') && digits.IsDigit(s[1]) {
		return s[1:]
	}
	return s
}

func isNotDigit(c byte) bool { return !digits.IsDigit(c) && c != '.' }

// tokens is php_canonicalize_version followed by the split at ".": "-", "_" and "+" separate, a
// digit/non-digit boundary separates, empty components vanish.
func tokens(s string) []string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i > 0 {
			p := s[i-1]
			switch {
			case c == '-' || c == '_' || c == '+':
				b.WriteByte('.')
				continue
			case (isNotDigit(p) && digits.IsDigit(c)) || (digits.IsDigit(p) && isNotDigit(c)):
				b.WriteByte('.')
			}
		}
		b.WriteByte(c)
	}
	var out []string
	for t := range strings.SplitSeq(b.String(), ".") {
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

// forms are version_compare's named components and their ranks, matched by prefix in this order.
var forms = []struct {
	name string
	rank int
}{{"dev", 0}, {"alpha", 1}, {"a", 1}, {"beta", 2}, {"b", 2}, {"RC", 3}, {"rc", 3}, {"#", 4}, {"pl", 5}, {"p", 5}}

func rank(s string) int {
	for _, f := range forms {
		if strings.HasPrefix(s, f.name) {
			return f.rank
		}
	}
	return -1
}

const numberRank = 4 // "#N#", a number where a name is compared

func cmpTok(a, b string) int {
	an, bn := digits.IsDigit(a[0]), digits.IsDigit(b[0])
	switch {
	case an && bn:
		return digits.Compare(a, b)
	case an:
		return digits.Sign(numberRank - rank(b))
	case bn:
		return digits.Sign(rank(a) - numberRank)
	}
	return digits.Sign(rank(a) - rank(b))
}

// compareTokens is version_compare on canonical components. Left-over components are compared
// with "#N#": a number wins, a name by rank against "#".
func compareTokens(a, b []string) int {
	for len(a) > 0 && len(b) > 0 {
		if c := cmpTok(a[0], b[0]); c != 0 {
			return c
		}
		a, b = a[1:], b[1:]
	}
	for len(a) > 0 {
		if digits.IsDigit(a[0][0]) {
			return 1
		}
		if c := digits.Sign(rank(a[0]) - numberRank); c != 0 {
			return c
		}
		a = a[1:]
	}
	for len(b) > 0 {
		if digits.IsDigit(b[0][0]) {
			return -1
		}
		if c := digits.Sign(numberRank - rank(b[0])); c != 0 {
			return c
		}
		b = b[1:]
	}
	return 0
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o.
func (v Version) Compare(o Version) int { return compareTokens(v.toks, o.toks) }

// String returns the version as given to Parse.
func (v Version) String() string { return v.s }
