package apk

import (
	"strings"

	"github.com/stellaops/stellaops/internal/version/internal/digits"
)

// Token kinds, in the order apk gives them: when two versions agree up to a point and then
// continue with tokens of different kinds, the version whose next token has the higher kind is
// the lesser (so an end of string sorts before a revision, and an invalid remainder sorts first).
const (
	tokInitialDigit = iota
	tokDigit
	tokLetter
	tokSuffix
	tokSuffixNo
	tokCommitHash
	tokRevision
	tokEnd
	tokInvalid
)

// Suffix values: pre-release suffixes sort below suffixNone (no suffix), the others above.
const (
	sufInvalid = iota
	sufAlpha
	sufBeta
	sufPre
	sufRC
	sufNone
	sufCVS
	sufSVN
	sufGit
	sufHg
	sufP
)

var suffixes = map[string]int{
	"alpha": sufAlpha, "beta": sufBeta, "pre": sufPre, "rc": sufRC,
	"cvs": sufCVS, "svn": sufSVN, "git": sufGit, "hg": sufHg, "p": sufP,
}

// tokenizer walks a version string token by token; it never allocates.
type tokenizer struct {
	s      string
	pos    int
	kind   int
	val    string // the token's text (digits, letter, suffix name or hash)
	suffix int
	// lenient accepts digits right after a letter ("6.6.4p1"), which apk-tools 2 accepted and
	// Alpine shipped, but apk-tools 3 calls invalid.
	lenient bool
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isHex(c byte) bool   { return digits.IsDigit(c) || (c >= 'a' && c <= 'f') }

func (t *tokenizer) span(ok func(byte) bool) string {
	start := t.pos
	for t.pos < len(t.s) && ok(t.s[t.pos]) {
		t.pos++
	}
	return t.s[start:t.pos]
}

func (t *tokenizer) digits() {
	t.val = t.span(digits.IsDigit)
	if t.val == "" {
		t.kind = tokInvalid
	}
}

// first reads the leading number.
func (t *tokenizer) first(s string, lenient bool) {
	*t = tokenizer{s: s, kind: tokInitialDigit, lenient: lenient}
	t.digits()
}

// next reads the token after the current one, checking that it may follow it.
func (t *tokenizer) next() {
	if t.pos >= len(t.s) {
		t.kind = tokEnd
		return
	}
	c := t.s[t.pos]
	switch {
	case isLower(c):
		if t.kind > tokDigit {
			t.kind = tokInvalid
			return
		}
		t.val, t.kind = t.s[t.pos:t.pos+1], tokLetter
		t.pos++
	case c == '.' || digits.IsDigit(c):
		if c == '.' {
			if t.kind > tokDigit {
				t.kind = tokInvalid
				return
			}
			t.pos++
		}
		switch t.kind {
		case tokInitialDigit, tokDigit:
			t.kind = tokDigit
		case tokLetter:
			if !t.lenient || c == '.' {
				t.kind = tokInvalid
				return
			}
			t.kind = tokDigit
		case tokSuffix:
			t.kind = tokSuffixNo
		default:
			t.kind = tokInvalid
			return
		}
		t.digits()
	case c == '_':
		if t.kind > tokSuffixNo {
			t.kind = tokInvalid
			return
		}
		t.pos++
		t.val = t.span(isLower)
		t.suffix = suffixes[t.val]
		t.kind = tokSuffix
		if t.suffix == sufInvalid {
			t.kind = tokInvalid
		}
	case c == '~':
		if t.kind >= tokCommitHash {
			t.kind = tokInvalid
			return
		}
		t.pos++
		t.val = t.span(isHex)
		t.kind = tokCommitHash
		if t.val == "" {
			t.kind = tokInvalid
		}
	case c == '-':
		if t.kind >= tokRevision || !strings.HasPrefix(t.s[t.pos:], "-r") {
			t.kind = tokInvalid
			return
		}
		t.pos += 2
		t.kind = tokRevision
		t.digits()
	default:
		t.kind = tokInvalid
	}
}

// cmpToken compares two tokens of the same kind.
func cmpToken(a, b *tokenizer) int {
	switch a.kind {
	case tokDigit:
		if a.val[0] == '0' || b.val[0] == '0' {
			// A leading zero makes apk compare the raw strings (as the Gentoo rules do).
			return strings.Compare(a.val, b.val)
		}
		return digits.Compare(a.val, b.val)
	case tokInitialDigit, tokSuffixNo, tokRevision:
		return digits.Compare(a.val, b.val)
	case tokLetter:
		return strings.Compare(a.val, b.val)
	case tokSuffix:
		return digits.Sign(a.suffix - b.suffix)
	}
	return strings.Compare(a.val, b.val)
}
