// Package nuget compares NuGet package versions as NuGet.Versioning does: up to four numeric
// components (missing ones are 0, leading zeros ignored: 1.0.01 = 1.0.1.0), then a version with a
// pre-release label below the same version without one, labels compared identifier by identifier
// case-insensitively (numeric identifiers numerically and below alphanumeric ones), build metadata
// after "+" ignored. Numbers compare at any length.
//
// It is our own implementation of NuGet's documented rules (there is no Go port of
// NuGet.Versioning). The package must not know about .csproj or ranges.
package nuget

import (
	"strings"

	"github.com/stellaops/stellaops/internal/version/internal/digits"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
	"github.com/stellaops/stellaops/internal/version/semver"
)

// Name is the scheme name.
const Name = "nuget"

// Version is a parsed NuGet version. The zero value is not a valid version.
type Version struct {
	s     string
	parts [4]string
	pre   string // lower-cased
}

// Parse parses a NuGet version. Errors wrap vererr.ErrInvalid (version.ErrInvalid).
func Parse(s string) (Version, error) {
	if err := vererr.CheckLen(Name, s, vererr.MaxLen); err != nil {
		return Version{}, err
	}
	v := Version{s: s}
	rest := s
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		if !idents(rest[i+1:]) {
			return Version{}, vererr.New(Name, s, "invalid build metadata")
		}
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		v.pre = strings.ToLower(rest[i+1:])
		if !idents(v.pre) {
			return Version{}, vererr.New(Name, s, "invalid pre-release label")
		}
		rest = rest[:i]
	}
	nums := strings.Split(rest, ".")
	if len(nums) > 4 {
		return Version{}, vererr.New(Name, s, "more than four numeric components")
	}
	for i := range v.parts {
		v.parts[i] = "0"
		if i < len(nums) {
			if !digits.IsDigits(nums[i]) {
				return Version{}, vererr.New(Name, s, "invalid numeric component")
			}
			v.parts[i] = nums[i]
		}
	}
	return v, nil
}

func idents(s string) bool {
	if s == "" {
		return false
	}
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			if c := id[i]; !digits.IsDigit(c) && !digits.IsAlpha(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o.
func (v Version) Compare(o Version) int {
	for i := range v.parts {
		if c := digits.Compare(v.parts[i], o.parts[i]); c != 0 {
			return c
		}
	}
	return semver.ComparePrerelease(v.pre, o.pre)
}

// String returns the version as given to Parse.
func (v Version) String() string { return v.s }
