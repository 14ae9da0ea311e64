// Package pep440 parses and compares Python package versions: PEP 440 (epochs "1!", release
// segments, a/b/rc pre-releases and their spellings, .postN and implicit "-N" post-releases,
// .devN, "+local" versions) via github.com/aquasecurity/go-pep440-version (Apache-2.0, the library
// Trivy uses), which passes every PEP 440 vector we hold, including packaging's own sorted list.
//
// Strings that are not PEP 440 are parsed as packaging's LegacyVersion (packaging < 22, still the
// order of many PyPI releases and advisories): they sort before every PEP 440 version and among
// themselves by packaging's legacy key, which we implement here (the library has none). Version
// reports which one it is. Plain releases ("2.31.0", most installed versions) are compared by our
// own code, and a plain release against any other PEP 440 version through that version's release
// and its order against it, both computed once at Parse: the library's Compare formats both
// versions on every call, which alone would take the matcher past its time budget. The package
// must not know about specifiers or requirements files.
package pep440

import (
	"regexp"
	"slices"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"

	"github.com/stellaops/stellaops/internal/version/internal/digits"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

// Name is the scheme name.
const Name = "pypi"

// Version is a parsed Python version. The zero value is not a valid version.
type Version struct {
	s       string
	v       *pep440.Version // nil for a legacy or a plain release
	release []string        // a plain release ("2.31.0"): its numbers, trailing zeros dropped
	legacy  []string        // packaging's legacy comparison key
	// For a PEP 440 version that is not a plain release: its release numbers, whether it has a
	// non-zero epoch, and how it sorts against its own plain release (-1 for pre- and
	// dev-releases, +1 for post-releases and local versions).
	base   []string
	epoch  bool
	vsBase int
}

// Parse parses a PEP 440 version, or else a legacy version. Errors (empty, too long, white space
// or control characters) wrap vererr.ErrInvalid (version.ErrInvalid).
func Parse(s string) (Version, error) {
	if err := vererr.CheckLen(Name, s, vererr.MaxLen); err != nil {
		return Version{}, err
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return Version{}, vererr.New(Name, s, "white space or control character")
		}
	}
	if r, ok := plainRelease(s); ok {
		return Version{s: s, release: r}, nil
	}
	if v, err := pep440.Parse(s); err == nil {
		out := Version{s: s, v: &v}
		base := v.BaseVersion()
		if i := strings.IndexByte(base, '!'); i >= 0 {
			out.epoch, base = true, base[i+1:]
		}
		out.base, _ = plainRelease(base)
		if b, err := pep440.Parse(base); err == nil && out.base != nil {
			out.vsBase = digits.Sign(v.Compare(b))
			if out.epoch {
				// The epoch decides before the release; vsBase is only used without one.
				out.vsBase = 0
			}
		}
		return out, nil
	}
	return Version{s: s, legacy: legacyKey(s)}, nil
}

// plainRelease recognizes the common "N(.N)*" form, which is compared without the library (its
// Compare formats both versions on every call, too slow for the matcher's budget).
func plainRelease(s string) ([]string, bool) {
	if len(s) > 200 {
		return nil, false
	}
	parts := strings.Split(s, ".")
	for i, p := range parts {
		if !digits.IsDigits(p) {
			return nil, false
		}
		if parts[i] = digits.TrimZeros(p); parts[i] == "" {
			parts[i] = "0"
		}
	}
	for len(parts) > 1 && parts[len(parts)-1] == "0" {
		parts = parts[:len(parts)-1]
	}
	return parts, true
}

// IsLegacy reports whether v is not a PEP 440 version.
func (v Version) IsLegacy() bool { return v.v == nil && v.release == nil }

func compareRelease(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := digits.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return digits.Sign(len(a) - len(b))
}

// comparePlain compares a plain release p with a full PEP 440 version f.
func comparePlain(p, f Version) int {
	if f.epoch || f.base == nil {
		return -1 // f has an epoch above 0 (a base that is not plain cannot happen)
	}
	if c := compareRelease(p.release, f.base); c != 0 {
		return c
	}
	return -f.vsBase
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o. Legacy versions sort before
// all PEP 440 versions.
func (v Version) Compare(o Version) int {
	switch {
	case v.release != nil && o.release != nil:
		return compareRelease(v.release, o.release)
	case v.release != nil && o.v != nil:
		return comparePlain(v, o)
	case o.release != nil && v.v != nil:
		return -comparePlain(o, v)
	case v.release != nil:
		return 1 // o is legacy
	case o.release != nil:
		return -1 // v is legacy
	}
	a, b := v.v, o.v
	switch {
	case a != nil && b != nil:
		return digits.Sign(a.Compare(*b))
	case a != nil:
		return 1
	case b != nil:
		return -1
	}
	return slices.Compare(v.legacy, o.legacy)
}

// String returns the version as given to Parse.
func (v Version) String() string { return v.s }

var legacyPart = regexp.MustCompile(`\d+|[a-z]+|\.|-`)

var legacyReplace = map[string]string{"pre": "c", "preview": "c", "-": "final-", "rc": "c", "dev": "@"}

// legacyKey is packaging's _legacy_cmpkey without its constant epoch of -1.
func legacyKey(s string) []string {
	s = strings.ToLower(s)
	var raw []string
	last := 0
	for _, m := range legacyPart.FindAllStringIndex(s, -1) {
		if m[0] > last {
			raw = append(raw, s[last:m[0]])
		}
		raw = append(raw, s[m[0]:m[1]])
		last = m[1]
	}
	if last < len(s) {
		raw = append(raw, s[last:])
	}
	var parts []string
	add := func(part string) {
		if strings.HasPrefix(part, "*") {
			if part < "*final" {
				for len(parts) > 0 && parts[len(parts)-1] == "*final-" {
					parts = parts[:len(parts)-1]
				}
			}
			for len(parts) > 0 && parts[len(parts)-1] == "00000000" {
				parts = parts[:len(parts)-1]
			}
		}
		parts = append(parts, part)
	}
	for _, part := range raw {
		if r, ok := legacyReplace[part]; ok {
			part = r
		}
		if part == "" || part == "." {
			continue
		}
		if part[0] >= '0' && part[0] <= '9' {
			if len(part) < 8 {
				part = strings.Repeat("0", 8-len(part)) + part
			}
			add(part)
		} else {
			add("*" + part)
		}
	}
	add("*final")
	return parts
}
