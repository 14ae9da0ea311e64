// Package gem compares RubyGems versions as Gem::Version does: the version (with "-" read as
// ".pre.") is split into runs of digits and runs of letters; trailing zeros are dropped from the
// release part and from the pre-release part; then segments compare pairwise, missing ones as 0,
// numbers numerically (any length), strings byte-wise, and a string segment below a number (so
// "1.0.a" < "1.0" < "1.0.1"). A version with any letter is a pre-release.
//
// It is our own implementation of Gem::Version (rubygems/version.rb, read as the specification);
// there is no Go port. The package must not know about Gemfiles or requirements.
package gem

import (
	"regexp"
	"strings"
	"sync"

	"github.com/stellaops/stellaops/internal/version/internal/digits"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

// Name is the scheme name.
const Name = "gem"

// pattern is Gem::Version::ANCHORED_VERSION_PATTERN without the surrounding white space.
var pattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$`)
})

var segment = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[0-9]+|[a-zA-Z]+`) })

// Version is a parsed RubyGems version. The zero value is not a valid version.
type Version struct {
	s    string
	segs []string // canonical segments; numbers without leading zeros
}

// Parse parses a RubyGems version. Errors wrap vererr.ErrInvalid (version.ErrInvalid).
func Parse(s string) (Version, error) {
	if err := vererr.CheckLen(Name, s, vererr.MaxLen); err != nil {
		return Version{}, err
	}
	if !pattern().MatchString(s) {
		return Version{}, vererr.New(Name, s, "not a gem version")
	}
	raw := segment().FindAllString(strings.ReplaceAll(s, "-", ".pre."), -1)
	for i, r := range raw {
		if digits.IsDigit(r[0]) {
			if raw[i] = digits.TrimZeros(r); raw[i] == "" {
				raw[i] = "0"
			}
		}
	}
	// canonical_segments: drop trailing zeros of the numeric part and of the string part.
	split := len(raw)
	for i, r := range raw {
		if !digits.IsDigit(r[0]) {
			split = i
			break
		}
	}
	trim := func(p []string) []string {
		for len(p) > 0 && p[len(p)-1] == "0" {
			p = p[:len(p)-1]
		}
		return p
	}
	segs := append(trim(append([]string(nil), raw[:split]...)), trim(raw[split:])...)
	return Version{s: s, segs: segs}, nil
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o.
func (v Version) Compare(o Version) int {
	n := max(len(v.segs), len(o.segs))
	for i := 0; i < n; i++ {
		a, b := "0", "0"
		if i < len(v.segs) {
			a = v.segs[i]
		}
		if i < len(o.segs) {
			b = o.segs[i]
		}
		if a == b {
			continue
		}
		an, bn := digits.IsDigit(a[0]), digits.IsDigit(b[0])
		switch {
		case an && bn:
			return digits.Compare(a, b)
		case an:
			return 1
		case bn:
			return -1
		}
		return strings.Compare(a, b)
	}
	return 0
}

// String returns the version as given to Parse.
func (v Version) String() string { return v.s }

// Prerelease reports whether the version has a letter (Gem::Version#prerelease?).
func (v Version) Prerelease() bool { return strings.IndexFunc(v.s, isLetter) >= 0 }

func isLetter(r rune) bool { return r < 0x80 && digits.IsAlpha(byte(r)) }
