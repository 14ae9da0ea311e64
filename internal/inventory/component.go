// Package inventory owns the software inventory model: the components found in an image, a root
// filesystem or an SBOM, with everything matching needs (purl, ecosystem, source package, distro,
// introducing layer). It has no I/O and knows nothing about formats; decoders and analyzers fill it,
// encoders and matchers read it.
package inventory

import (
	"cmp"
	"slices"
	"strings"
)

// Ecosystem names the package universe a component belongs to. The values are package-url types,
// so the ecosystem of a component and the type of its purl never disagree.
type Ecosystem string

// Ecosystems known to the scanner. Components from any other purl type keep that type as their
// ecosystem; EcosystemUnknown is for components with no purl at all.
const (
	EcosystemUnknown  Ecosystem = ""
	EcosystemDeb      Ecosystem = "deb"
	EcosystemAPK      Ecosystem = "apk"
	EcosystemRPM      Ecosystem = "rpm"
	EcosystemGo       Ecosystem = "golang"
	EcosystemNPM      Ecosystem = "npm"
	EcosystemPyPI     Ecosystem = "pypi"
	EcosystemMaven    Ecosystem = "maven"
	EcosystemCargo    Ecosystem = "cargo"
	EcosystemGem      Ecosystem = "gem"
	EcosystemNuGet    Ecosystem = "nuget"
	EcosystemComposer Ecosystem = "composer"
	EcosystemHex      Ecosystem = "hex"
	EcosystemPub      Ecosystem = "pub"
	EcosystemGeneric  Ecosystem = "generic"
)

// IsOS reports whether the ecosystem is an operating-system package manager, whose components
// are matched against their distro release's own advisories.
func (e Ecosystem) IsOS() bool {
	return e == EcosystemDeb || e == EcosystemAPK || e == EcosystemRPM
}

// Source is the source package a binary package was built from: dpkg `Source:`, apk origin,
// rpm sourcerpm. Debian, Ubuntu and Alpine track vulnerabilities by source package, so losing it
// turns into false positives (binNMUs) or misses (split binaries).
type Source struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

// IsZero reports whether no source package is known.
func (s Source) IsZero() bool { return s.Name == "" && s.Version == "" }

// Hash is one digest of a component's artifact.
type Hash struct {
	Algorithm string `json:"alg"` // CycloneDX spelling: "SHA-256", "SHA-1", "SHA-512", "MD5", …
	Value     string `json:"value"`
}

// Component is one package found in an image, a filesystem or an SBOM.
//
// Version is the full version string in the form the ecosystem's comparator takes: dpkg
// "[epoch:]upstream[-revision]", rpm "[epoch:]version-release", apk "1.2.3-r0", Go "v1.2.3", and as
// written elsewhere. Epoch and Release are derived from it by methods, never stored twice.
type Component struct {
	// Ecosystem is the purl type of the component (see the Ecosystem constants).
	Ecosystem Ecosystem `json:"ecosystem,omitempty"`
	// Name is the ecosystem's own full name: "libssl3", "@babel/core", "org.apache.logging.log4j:log4j-core",
	// "github.com/gin-gonic/gin", "requests".
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// Arch is the package architecture where the ecosystem records one (dpkg, rpm, apk).
	Arch string `json:"arch,omitempty"`
	// Source is the source package, for OS packages.
	Source Source `json:"source,omitzero"`
	// Distro is the operating system release this OS package belongs to.
	Distro Distro `json:"distro,omitzero"`
	// Module is the rpm modularity label (name:stream:version:context), for modular RPMs.
	Module string `json:"module,omitempty"`
	// Layer is the diff ID (sha256 of the uncompressed tar) of the image layer that introduced the
	// component; empty outside images.
	Layer string `json:"layer,omitempty"`
	// Locations are the slash-separated paths, relative to the root, of the files the component was
	// found in (package database, lockfile, binary, manifest). Sorted and unique.
	Locations []string `json:"locations,omitempty"`
	// Licenses are SPDX expressions where known, otherwise the declared licence names. Sorted and unique.
	Licenses []string `json:"licenses,omitempty"`
	// Hashes are digests of the component's artifact. Sorted by algorithm.
	Hashes []Hash `json:"hashes,omitempty"`
	// FoundBy names the analyzer or SBOM decoder that produced the component.
	FoundBy string `json:"foundBy,omitempty"`
	// PURL is the package URL given by an input SBOM when it could not be rebuilt from the fields
	// (unknown types, unusual qualifiers). Leave empty for components we build ourselves; use
	// [Component.PackageURL] to read the effective purl.
	PURL string `json:"purl,omitempty"`
	// CPEs are CPE 2.3 names supplied by an input SBOM, kept for opt-in CPE matching of components
	// with no ecosystem.
	CPEs []string `json:"cpes,omitempty"`
	// Direct marks a component the project declares itself (a main module, a direct dependency),
	// where the input says so.
	Direct bool `json:"direct,omitempty"`
}

