// Package apk parses and compares Alpine (apk-tools 3) package versions:
// digit{.digit}…{letter}{_suffix{number}}…{~hash}{-rN}. Numbers compare numerically, except that
// a dotted component with a leading zero compares as a string; the suffixes _alpha, _beta, _pre
// and _rc sort before the bare version and _cvs, _svn, _git, _hg and _p after it; "-rN" is the
// package revision.
//
// It is our own implementation of the apk-tools 3 rules (the token grammar and ordering of
// apk-tools src/version.c, read as a specification, not copied). We do not use
// github.com/knqyf263/go-apk-version: it implements the apk-tools 2 rules and fails the current
// vectors (leading zeros "8.2.0 < 8.2.001", "~hash" commit tokens, "6.0_pre1 < 6.0").
//
// Validity: Valid reports apk-tools 3 validity exactly (the "!ver" lines of apk-tools' vectors).
// Parse is deliberately wider: real Alpine package databases and secdb hold versions that
// apk-tools 2 accepted and apk-tools 3 calls invalid (openssh "6.6.4p1-r1", "3.3.3p1-r0"), and
// apk-tools 3 still orders them, the invalid remainder sorting first. So Parse accepts any string
// that starts with a digit and has no white space or control characters, and Compare orders it as
// `apk version -t` does; Version.Valid tells the strict answer. One apk-tools 2 rule is kept in
// the ordering: digits may follow a letter ("6.6.4p1-r0" < "6.6.4p1-r1"), where apk-tools 3 would
// call both invalid and equal and so lose the revision; without it, fixes to such packages in old
// Alpine releases would be missed. The package must not know about Alpine releases or secdb.
package apk

import (
	"github.com/stellaops/stellaops/internal/version/internal/digits"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

// Name is the scheme name.
const Name = "apk"

// Version is a parsed apk version. The zero value is not a valid version.
type Version struct{ s string }

// Parse accepts a string apk-tools can order: it starts with a digit and has no white space or
// control characters (see the package doc for why this is wider than Valid). Errors wrap
// vererr.ErrInvalid (version.ErrInvalid).
func Parse(s string) (Version, error) {
	if err := vererr.CheckLen(Name, s, vererr.MaxLen); err != nil {
		return Version{}, err
	}
	if !digits.IsDigit(s[0]) {
		return Version{}, vererr.New(Name, s, "does not start with a digit")
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return Version{}, vererr.New(Name, s, "white space or control character")
		}
	}
	return Version{s: s}, nil
}

// Valid reports whether v is valid for apk-tools 3.
func (v Version) Valid() bool { return Valid(v.s) }

// Valid reports whether s is a valid apk version.
func Valid(s string) bool {
	var t tokenizer
	for t.first(s, false); t.kind < tokEnd; t.next() {
	}
	return t.kind == tokEnd
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o.
func (v Version) Compare(o Version) int { return Compare(v.s, o.s) }

// String returns the version as given to Parse.
func (v Version) String() string { return v.s }

// Compare orders any two strings as apk-tools does, valid versions or not.
func Compare(a, b string) int { return compare(a, b, false) }

// CompareFuzzy is Compare, except that a is equal to b when b is a token-wise prefix of a: it is
// apk's "~" (fuzzy) dependency match, under which 3.6.9 and 3.6_pre1 match ~3.6 but 3.8 does not
// match ~3.8.1.
func CompareFuzzy(a, b string) int { return compare(a, b, true) }

func compare(a, b string, fuzzy bool) int {
	var ta, tb tokenizer
	ta.first(a, true)
	tb.first(b, true)
	for ta.kind == tb.kind && ta.kind < tokEnd {
		if c := cmpToken(&ta, &tb); c != 0 {
			return c
		}
		ta.next()
		tb.next()
	}
	switch {
	case ta.kind == tb.kind, fuzzy && tb.kind == tokEnd:
		return 0
	case ta.kind == tokSuffix && ta.suffix < sufNone:
		return -1
	case tb.kind == tokSuffix && tb.suffix < sufNone:
		return 1
	case ta.kind > tb.kind:
		return -1
	case ta.kind < tb.kind:
		return 1
	}
	return 0
}
