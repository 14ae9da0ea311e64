package sbom

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// trivyReport is the part of a Trivy JSON report (SchemaVersion 2) an inventory needs. The trivy
// module cannot be used here, so these are our own minimal structs.
type trivyReport struct {
	SchemaVersion int           `json:"SchemaVersion"`
	ArtifactName  string        `json:"ArtifactName"`
	Metadata      trivyMetadata `json:"Metadata"`
	Results       []trivyResult `json:"Results"`
}

type trivyMetadata struct {
	OS *struct {
		Family string `json:"Family"`
		Name   string `json:"Name"`
	} `json:"OS"`
	DiffIDs []string `json:"DiffIDs"`
}

type trivyResult struct {
	Target          string         `json:"Target"`
	Class           string         `json:"Class"`
	Type            string         `json:"Type"`
	Packages        []trivyPackage `json:"Packages"`
	Vulnerabilities []trivyVuln    `json:"Vulnerabilities"`
}

type trivyPackage struct {
	Name         string          `json:"Name"`
	Version      string          `json:"Version"`
	Release      string          `json:"Release"`
	Epoch        int             `json:"Epoch"`
	Arch         string          `json:"Arch"`
	SrcName      string          `json:"SrcName"`
	SrcVersion   string          `json:"SrcVersion"`
	SrcRelease   string          `json:"SrcRelease"`
	SrcEpoch     int             `json:"SrcEpoch"`
	Identifier   trivyIdentifier `json:"Identifier"`
	Licenses     []string        `json:"Licenses"`
	Layer        trivyLayer      `json:"Layer"`
	FilePath     string          `json:"FilePath"`
	Digest       string          `json:"Digest"`
	Relationship string          `json:"Relationship"`
}

type trivyIdentifier struct {
	PURL string `json:"PURL"`
}

type trivyLayer struct {
	DiffID string `json:"DiffID"`
}

type trivyVuln struct {
	PkgName          string          `json:"PkgName"`
	PkgPath          string          `json:"PkgPath"`
	InstalledVersion string          `json:"InstalledVersion"`
	PkgIdentifier    trivyIdentifier `json:"PkgIdentifier"`
	Layer            trivyLayer      `json:"Layer"`
}

// decodeTrivy reads a Trivy JSON report. Reports made with --list-all-pkgs=false carry no
// Packages; their vulnerable packages are used instead, and a diagnostic says the list is partial.
func decodeTrivy(ctx context.Context, data []byte) (*builder, error) {
	const f = FormatTrivyJSON
	var r trivyReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, jsonError(f, data, err)
	}
	if r.SchemaVersion != 2 {
		return nil, &Error{Format: f, Where: "/SchemaVersion", Err: fmt.Errorf("%w: Trivy JSON SchemaVersion %d (only 2 is supported)", ErrUnsupportedVersion, r.SchemaVersion)}
	}
	b := newBuilder(f)
	b.inv.Target.Name = r.ArtifactName
	for _, id := range r.Metadata.DiffIDs {
		b.inv.Layers = append(b.inv.Layers, inventory.Layer{DiffID: id})
	}
	var osDistro inventory.Distro
	if os := r.Metadata.OS; os != nil {
		osDistro = distroFromOS(os.Family, os.Name)
		b.setOSDistro(osDistro)
	}
	havePackages := false
	for _, res := range r.Results {
		havePackages = havePackages || len(res.Packages) > 0
	}
	for i, res := range r.Results {
		eco := trivyEcosystem(res.Class, res.Type)
		for j, p := range res.Packages {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			b.add(trivyPackageEntry(fmt.Sprintf("Results[%d].Packages[%d]", i, j), eco, osDistro, &p))
		}
		if havePackages {
			continue
		}
		seen := map[string]bool{}
		for j, v := range res.Vulnerabilities {
			key := v.PkgIdentifier.PURL + "\x00" + v.PkgName + "\x00" + v.InstalledVersion + "\x00" + v.PkgPath
			if seen[key] {
				continue
			}
			seen[key] = true
			b.add(trivyVulnEntry(fmt.Sprintf("Results[%d].Vulnerabilities[%d]", i, j), eco, osDistro, &v))
		}
	}
	if !havePackages && len(b.inv.Components) > 0 {
		b.diagnose("report has no Packages (made without --list-all-pkgs): only the %d packages with vulnerabilities are listed", len(b.inv.Components))
	}
	return b, nil
}

