// Package semver parses and compares Semantic Versioning 2.0.0 versions by SemVer precedence:
// major, minor and patch numerically (any length), then a version with a pre-release below the
// same version without one, pre-release identifiers compared left to right (numeric ones
// numerically and below alphanumeric ones, which compare in ASCII order, a shorter list first);
// build metadata is ignored.
//
// It is our own small implementation of the SemVer 2.0.0 grammar. We do not use
// Masterminds/semver/v3: it coerces ("1.2" → "1.2.0", "v" prefixes) and limits numbers to
// uint64, and its range syntax is not node-semver's. The parser accepts two extensions, both
// from OSV data: a leading "v" (the OSV schema says SEMVER versions carry none, but Go's
// advisories are written with and without it) and the x/mod/semver shorthands "1" and "1.2"
// (for 1.0.0 and 1.2.0, without pre-release or build). Everything else that is not SemVer 2.0.0 —
// leading zeros, empty identifiers, four numeric components — is rejected. The package serves the
// OSV SEMVER type, crates.io and Hex; it must not know about ranges or ecosystems.
package semver

import (
	"strings"

	"github.com/stellaops/stellaops/internal/version/internal/digits"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

// Name is the scheme name.
const Name = "semver"

// Version is a parsed semantic version. The zero value is not a valid version.
type Version struct {
	s                   string
	major, minor, patch string // digits, no leading zeros
	pre                 string // "" when absent
	build               string // "" when absent
}

// Parse parses a SemVer 2.0.0 version, with an optional leading "v" and the shorthands "1" and
// "1.2". Errors wrap vererr.ErrInvalid (version.ErrInvalid).
func Parse(s string) (Version, error) {
	if err := vererr.CheckLen(Name, s, vererr.MaxLen); err != nil {
		return Version{}, err
	}
	v := Version{s: s}
	rest := strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		rest, v.build = rest[:i], rest[i+1:]
		if !identifiers(v.build, false) {
			return Version{}, vererr.New(Name, s, "invalid build metadata")
		}
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		rest, v.pre = rest[:i], rest[i+1:]
		if !identifiers(v.pre, true) {
			return Version{}, vererr.New(Name, s, "invalid pre-release")
		}
	}
	parts := strings.Split(rest, ".")
	if len(parts) > 3 {
		return Version{}, vererr.New(Name, s, "more than three numeric components")
	}
	if len(parts) < 3 && (v.pre != "" || v.build != "" || strings.ContainsAny(s, "-+")) {
		return Version{}, vererr.New(Name, s, "shorthand version with pre-release or build")
	}
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	for _, p := range parts {
		if !number(p) {
			return Version{}, vererr.New(Name, s, "invalid numeric component")
		}
	}
	v.major, v.minor, v.patch = parts[0], parts[1], parts[2]
	return v, nil
}

// number reports whether s is a SemVer numeric identifier: digits without a leading zero.
func number(s string) bool {
	return digits.IsDigits(s) && (s == "0" || s[0] != '0')
}

// identifiers reports whether s is a non-empty dot-separated list of non-empty [0-9A-Za-z-]
// identifiers; for a pre-release (pre), numeric identifiers must not have leading zeros.
func identifiers(s string, pre bool) bool {
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
		if pre && digits.IsDigits(id) && !number(id) {
			return false
		}
	}
	return true
}

// Compare returns -1, 0 or +1 by SemVer precedence; build metadata is ignored.
func (v Version) Compare(o Version) int {
	for _, c := range [...]int{
		digits.Compare(v.major, o.major),
		digits.Compare(v.minor, o.minor),
		digits.Compare(v.patch, o.patch),
	} {
		if c != 0 {
			return c
		}
	}
	return ComparePrerelease(v.pre, o.pre)
}

// ComparePrerelease compares two pre-release strings ("" for none) by SemVer precedence.
func ComparePrerelease(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	return CompareIdentifiers(a, b)
}

// CompareIdentifiers compares two non-empty dot-separated identifier lists: numeric identifiers
// numerically and below alphanumeric ones, alphanumeric ones in ASCII order, a shorter list
// (when one is a prefix of the other) first.
func CompareIdentifiers(a, b string) int {
	for {
		var x, y string
		x, a, _ = strings.Cut(a, ".")
		y, b, _ = strings.Cut(b, ".")
		xn, yn := digits.IsDigits(x), digits.IsDigits(y)
		var c int
		switch {
		case xn && yn:
			c = digits.Compare(x, y)
		case xn:
			c = -1
		case yn:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
		switch {
		case a == "" && b == "":
			return 0
		case a == "":
			return -1
		case b == "":
			return 1
		}
	}
}

// String returns the version as given to Parse.
func (v Version) String() string { return v.s }

// Major, Minor and Patch return the numeric components as digit strings.
func (v Version) Major() string { return v.major }

// Minor returns the minor version as a digit string.
func (v Version) Minor() string { return v.minor }

// Patch returns the patch version as a digit string.
func (v Version) Patch() string { return v.patch }

// Prerelease returns the pre-release ("" when absent).
func (v Version) Prerelease() string { return v.pre }

// Build returns the build metadata ("" when absent).
func (v Version) Build() string { return v.build }
