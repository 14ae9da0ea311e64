// Package rpm parses and compares RPM versions ([epoch:]version[-release], "EVR") the way rpm
// does: the epoch, version and release are each compared with rpmvercmp, which splits strings into
// runs of ASCII digits and ASCII letters (everything else separates), compares digit runs
// numerically and letter runs byte-wise, makes a digit run newer than a letter run, sorts '~'
// before everything (even the end of the string) and '^' after the end of the string but before
// any further segment.
//
// It is written from rpm's own specification (rpmvercmp and the EVR split in parseEVR, as in
// rpm/lib/rpmver.c) rather than wrapping github.com/knqyf263/go-rpm-version: that library's
// rpmvercmp passes our vectors but its EVR split does not (it treats any text before ':' as the
// epoch, so "a:1" and "b:1" compare equal where rpm says "a:1" < "b:1").
//
// One ordering is ours: rpm ignores the release when only one side has one (a dependency without
// a release matches any release); for a total order this package sorts a missing release before
// any present one, so "1.0" < "1.0-1". The package must not know about distributions.
package rpm

import (
	"strings"

	"github.com/stellaops/stellaops/internal/version/internal/digits"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

// Name is the scheme name.
const Name = "rpm"

// Version is a parsed RPM EVR. The zero value is not a valid version.
type Version struct {
	s          string
	epoch      string // "" when absent (compares as "0")
	version    string
	release    string
	hasRelease bool
}

// Parse splits an EVR as rpm does: the epoch is a leading run of digits ended by ':' (an empty
// one is 0); the release is everything after the last '-' that follows it. Other text, including
// non-ASCII, is accepted as rpm accepts it. Errors (empty, too long, white space or control
// characters, empty version) wrap vererr.ErrInvalid.
func Parse(s string) (Version, error) {
	if err := vererr.CheckLen(Name, s, vererr.MaxLen); err != nil {
		return Version{}, err
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return Version{}, vererr.New(Name, s, "white space or control character")
		}
	}
	v := Version{s: s}
	rest := s
	i := 0
	for i < len(s) && digits.IsDigit(s[i]) {
		i++
	}
	if i < len(s) && s[i] == ':' {
		v.epoch, rest = s[:i], s[i+1:]
	}
	if j := strings.LastIndexByte(rest, '-'); j >= 0 {
		v.version, v.release, v.hasRelease = rest[:j], rest[j+1:], true
	} else {
		v.version = rest
	}
	if v.version == "" {
		return Version{}, vererr.New(Name, s, "empty version")
	}
	return v, nil
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o: epochs (absent is 0), then
// versions, then releases, each with rpmvercmp; a missing release sorts before a present one.
func (v Version) Compare(o Version) int {
	if c := digits.Compare(v.epoch, o.epoch); c != 0 {
		return c
	}
	if c := Vercmp(v.version, o.version); c != 0 {
		return c
	}
	switch {
	case v.hasRelease && o.hasRelease:
		return Vercmp(v.release, o.release)
	case v.hasRelease:
		return 1
	case o.hasRelease:
		return -1
	}
	return 0
}

// String returns the version as given to Parse.
func (v Version) String() string { return v.s }

// Epoch returns the epoch as written ("" when absent).
func (v Version) Epoch() string { return v.epoch }

// Version returns the version part.
func (v Version) Version() string { return v.version }

// Release returns the release part and whether there was one.
func (v Version) Release() (string, bool) { return v.release, v.hasRelease }
