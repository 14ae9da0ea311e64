// Package golang parses and compares Go module versions with golang.org/x/mod/semver (the Go
// team's own implementation, BSD-3): "v" semantic versions, the "v1" and "v1.2" shorthands,
// pseudo-versions (v0.0.0-20210101000000-abcdef123456, ordered as pre-releases by their
// timestamp) and "+incompatible" (build metadata, ignored in comparisons). Go's OSV advisories
// write SEMVER versions without the "v", so Parse accepts both forms. The package must not know
// about modules or the vulnerability database.
package golang

import (
	"strings"

	"golang.org/x/mod/semver"

	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

// Name is the scheme name.
const Name = "golang"

// Version is a parsed Go module version. The zero value is not a valid version.
type Version struct {
	s string
	v string // canonical "v" form for x/mod/semver
}

// Parse parses a Go module version, with or without its leading "v". Errors wrap
// vererr.ErrInvalid (version.ErrInvalid).
func Parse(s string) (Version, error) {
	if err := vererr.CheckLen(Name, s, vererr.MaxLen); err != nil {
		return Version{}, err
	}
	v := s
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if !semver.IsValid(v) {
		return Version{}, vererr.New(Name, s, "not a Go module version")
	}
	return Version{s: s, v: v}, nil
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o.
func (v Version) Compare(o Version) int { return semver.Compare(v.v, o.v) }

// String returns the version as given to Parse.
func (v Version) String() string { return v.s }

// IsPseudo reports whether v is a pseudo-version (vX.Y.Z-[0.]yyyymmddhhmmss-abcdefabcdef).
func (v Version) IsPseudo() bool {
	pre := semver.Prerelease(v.v)
	if pre == "" {
		return false
	}
	i := strings.LastIndexByte(pre, '-')
	if i < 0 || len(pre)-i-1 != 12 {
		return false
	}
	stamp := pre[1:i]
	if j := strings.LastIndexAny(stamp, ".-"); j >= 0 {
		stamp = stamp[j+1:]
	}
	return len(stamp) == 14
}
