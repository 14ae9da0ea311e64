package advisory

import (
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// osvLanguages maps OSV ecosystem names of language registries to our ecosystems (purl types).
var osvLanguages = map[string]inventory.Ecosystem{
	"Go":        inventory.EcosystemGo,
	"npm":       inventory.EcosystemNPM,
	"PyPI":      inventory.EcosystemPyPI,
	"Maven":     inventory.EcosystemMaven,
	"crates.io": inventory.EcosystemCargo,
	"RubyGems":  inventory.EcosystemGem,
	"NuGet":     inventory.EcosystemNuGet,
	"Packagist": inventory.EcosystemComposer,
	"Hex":       inventory.EcosystemHex,
	"Pub":       inventory.EcosystemPub,
}

// osvDistros maps the distro part of OSV ecosystem names ("Debian:12", "AlmaLinux:8") to the
// package ecosystem and the os-release ID used in distro keys.
var osvDistros = map[string]struct {
	eco inventory.Ecosystem
	id  string
}{
	"Debian":      {inventory.EcosystemDeb, "debian"},
	"Ubuntu":      {inventory.EcosystemDeb, "ubuntu"},
	"Alpine":      {inventory.EcosystemAPK, "alpine"},
	"Wolfi":       {inventory.EcosystemAPK, "wolfi"},
	"Chainguard":  {inventory.EcosystemAPK, "chainguard"},
	"AlmaLinux":   {inventory.EcosystemRPM, "almalinux"},
	"Rocky Linux": {inventory.EcosystemRPM, "rocky"},
	"Red Hat":     {inventory.EcosystemRPM, "rhel"},
	"openSUSE":    {inventory.EcosystemRPM, "opensuse-leap"},
	"SUSE":        {inventory.EcosystemRPM, "sles"},
	"Photon OS":   {inventory.EcosystemRPM, "photon"},
	"Azure Linux": {inventory.EcosystemRPM, "azurelinux"},
	"Mageia":      {inventory.EcosystemRPM, "mageia"},
	"openEuler":   {inventory.EcosystemRPM, "openeuler"},
}

// FromOSVEcosystem maps an OSV ecosystem string to our ecosystem and, for distros, the release
// key: "Go" → golang, ""; "AlmaLinux:8" → rpm, "almalinux:8"; "Ubuntu:22.04:LTS" → deb,
// "ubuntu:22.04"; "Alpine:v3.19" → apk, "alpine:3.19". ok is false for ecosystems we cannot match
// (GIT-only projects, Linux kernel, Android, …).
func FromOSVEcosystem(s string) (eco inventory.Ecosystem, distro string, ok bool) {
	name, rest, _ := strings.Cut(s, ":")
	if e, ok := osvLanguages[name]; ok {
		return e, "", true
	}
	d, known := osvDistros[name]
	if !known || rest == "" {
		return "", "", false
	}
	release, _, _ := strings.Cut(rest, ":")    // "22.04:LTS", "22.04:Pro:…"
	release = strings.TrimPrefix(release, "v") // Alpine "v3.19"
	dist := inventory.Distro{ID: d.id, VersionID: release}
	return d.eco, DistroKey(dist), true
}

// DistroKey is the release key advisories are filed under: "<os-release ID>:<release>", the
// release being what that distro's advisories are keyed by (Debian "12", Alpine "3.19", Ubuntu
// "22.04", RPM distros the major version). It is "" when the release is unknown.
func DistroKey(d inventory.Distro) string {
	r := d.Release()
	if d.ID == "" || r == "" {
		return ""
	}
	return d.ID + ":" + r
}

// NormalizeName gives the form names are indexed and looked up by: PEP 503 for PyPI, lower case
// for registries that ignore case (npm, NuGet, Packagist, RubyGems is case-sensitive and kept),
// unchanged elsewhere (Go module paths and Maven coordinates are case-sensitive).
func NormalizeName(e inventory.Ecosystem, name string) string {
	switch e {
	case inventory.EcosystemPyPI:
		return pep503(name)
	case inventory.EcosystemNPM, inventory.EcosystemNuGet, inventory.EcosystemComposer:
		return strings.ToLower(name)
	}
	return name
}

// pep503 lower-cases and collapses runs of "-", "_" and "." into one "-".
func pep503(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			sep = true
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteByte(c)
	}
	return b.String()
}
