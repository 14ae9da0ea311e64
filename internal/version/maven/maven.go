// Package maven compares Maven versions with Maven's ComparableVersion order (numbers
// numerically, qualifiers alpha < beta < milestone < rc < snapshot < "" (ga, final, release) < sp
// < other strings, "-" and "." sub-lists, trailing zeros and null qualifiers ignored, "1a" read as
// "1-a", a/b/m before a digit as alpha/beta/milestone, case-insensitive).
//
// The comparison is github.com/masahiro331/go-mvn-version (Apache-2.0, the library Trivy uses).
// It passes our Maven vectors except two lines that depend on the CombinationItem rule Maven 3.9
// added ("1-ga-1", "3.5.0.Beta-1"); the tests list them. Parse guards the library: it accepts only
// printable ASCII without white space (the library indexes bytes by character and would misread
// other text), and numeric components longer than 18 digits compare as equal to each other (the
// library reads them as machine integers). The package must not know about POMs or ranges.
package maven

import (
	mvn "github.com/masahiro331/go-mvn-version"

	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

// Name is the scheme name.
const Name = "maven"

// Version is a parsed Maven version. The zero value is not a valid version.
type Version struct {
	s string
	v mvn.Version
}

// Parse parses a Maven version. Errors wrap vererr.ErrInvalid (version.ErrInvalid).
func Parse(s string) (Version, error) {
	if err := vererr.CheckLen(Name, s, vererr.MaxLen); err != nil {
		return Version{}, err
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return Version{}, vererr.New(Name, s, "not printable ASCII")
		}
	}
	v, err := mvn.NewVersion(s)
	if err != nil {
		return Version{}, vererr.New(Name, s, err.Error())
	}
	return Version{s: s, v: v}, nil
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o.
func (v Version) Compare(o Version) int {
	c := v.v.Compare(o.v)
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// String returns the version as given to Parse.
func (v Version) String() string { return v.s }
