package sbom

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// Property names written by our encoders and read back by the decoders (see the package doc).
const (
	propSourceName      = "stellaops:source:name"
	propSourceVersion   = "stellaops:source:version"
	propLayer           = "stellaops:layer"
	propLocation        = "stellaops:location"
	propDistro          = "stellaops:distro"
	propDirect          = "stellaops:direct"
	propCPE             = "stellaops:cpe"
	propHash            = "stellaops:hash"
	propDistroCodename  = "stellaops:distro:codename"
	propDistroPretty    = "stellaops:distro:prettyName"
	propTargetLayerBase = "stellaops:layer:" // + N + ":diffID" / ":digest" / ":size" / ":createdBy"
)

// Other tools' property names.
const (
	trivyPrefix        = "aquasecurity:trivy:"
	trivySrcName       = trivyPrefix + "SrcName"
	trivySrcVersion    = trivyPrefix + "SrcVersion"
	trivySrcRelease    = trivyPrefix + "SrcRelease"
	trivySrcEpoch      = trivyPrefix + "SrcEpoch"
	trivyLayerDiffID   = trivyPrefix + "LayerDiffID"
	trivyFilePath      = trivyPrefix + "FilePath"
	trivyPkgType       = trivyPrefix + "PkgType"
	trivyDiffID        = trivyPrefix + "DiffID"
	syftSource         = "syft:metadata:source"
	syftSourceVersion  = "syft:metadata:sourceVersion"
	syftOrigin         = "syft:metadata:originPackage"
	syftCPE            = "syft:cpe23"
	syftLocationPrefix = "syft:location:"
)

// prop is one name/value pair as a document gives it (CycloneDX property, SPDX annotation or
// attribution text).
type prop struct{ name, value string }

// entry is one package as a document describes it, before it becomes a component.
type entry struct {
	where      string // where the entry is in the document: "components[3]"
	name       string
	group      string // CycloneDX group, used only for entries without a purl
	version    string
	purl       string
	cpes       []string
	licenses   []string
	hashes     []inventory.Hash
	props      []prop
	locations  []string
	sourceInfo string // SPDX PackageSourceInfo
	// keepUnknown allows an entry without a purl to become a component of unknown ecosystem
	// (when it has a name and a version).
	keepUnknown bool
	// ecosystem, distro, arch and epoch stand in for a purl where the format has fields instead
	// (Trivy JSON packages with no PURL).
	ecosystem inventory.Ecosystem
	distro    inventory.Distro
	arch      string
}

// propIndex holds an entry's properties by name, keeping every value in document order.
type propIndex map[string][]string

func indexProps(ps []prop) propIndex {
	if len(ps) == 0 {
		return nil
	}
	m := make(propIndex, len(ps))
	for _, p := range ps {
		m[p.name] = append(m[p.name], p.value)
	}
	return m
}

// first returns the first non-empty value of the property.
func (m propIndex) first(name string) string {
	for _, v := range m[name] {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// syftLocation is one of Syft's indexed syft:location:N:path / syft:location:N:layerID pairs.
type syftLocation struct{ path, layer string }

// syftLocations reads Syft's location properties in index order.
func syftLocations(ps []prop) []syftLocation {
	var locs []syftLocation
	for _, p := range ps {
		rest, ok := strings.CutPrefix(p.name, syftLocationPrefix)
		if !ok {
			continue
		}
		idx, field, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(idx)
		if err != nil || n < 0 || n >= len(ps) {
			continue // indices are dense: one never exceeds the number of properties
		}
		for len(locs) <= n {
			locs = append(locs, syftLocation{})
		}
		switch field {
		case "path":
			locs[n].path = p.value
		case "layerID":
			locs[n].layer = p.value
		}
	}
	return locs
}

// syftLayer picks the layer that introduced a Syft component: the layer of its first location
// that is not a shared package database (every later install rewrites the database, so its layer
// is the last one that touched it), else the first location's layer.
func syftLayer(locs []syftLocation) string {
	for _, l := range locs {
		if l.layer != "" && !isSharedPackageDB(l.path) {
			return l.layer
		}
	}
	for _, l := range locs {
		if l.layer != "" {
			return l.layer
		}
	}
	return ""
}

func isSharedPackageDB(p string) bool {
	p = strings.TrimPrefix(p, "/")
	switch {
	case p == "var/lib/dpkg/status", p == "lib/apk/db/installed", strings.HasPrefix(p, "var/lib/rpm/"),
		strings.HasPrefix(p, "usr/lib/sysimage/rpm/"):
		return true
	}
	return false
}

// cleanLocation makes a path slash-separated and relative to the root, as inventory wants it.
func cleanLocation(p string) string {
	p = strings.TrimSpace(p)
	if p == "" {
		return ""
	}
	p = path.Clean("/" + strings.ReplaceAll(p, "\\", "/"))
	return strings.TrimPrefix(p, "/")
}

// describe names an entry in a diagnostic: "components[3] (musl@1.2.3-r4)".
func (e *entry) describe() string {
	id := e.name
	if e.version != "" {
		id += "@" + e.version
	}
	if id == "" {
		return e.where
	}
	return fmt.Sprintf("%s (%s)", e.where, id)
}