func trivyPackageEntry(where string, eco inventory.Ecosystem, d inventory.Distro, p *trivyPackage) *entry {
	version := p.Version
	if p.Release != "" {
		version += "-" + p.Release
	}
	if p.Epoch != 0 {
		version = inventory.JoinEpoch(strconv.Itoa(p.Epoch), version)
	}
	e := &entry{
		where:     where,
		name:      p.Name,
		version:   version,
		purl:      p.Identifier.PURL,
		licenses:  p.Licenses,
		ecosystem: eco,
		arch:      p.Arch,
		// A package of an ecosystem we do not know is still kept, for CPE matching.
		keepUnknown: true,
	}
	if eco.IsOS() {
		e.distro = d
	}
	if p.FilePath != "" {
		e.locations = []string{p.FilePath}
	}
	if p.Layer.DiffID != "" {
		e.props = append(e.props, prop{trivyLayerDiffID, p.Layer.DiffID})
	}
	if p.SrcName != "" {
		e.props = append(e.props, prop{trivySrcName, p.SrcName}, prop{trivySrcVersion, p.SrcVersion},
			prop{trivySrcRelease, p.SrcRelease})
		if p.SrcEpoch != 0 {
			e.props = append(e.props, prop{trivySrcEpoch, strconv.Itoa(p.SrcEpoch)})
		}
	}
	if alg, val, ok := strings.Cut(p.Digest, ":"); ok && val != "" {
		e.hashes = []inventory.Hash{{Algorithm: cdxHashAlgorithm(alg), Value: val}}
	}
	return e
}

func trivyVulnEntry(where string, eco inventory.Ecosystem, d inventory.Distro, v *trivyVuln) *entry {
	e := &entry{where: where, name: v.PkgName, version: v.InstalledVersion, purl: v.PkgIdentifier.PURL, ecosystem: eco, keepUnknown: true}
	if eco.IsOS() {
		e.distro = d
	}
	if v.PkgPath != "" {
		e.locations = []string{v.PkgPath}
	}
	if v.Layer.DiffID != "" {
		e.props = []prop{{trivyLayerDiffID, v.Layer.DiffID}}
	}
	return e
}

// trivyEcosystem maps a Trivy result (Class "os-pkgs" with Type the OS family, or "lang-pkgs"
// with Type the analyzer) to an ecosystem, for packages whose report carries no purl.
//
// With no class (a CycloneDX aquasecurity:trivy:PkgType property), OS families are recognised
// by name.
func trivyEcosystem(class, typ string) inventory.Ecosystem {
	typ = strings.ToLower(typ)
	switch typ {
	case "debian", "ubuntu":
		return inventory.EcosystemDeb
	case "alpine", "wolfi", "chainguard":
		return inventory.EcosystemAPK
	case "redhat", "centos", "rocky", "alma", "oracle", "amazon", "fedora", "photon", "cbl-mariner",
		"azurelinux", "opensuse", "opensuse.leap", "opensuse.tumbleweed", "suse linux enterprise server",
		"suse linux enterprise micro", "slem", "sles":
		return inventory.EcosystemRPM
	}
	if class == "os-pkgs" {
		if typ == "" {
			return inventory.EcosystemUnknown
		}
		return inventory.EcosystemRPM // another rpm-based family
	}
	switch typ {
	case "npm", "yarn", "pnpm", "node-pkg", "bun":
		return inventory.EcosystemNPM
	case "pip", "pipenv", "poetry", "python-pkg", "uv":
		return inventory.EcosystemPyPI
	case "gomod", "gobinary":
		return inventory.EcosystemGo
	case "jar", "pom", "gradle", "sbt":
		return inventory.EcosystemMaven
	case "cargo", "rustbinary", "rust-binary":
		return inventory.EcosystemCargo
	case "bundler", "gemspec":
		return inventory.EcosystemGem
	case "nuget", "dotnet-core", "packages-props":
		return inventory.EcosystemNuGet
	case "composer", "composer-vendor":
		return inventory.EcosystemComposer
	case "hex", "mix-lock":
		return inventory.EcosystemHex
	case "pub":
		return inventory.EcosystemPub
	}
	return inventory.EcosystemUnknown
}
