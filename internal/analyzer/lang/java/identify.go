package java

import (
	"path"
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// fromPomProperties builds the component a pom.properties describes; all three coordinates are
// needed, and unresolved placeholders ("${project.version}") are not versions.
func fromPomProperties(p map[string]string, location string) (inventory.Component, bool) {
	g, a, v := p["groupId"], p["artifactId"], p["version"]
	if g == "" || a == "" || v == "" || strings.Contains(g+a+v, "${") {
		return inventory.Component{}, false
	}
	return maven(g+":"+a, v, location), true
}

// fromManifest applies the fallback rule in the package comment to an archive without
// pom.properties; manifest may be nil.
func fromManifest(manifest map[string]string, location string) (inventory.Component, bool) {
	artifact, fileVersion := splitFileName(archiveBase(location))
	if artifact == "" {
		return inventory.Component{}, false
	}
	version := firstOf(manifest["Implementation-Version"], fileVersion, manifest["Bundle-Version"])
	if version == "" || strings.ContainsAny(version, " \t") {
		version = fileVersion
	}
	if version == "" {
		return inventory.Component{}, false
	}
	name := artifact
	if g := guessGroup(manifest, artifact); g != "" {
		name = g + ":" + artifact
	}
	return maven(name, version, location), true
}

func maven(name, version, location string) inventory.Component {
	return inventory.Component{
		Ecosystem: inventory.EcosystemMaven, Name: name, Version: version, Locations: []string{location},
	}
}

// archiveBase is the file name of the innermost archive of a location, without extension.
func archiveBase(location string) string {
	if i := strings.LastIndex(location, "!/"); i >= 0 {
		location = location[i+2:]
	}
	b := path.Base(location)
	return strings.TrimSuffix(b, path.Ext(b))
}

// splitFileName splits "artifact-1.2.3" at the last '-' followed by a digit; a name without
// one is all artifact.
func splitFileName(base string) (artifact, version string) {
	for i := len(base) - 2; i > 0; i-- {
		if base[i] == '-' && base[i+1] >= '0' && base[i+1] <= '9' {
			return base[:i], base[i+1:]
		}
	}
	return base, ""
}

// guessGroup guesses a Maven group from the manifest, as the package comment describes.
func guessGroup(m map[string]string, artifact string) string {
	if g := m["Implementation-Vendor-Id"]; isDottedID(g) {
		return g
	}
	if g := m["Group-Id"]; isDottedID(g) {
		return g
	}
	bsn, _, _ := strings.Cut(m["Bundle-SymbolicName"], ";")
	bsn = strings.TrimSpace(bsn)
	if !isDottedID(bsn) || !strings.Contains(bsn, ".") {
		return ""
	}
	if g, ok := strings.CutSuffix(bsn, "."+artifact); ok && g != "" {
		return g
	}
	return bsn
}

// isDottedID reports whether s looks like a Maven group: letters, digits, '.', '-' and '_'.
func isDottedID(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
