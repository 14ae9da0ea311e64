// Package version is the one entry point the matcher uses to compare package versions: it maps
// an inventory ecosystem (purl type) to the Scheme that parses and orders that ecosystem's
// versions, and parses advisory range expressions against a Scheme.
//
// It only dispatches. Each scheme lives in its own subpackage (deb, rpm, apk, semver, golang, npm,
// pep440, maven, nuget, gem, composer, pub, and cran and hackage for completeness), which says
// which library it wraps or which specification it implements, and why. This package must not
// hold comparison rules of its own beyond range syntax, and it must not know about advisories or
// distributions. Everything here is safe for concurrent use: there is no mutable state.
package version

import (
	"fmt"

	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/version/apk"
	"github.com/stellaops/stellaops/internal/version/composer"
	"github.com/stellaops/stellaops/internal/version/deb"
	"github.com/stellaops/stellaops/internal/version/gem"
	"github.com/stellaops/stellaops/internal/version/golang"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
	"github.com/stellaops/stellaops/internal/version/maven"
	"github.com/stellaops/stellaops/internal/version/npm"
	"github.com/stellaops/stellaops/internal/version/nuget"
	"github.com/stellaops/stellaops/internal/version/pep440"
	"github.com/stellaops/stellaops/internal/version/pub"
	"github.com/stellaops/stellaops/internal/version/rpm"
	"github.com/stellaops/stellaops/internal/version/semver"
)

// ErrInvalid is wrapped by every error for an input that is not a version (or range) of the
// scheme. Parse never panics.
var ErrInvalid = vererr.ErrInvalid

// Version is a parsed version of one scheme.
type Version interface {
	// Compare returns -1, 0 or +1 as the version sorts before, equal to or after other. other must
	// come from the same Scheme; Compare panics otherwise (the matcher never mixes schemes, and a
	// silent arbitrary order would hide the bug).
	Compare(other Version) int
	// String returns the input as given to Parse.
	String() string
}

// Scheme parses versions of one ecosystem.
type Scheme interface {
	// Name is the scheme's name, such as "deb" or "semver".
	Name() string
	// Parse parses s. An invalid input gives an error wrapping ErrInvalid, never a panic.
	Parse(s string) (Version, error)
}

// comparable is a subpackage's concrete version type.
type comparable[V any] interface {
	Compare(V) int
	String() string
}

// scheme adapts a subpackage's Parse to Scheme.
type scheme[V comparable[V]] struct {
	name  string
	parse func(string) (V, error)
}

func (s scheme[V]) Name() string { return s.name }

func (s scheme[V]) Parse(str string) (Version, error) {
	v, err := s.parse(str)
	if err != nil {
		return nil, err
	}
	return value[V]{v: v, scheme: s.name}, nil
}

// value adapts a subpackage's version to Version.
type value[V comparable[V]] struct {
	v      V
	scheme string
}

func (x value[V]) Compare(other Version) int {
	y, ok := other.(value[V])
	if !ok || y.scheme != x.scheme {
		panic(fmt.Sprintf("version: comparing a %s version with %T", x.scheme, other))
	}
	return x.v.Compare(y.v)
}

func (x value[V]) String() string { return x.v.String() }

// The schemes. Cargo and Hex use SemVer 2.0.0 precedence, as their registries require.
var (
	semverScheme   Scheme = scheme[semver.Version]{"semver", semver.Parse}
	cargoScheme    Scheme = scheme[semver.Version]{"cargo", semver.Parse}
	hexScheme      Scheme = scheme[semver.Version]{"hex", semver.Parse}
	debScheme      Scheme = scheme[deb.Version]{deb.Name, deb.Parse}
	rpmScheme      Scheme = scheme[rpm.Version]{rpm.Name, rpm.Parse}
	apkScheme      Scheme = scheme[apk.Version]{apk.Name, apk.Parse}
	golangScheme   Scheme = scheme[golang.Version]{golang.Name, golang.Parse}
	npmScheme      Scheme = scheme[npm.Version]{npm.Name, npm.Parse}
	pypiScheme     Scheme = scheme[pep440.Version]{pep440.Name, pep440.Parse}
	mavenScheme    Scheme = scheme[maven.Version]{maven.Name, maven.Parse}
	nugetScheme    Scheme = scheme[nuget.Version]{nuget.Name, nuget.Parse}
	gemScheme      Scheme = scheme[gem.Version]{gem.Name, gem.Parse}
	composerScheme Scheme = scheme[composer.Version]{composer.Name, composer.Parse}
	pubScheme      Scheme = scheme[pub.Version]{pub.Name, pub.Parse}
)

// For returns the scheme of an inventory ecosystem (purl type): deb, rpm, apk, golang, npm, pypi,
// maven, cargo, gem, nuget, composer, hex, pub. ok is false for ecosystems without one.
func For(e inventory.Ecosystem) (s Scheme, ok bool) {
	switch e {
	case inventory.EcosystemDeb:
		return debScheme, true
	case inventory.EcosystemRPM:
		return rpmScheme, true
	case inventory.EcosystemAPK:
		return apkScheme, true
	case inventory.EcosystemGo:
		return golangScheme, true
	case inventory.EcosystemNPM:
		return npmScheme, true
	case inventory.EcosystemPyPI:
		return pypiScheme, true
	case inventory.EcosystemMaven:
		return mavenScheme, true
	case inventory.EcosystemCargo:
		return cargoScheme, true
	case inventory.EcosystemGem:
		return gemScheme, true
	case inventory.EcosystemNuGet:
		return nugetScheme, true
	case inventory.EcosystemComposer:
		return composerScheme, true
	case inventory.EcosystemHex:
		return hexScheme, true
	case inventory.EcosystemPub:
		return pubScheme, true
	}
	return nil, false
}

// SemVer is SemVer 2.0.0 precedence, for OSV "SEMVER" ranges. The OSV schema says these versions
// carry no leading "v"; Parse accepts one anyway (Go's advisories and some converters write it),
// as well as the x/mod/semver shorthands "1" and "1.2".
func SemVer() Scheme { return semverScheme }
