// Package npm implements node-semver, the version and range semantics of npm: versions in the
// strict or loose grammar of node-semver (loose allows leading zeros, a missing "-" before the
// pre-release and leading "=" or "v" with spaces), compared by SemVer precedence, and ranges
// ("<1.2.3 || >=2.0.0 <2.1.0", "^1.2.3", "~1.2", "1.x", hyphen ranges) desugared into comparator
// sets exactly as node-semver does, with its pre-release rule: a pre-release version satisfies a
// range only if some comparator of the matching set names a pre-release of the same
// major.minor.patch (unless IncludePrerelease is set).
//
// It is our own implementation, written from node-semver's documentation and checked against its
// test fixtures (node-semver-fixtures in internal/version/testdata). There is no maintained Go
// port of node-semver; Masterminds/semver/v3 differs on pre-releases, "x" ranges and loose
// parsing. Limits follow node-semver: versions of at most 256 bytes, numbers at most 2^53-1.
// The package must not know about package.json or advisories.
package npm

import (
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/stellaops/stellaops/internal/version/internal/digits"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
	"github.com/stellaops/stellaops/internal/version/semver"
)

// Name is the scheme name.
const Name = "npm"

// MaxLength is node-semver's MAX_LENGTH for a version string.
const MaxLength = 256

// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER.
const maxSafeInteger = 1<<53 - 1

// Options are node-semver's parsing options.
type Options struct {
	// Loose accepts node-semver's loose grammar.
	Loose bool
	// IncludePrerelease lets ranges match pre-release versions of any major.minor.patch.
	IncludePrerelease bool
}

// The node-semver grammar.
const (
	numStrict    = `0|[1-9]\d*`
	numLoose     = `\d+`
	nonNumeric   = `\d*[a-zA-Z-][a-zA-Z0-9-]*`
	preIDStrict  = `(?:` + numStrict + `|` + nonNumeric + `)`
	preIDLoose   = `(?:` + numLoose + `|` + nonNumeric + `)`
	preStrict    = `(?:-(` + preIDStrict + `(?:\.` + preIDStrict + `)*))`
	preLoose     = `(?:-?(` + preIDLoose + `(?:\.` + preIDLoose + `)*))`
	buildID      = `[0-9A-Za-z-]+`
	build        = `(?:\+(` + buildID + `(?:\.` + buildID + `)*))`
	fullPlain    = `v?(` + numStrict + `)\.(` + numStrict + `)\.(` + numStrict + `)` + preStrict + `?` + build + `?`
	loosePlain   = `[v=\s]*(` + numLoose + `)\.(` + numLoose + `)\.(` + numLoose + `)` + preLoose + `?` + build + `?`
	xidStrict    = numStrict + `|x|X|\*`
	xidLoose     = numLoose + `|x|X|\*`
	xrangeStrict = `[v=\s]*(` + xidStrict + `)(?:\.(` + xidStrict + `)(?:\.(` + xidStrict + `)(?:` + preStrict + `)?` + build + `?)?)?`
	xrangeLoose  = `[v=\s]*(` + xidLoose + `)(?:\.(` + xidLoose + `)(?:\.(` + xidLoose + `)(?:` + preLoose + `)?` + build + `?)?)?`
)

var (
	reFull  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + fullPlain + `$`) })
	reLoose = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + loosePlain + `$`) })
)

// Version is a parsed npm version. The zero value is not a valid version.
type Version struct {
	s                   string
	major, minor, patch string
	pre                 string
	build               string
}

// Parse parses a version in node-semver's strict grammar (surrounding white space and a leading
// "v" allowed). Errors wrap vererr.ErrInvalid (version.ErrInvalid).
func Parse(s string) (Version, error) { return ParseOptions(s, Options{}) }

// ParseOptions parses a version with node-semver options.
func ParseOptions(s string, opt Options) (Version, error) {
	if len(s) > MaxLength {
		return Version{}, vererr.New(Name, s, "longer than 256 bytes")
	}
	re := reFull()
	if opt.Loose {
		re = reLoose()
	}
	m := re.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, vererr.New(Name, s, "not a semantic version")
	}
	v := Version{s: s, pre: m[4], build: m[5]}
	for i, p := range []*string{&v.major, &v.minor, &v.patch} {
		n := digits.TrimZeros(m[i+1])
		if n == "" {
			n = "0"
		}
		if !safe(n) {
			return Version{}, vererr.New(Name, s, "number larger than 2^53-1")
		}
		*p = n
	}
	if v.pre != "" {
		// Numeric pre-release identifiers are numbers in node-semver: "01" is 1 in loose mode.
		ids := strings.Split(v.pre, ".")
		for i, id := range ids {
			if digits.IsDigits(id) {
				if n := digits.TrimZeros(id); n != id {
					if n == "" {
						n = "0"
					}
					ids[i] = n
				}
			}
		}
		v.pre = strings.Join(ids, ".")
	}
	return v, nil
}

// safe reports whether the digit string n (no leading zeros) is at most 2^53-1.
func safe(n string) bool {
	if len(n) > 16 {
		return false
	}
	x, err := strconv.ParseUint(n, 10, 64)
	return err == nil && x <= maxSafeInteger
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
	return semver.ComparePrerelease(v.pre, o.pre)
}

// String returns the version as given to Parse.
func (v Version) String() string { return v.s }

// Canonical returns node-semver's normalized form: major.minor.patch[-pre], without build.
func (v Version) Canonical() string {
	s := v.major + "." + v.minor + "." + v.patch
	if v.pre != "" {
		s += "-" + v.pre
	}
	return s
}

// Prerelease returns the pre-release ("" when absent).
func (v Version) Prerelease() string { return v.pre }

func (v Version) sameTuple(o Version) bool {
	return v.major == o.major && v.minor == o.minor && v.patch == o.patch
}
