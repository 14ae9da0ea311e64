// Package pub compares Dart pub versions the way package:pub_semver does: SemVer 2.0.0
// precedence, except that build metadata is not ignored — a version with build metadata sorts
// after the same version without it, and build identifiers compare like pre-release identifiers
// (1.2.3+1 < 1.2.3+a, 1.2.3-pre < 1.2.3-pre+build < 1.2.3 < 1.2.3+build).
//
// Parsing is internal/version/semver's (our own SemVer 2.0.0 parser, which also takes a leading
// "v" and the "1"/"1.2" shorthands); there is no Go library for pub's rule. The package must not
// know about ranges or pubspecs.
package pub

import (
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
	"github.com/stellaops/stellaops/internal/version/semver"
)

// Name is the scheme name.
const Name = "pub"

// Version is a parsed pub version. The zero value is not a valid version.
type Version struct{ v semver.Version }

// Parse parses a pub version. Errors wrap vererr.ErrInvalid (version.ErrInvalid).
func Parse(s string) (Version, error) {
	v, err := semver.Parse(s)
	if err != nil {
		return Version{}, vererr.New(Name, s, err.Error())
	}
	return Version{v: v}, nil
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o.
func (v Version) Compare(o Version) int {
	if c := v.v.Compare(o.v); c != 0 {
		return c
	}
	a, b := v.v.Build(), o.v.Build()
	switch {
	case a == b:
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	return semver.CompareIdentifiers(a, b)
}

// String returns the version as given to Parse.
func (v Version) String() string { return v.v.String() }
