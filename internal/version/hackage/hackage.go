// Package hackage compares Haskell (Hackage) package versions as Data.Version does: numeric
// components separated by ".", compared as lists of numbers (1.0 < 1.0.0 < 1.0.1).
//
// It is our own implementation of the Haskell Package Versioning Policy's ordering, kept because
// the version vectors include Hackage; no inventory ecosystem maps to it (For does not return it).
// It must not know about cabal files.
package hackage

import (
	"strings"

	"github.com/stellaops/stellaops/internal/version/internal/digits"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

// Name is the scheme name.
const Name = "hackage"

// Version is a parsed version. The zero value is not a valid version.
type Version struct {
	s     string
	parts []string
}

// Parse parses a version. Errors wrap vererr.ErrInvalid (version.ErrInvalid).
func Parse(s string) (Version, error) {
	if err := vererr.CheckLen(Name, s, vererr.MaxLen); err != nil {
		return Version{}, err
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(".", r) })
	if len(parts) == 0 || strings.ContainsAny(s[:1]+s[len(s)-1:], ".") {
		return Version{}, vererr.New(Name, s, "no components")
	}
	for _, p := range parts {
		if !digits.IsDigits(p) {
			return Version{}, vererr.New(Name, s, "non-numeric component")
		}
	}
	if strings.Count(s, ".")+strings.Count(s, "-") != len(parts)-1 {
		return Version{}, vererr.New(Name, s, "empty component")
	}
	return Version{s: s, parts: parts}, nil
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o.
func (v Version) Compare(o Version) int {
	for i := 0; i < len(v.parts) && i < len(o.parts); i++ {
		if c := digits.Compare(v.parts[i], o.parts[i]); c != 0 {
			return c
		}
	}
	return digits.Sign(len(v.parts) - len(o.parts))
}

// String returns the version as given to Parse.
func (v Version) String() string { return v.s }
