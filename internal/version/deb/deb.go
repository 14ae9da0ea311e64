// Package deb parses and compares Debian package versions ([epoch:]upstream[-revision]) with
// dpkg's ordering: a numeric epoch first, then upstream and revision compared by alternating
// non-digit runs (where '~' sorts before everything, even the end of the string, and letters sort
// before other characters) and digit runs compared numerically.
//
// The comparison is delegated to github.com/knqyf263/go-deb-version (MIT, the library Trivy uses),
// which passes every Debian vector in internal/version/testdata. That library is more lenient than
// dpkg when parsing (it accepts '_', non-ASCII letters and an empty revision) and compares digit
// runs as machine integers, so Parse first checks the input against dpkg's own rules
// (lib/dpkg/parsehelp.c parseversion) and bounds digit runs to 18 digits, where the library is
// exact. The package must not know about distributions or advisories.
package deb

import (
	"strings"

	debversion "github.com/knqyf263/go-deb-version"

	"github.com/stellaops/stellaops/internal/version/internal/digits"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

// Name is the scheme name.
const Name = "deb"

// maxDigitRun is the longest run of digits the underlying comparison handles exactly.
const maxDigitRun = 18

// Version is a parsed Debian version. The zero value is not a valid version.
type Version struct {
	s string
	v debversion.Version
}

// Parse parses a Debian version. Surrounding white space is not allowed. Errors wrap
// vererr.ErrInvalid (version.ErrInvalid).
func Parse(s string) (Version, error) {
	if err := vererr.CheckLen(Name, s, vererr.MaxLen); err != nil {
		return Version{}, err
	}
	if err := validate(s); err != nil {
		return Version{}, err
	}
	v, err := debversion.NewVersion(s)
	if err != nil {
		return Version{}, vererr.New(Name, s, err.Error())
	}
	return Version{s: s, v: v}, nil
}

// validate applies dpkg's parseversion rules: an optional all-digit epoch before the first ':',
// a non-empty upstream starting with a digit, made of ASCII alphanumerics and ".+~-:" (':' only
// with an epoch, '-' only with a revision), and a non-empty revision (after the last '-') made of
// ASCII alphanumerics and ".+~".
func validate(s string) error {
	rest := s
	hasEpoch := false
	if i := strings.IndexByte(s, ':'); i >= 0 {
		epoch := s[:i]
		if !digits.IsDigits(epoch) {
			return vererr.New(Name, s, "epoch is not a number")
		}
		if len(digits.TrimZeros(epoch)) > 9 {
			return vererr.New(Name, s, "epoch is too big")
		}
		hasEpoch = true
		rest = s[i+1:]
	}
	upstream, revision, hasRevision := rest, "", false
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		upstream, revision, hasRevision = rest[:i], rest[i+1:], true
	}
	if upstream == "" {
		return vererr.New(Name, s, "empty upstream version")
	}
	if !digits.IsDigit(upstream[0]) {
		return vererr.New(Name, s, "upstream version does not start with a digit")
	}
	if hasRevision && revision == "" {
		return vererr.New(Name, s, "empty revision")
	}
	if !allowed(upstream, ".+~-:", hasEpoch) || !allowed(revision, ".+~", false) {
		return vererr.New(Name, s, "invalid character")
	}
	return nil
}

// allowed reports whether s has only ASCII alphanumerics and the extra bytes, has no ':' unless
// colon is set, and has no digit run longer than maxDigitRun.
func allowed(s, extra string, colon bool) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if digits.IsDigit(c) {
			run++
			if run > maxDigitRun && len(digits.TrimZeros(s[i-run+1:i+1])) > maxDigitRun {
				return false
			}
			continue
		}
		run = 0
		switch {
		case digits.IsAlpha(c):
		case c == ':' && !colon:
			return false
		case strings.IndexByte(extra, c) < 0:
			return false
		}
	}
	return true
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o in dpkg order.
func (v Version) Compare(o Version) int {
	return digits.Sign(v.v.Compare(o.v))
}

// String returns the version as given to Parse.
func (v Version) String() string { return v.s }

// Epoch returns the epoch (0 when absent).
func (v Version) Epoch() int { return v.v.Epoch() }

// Upstream returns the upstream version.
func (v Version) Upstream() string { return v.v.Version() }

// Revision returns the Debian revision ("" when absent).
func (v Version) Revision() string { return v.v.Revision() }
