package inventory

import (
	"fmt"
	"net/url"
	"strings"

	packageurl "github.com/package-url/packageurl-go"
)

// PackageURL returns the component's package URL. It is rebuilt from the fields, so two
// components describing the same package get the same purl whatever tool wrote their input; a
// purl kept from an input SBOM is returned only for components whose ecosystem we cannot build.
//
// Qualifiers follow Syft's conventions, which carry what matching needs: `arch`, `distro`
// ("debian-12"), `epoch` (rpm), and `upstream` for a source package that differs from the binary
// ("glibc" or "glibc@2.36-9" for dpkg and apk, "glibc-2.28-151.el8.src.rpm" for rpm).
func (c *Component) PackageURL() string {
	if c.PURL != "" && !c.buildable() {
		return c.PURL
	}
	if c.Name == "" || (c.Ecosystem == EcosystemUnknown && c.PURL == "") {
		// No purl type: there is no package URL ("pkg:/name@1.0" would be invalid).
		return c.PURL
	}
	ns, name := c.purlNamespaceName()
	version := c.Version
	q := map[string]string{}
	if c.Arch != "" && c.Ecosystem.IsOS() {
		q["arch"] = c.Arch
	}
	if c.Ecosystem.IsOS() && !c.Distro.IsZero() {
		q["distro"] = c.Distro.String()
	}
	switch c.Ecosystem {
	case EcosystemRPM:
		epoch, rest := splitEpoch(c.Version)
		version = rest
		q["epoch"] = epoch
		if !c.Source.IsZero() {
			q["upstream"] = rpmSourceFilename(c.Source)
		}
		if c.Module != "" {
			q["rpmmod"] = c.Module
		}
	case EcosystemDeb, EcosystemAPK:
		if up := c.upstreamQualifier(); up != "" {
			q["upstream"] = up
		}
	}
	p := packageurl.NewPackageURL(string(c.Ecosystem), ns, name, version, packageurl.QualifiersFromMap(dropEmpty(q)), "")
	return p.ToString()
}

func (c *Component) buildable() bool {
	switch c.Ecosystem {
	case EcosystemDeb, EcosystemAPK, EcosystemRPM, EcosystemGo, EcosystemNPM, EcosystemPyPI,
		EcosystemMaven, EcosystemCargo, EcosystemGem, EcosystemNuGet, EcosystemComposer,
		EcosystemHex, EcosystemPub, EcosystemGeneric:
		return true
	}
	return false
}

// upstreamQualifier renders the dpkg/apk source package: nothing when it equals the binary,
// "name" when only the name differs, "name@version" when the version differs too.
func (c *Component) upstreamQualifier() string {
	s := c.Source
	if s.IsZero() {
		return ""
	}
	if s.Version != "" && s.Version != c.Version {
		return s.Name + "@" + s.Version
	}
	if s.Name != c.Name {
		return s.Name
	}
	return ""
}

func rpmSourceFilename(s Source) string {
	if s.Version == "" {
		return s.Name
	}
	_, v := splitEpoch(s.Version)
	return s.Name + "-" + v + ".src.rpm"
}

// purlNamespaceName splits the ecosystem's full name into purl namespace and name.
func (c *Component) purlNamespaceName() (ns, name string) {
	switch c.Ecosystem {
	case EcosystemDeb, EcosystemAPK, EcosystemRPM:
		return osNamespace(c.Ecosystem, c.Distro.ID), c.Name
	case EcosystemMaven:
		if g, a, ok := strings.Cut(c.Name, ":"); ok {
			return g, a
		}
	case EcosystemNPM:
		if strings.HasPrefix(c.Name, "@") {
			if s, n, ok := strings.Cut(c.Name, "/"); ok {
				return s, n
			}
		}
	case EcosystemGo, EcosystemComposer:
		if i := strings.LastIndexByte(c.Name, '/'); i > 0 {
			return c.Name[:i], c.Name[i+1:]
		}
	case EcosystemPyPI:
		return "", strings.ToLower(strings.ReplaceAll(c.Name, "_", "-"))
	}
	return "", c.Name
}

// osNamespace is the purl namespace (the vendor) for an OS package of the given distro.
func osNamespace(e Ecosystem, distroID string) string {
	switch distroID {
	case "":
		switch e {
		case EcosystemDeb:
			return "debian"
		case EcosystemAPK:
			return "alpine"
		}
		return ""
	case "rhel":
		return "redhat"
	case "amzn":
		return "amazon"
	case "ol":
		return "oracle"
	case "sles", "opensuse-leap", "opensuse-tumbleweed":
		return "opensuse"
	}
	return distroID
}