// Epoch returns the epoch of a dpkg or rpm version ("" when absent).
func (c *Component) Epoch() string {
	if !hasEpoch(c.Ecosystem) {
		return ""
	}
	e, _ := splitEpoch(c.Version)
	return e
}

// UpstreamVersion returns the version without epoch and without the dpkg revision or rpm release.
func (c *Component) UpstreamVersion() string {
	if !hasEpoch(c.Ecosystem) {
		return c.Version
	}
	_, v := splitEpoch(c.Version)
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return v[:i]
	}
	return v
}

// Release returns the dpkg revision or rpm release ("" when absent or not applicable).
func (c *Component) Release() string {
	if !hasEpoch(c.Ecosystem) {
		return ""
	}
	_, v := splitEpoch(c.Version)
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return v[i+1:]
	}
	return ""
}

func hasEpoch(e Ecosystem) bool { return e == EcosystemDeb || e == EcosystemRPM }

// splitEpoch splits "E:rest" into ("E", "rest"); versions without a numeric epoch come back whole.
func splitEpoch(v string) (epoch, rest string) {
	i := strings.IndexByte(v, ':')
	if i <= 0 {
		return "", v
	}
	for _, r := range v[:i] {
		if r < '0' || r > '9' {
			return "", v
		}
	}
	return v[:i], v[i+1:]
}

// JoinEpoch builds a full version from an epoch and the rest; an empty or "0" epoch is dropped, as
// dpkg and rpm both treat a missing epoch as zero.
func JoinEpoch(epoch, rest string) string {
	if epoch == "" || epoch == "0" {
		return rest
	}
	return epoch + ":" + rest
}

// Key identifies a component within one inventory: two components with the same key are the same
// package and are merged (their locations, licences and hashes united). The key is the purl,
// which carries ecosystem, namespace, name, version, arch, distro and source; components with
// no purl are keyed by name and version.
func (c *Component) Key() string {
	if p := c.PackageURL(); p != "" {
		return p
	}
	// A component with no purl (unknown ecosystem) is identified by its name and version.
	return "unknown:" + c.Name + "@" + c.Version
}

// Compare is the total order of components: ecosystem, name, version, then the other identity
// fields, the locations and the layer. Every output is sorted by it. It reads fields only (no purl
// is built), so sorting large inventories stays cheap.
func Compare(a, b *Component) int {
	return cmp.Or(
		cmp.Compare(a.Ecosystem, b.Ecosystem),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.Arch, b.Arch),
		cmp.Compare(a.Distro.ID, b.Distro.ID),
		cmp.Compare(a.Distro.VersionID, b.Distro.VersionID),
		cmp.Compare(a.Distro.Codename, b.Distro.Codename),
		cmp.Compare(a.Source.Name, b.Source.Name),
		cmp.Compare(a.Source.Version, b.Source.Version),
		cmp.Compare(a.Module, b.Module),
		cmp.Compare(a.PURL, b.PURL),
		slices.Compare(a.Locations, b.Locations),
		cmp.Compare(a.Layer, b.Layer),
	)
}

// Normalize sorts and de-duplicates the component's list fields so that equal components compare
// equal and serialise to the same bytes.
//
// OS packages with no recorded source package get their own name and version as source, which
// is what dpkg (no `Source:` field), apk (origin equal to name) and Trivy assume.
func (c *Component) Normalize() {
	if c.Ecosystem.IsOS() && c.Name != "" {
		if c.Source.Name == "" {
			c.Source.Name = c.Name
		}
		if c.Source.Version == "" {
			c.Source.Version = c.Version
		}
	}
	c.Locations = sortedUnique(c.Locations)
	c.Licenses = sortedUnique(c.Licenses)
	c.CPEs = sortedUnique(c.CPEs)
	slices.SortFunc(c.Hashes, func(a, b Hash) int {
		return cmp.Or(cmp.Compare(a.Algorithm, b.Algorithm), cmp.Compare(a.Value, b.Value))
	})
	c.Hashes = slices.Compact(c.Hashes)
}

// merge folds o (the same package found again) into c.
func (c *Component) merge(o *Component) {
	c.Locations = append(c.Locations, o.Locations...)
	c.Licenses = append(c.Licenses, o.Licenses...)
	c.Hashes = append(c.Hashes, o.Hashes...)
	c.CPEs = append(c.CPEs, o.CPEs...)
	c.Direct = c.Direct || o.Direct
	if c.Layer == "" {
		c.Layer = o.Layer
	}
	if c.FoundBy == "" {
		c.FoundBy = o.FoundBy
	}
	c.Normalize()
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.DeleteFunc(slices.Clone(s), func(v string) bool { return v == "" })
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}