func dropEmpty(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// FromPURL builds a component from a package URL, reading the qualifiers other tools write:
// `distro=` (Syft, Trivy), `upstream=` (Syft: "name", "name@version", or an rpm source file
// name), `epoch=` (rpm, and Trivy's dpkg), and `arch=`. Unknown types are kept with their purl.
func FromPURL(s string) (Component, error) {
	p, err := packageurl.FromString(s)
	if err != nil {
		return Component{}, fmt.Errorf("parse purl %q: %w", s, err)
	}
	if p.Name == "" {
		return Component{}, fmt.Errorf("parse purl %q: no name", s)
	}
	q := p.Qualifiers.Map()
	c := Component{Ecosystem: Ecosystem(p.Type), Version: p.Version}
	switch c.Ecosystem {
	case EcosystemDeb, EcosystemAPK, EcosystemRPM:
		c.Name = p.Name
		c.Arch = q["arch"]
		// A deb or apk purl without a vendor is read as the vendor PackageURL writes for it, so
		// that a component read from one and written again is the same component.
		ns := p.Namespace
		if ns == "" {
			ns = osNamespace(c.Ecosystem, "")
		}
		c.Distro = ParseDistroQualifier(q["distro"], ns)
		if c.Ecosystem == EcosystemRPM || q["epoch"] != "" {
			_, rest := splitEpoch(c.Version)
			if e, _ := splitEpoch(c.Version); e == "" {
				c.Version = JoinEpoch(q["epoch"], rest)
			}
		}
		c.Module = q["rpmmod"]
		c.Source = parseUpstream(c.Ecosystem, q["upstream"], c.Version)
	case EcosystemMaven, EcosystemNPM, EcosystemComposer:
		c.Name = joinNS(p.Namespace, p.Name, c.Ecosystem)
	case EcosystemGo:
		// packageurl-go lower-cases golang names, but module paths are case-sensitive
		// (github.com/BurntSushi/toml): take them from the raw string.
		c.Name = rawGolangPath(s, joinNS(p.Namespace, p.Name, c.Ecosystem))
	case EcosystemPyPI:
		c.Name = p.Name
	default:
		c.Name = joinNS(p.Namespace, p.Name, c.Ecosystem)
		if !c.buildable() {
			c.PURL = p.ToString()
		}
	}
	return c, nil
}

func joinNS(ns, name string, e Ecosystem) string {
	if ns == "" {
		return name
	}
	if e == EcosystemMaven {
		return ns + ":" + name
	}
	return ns + "/" + name
}

// rawGolangPath extracts "namespace/name" from a golang purl string without case folding.
func rawGolangPath(s, fallback string) string {
	rest := s[strings.IndexByte(s, ':')+1:]
	rest = strings.TrimLeft(rest, "/")
	_, rest, _ = strings.Cut(rest, "/")
	if i := strings.IndexAny(rest, "@?#"); i >= 0 {
		rest = rest[:i]
	}
	dec, err := url.PathUnescape(rest)
	if err != nil || !strings.EqualFold(dec, fallback) {
		return fallback
	}
	return dec
}

// parseUpstream reads Syft's `upstream=` qualifier. With no version given the source version is
// the binary's own, which is what dpkg and apk mean when they omit it.
func parseUpstream(e Ecosystem, up, binVersion string) Source {
	if up == "" {
		return Source{}
	}
	if e == EcosystemRPM {
		return ParseSourceRPM(up, binVersion)
	}
	if name, ver, ok := strings.Cut(up, "@"); ok {
		return Source{Name: name, Version: ver}
	}
	// Syft also writes "name (version)" in older releases.
	if name, ver, ok := strings.Cut(up, " ("); ok {
		return Source{Name: name, Version: strings.TrimSuffix(ver, ")")}
	}
	return Source{Name: up, Version: binVersion}
}

// ParseSourceRPM splits an rpm SOURCERPM value ("glibc-2.28-151.el8.src.rpm") into name and
// version-release; the epoch is taken from the binary's version, as rpm records none for the
// source. A value that is not a file name is taken as the source name alone.
func ParseSourceRPM(srpm, binVersion string) Source {
	base := strings.TrimSuffix(strings.TrimSuffix(srpm, ".rpm"), ".src")
	base = strings.TrimSuffix(base, ".nosrc")
	if base == srpm {
		return Source{Name: srpm, Version: binVersion}
	}
	r := strings.LastIndexByte(base, '-')
	if r <= 0 {
		return Source{Name: base}
	}
	v := strings.LastIndexByte(base[:r], '-')
	if v <= 0 {
		return Source{Name: base}
	}
	epoch, _ := splitEpoch(binVersion)
	return Source{Name: base[:v], Version: JoinEpoch(epoch, base[v+1:])}
}
