package alpine

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/version"
)

// SecDB is one secdb file: one release's repository.
type SecDB struct {
	DistroVersion string    `json:"distroversion" yaml:"distroversion"`
	RepoName      string    `json:"reponame" yaml:"reponame"`
	Packages      []Package `json:"packages" yaml:"packages"`
}

// Package is one origin package and its fixes.
type Package struct {
	Pkg struct {
		Name string `json:"name" yaml:"name"`
		// Secfixes maps a package version to the identifiers fixed in it; the version "0" lists
		// what never affected this release.
		Secfixes map[string]IDList `json:"secfixes" yaml:"secfixes"`
	} `json:"pkg" yaml:"pkg"`
}

// IDList is the identifiers fixed in one version. Upstream mostly writes a list, but real files
// also hold an empty object ("2.8.0-r0": {} in v3.12/main.json), null, or a lone string.
type IDList []string

// UnmarshalJSON accepts a list of strings, a string, null or an empty object.
func (l *IDList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*l = nil
		return nil
	case len(b) > 0 && b[0] == '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		if len(m) > 0 {
			return errors.New("secfixes entry is a non-empty object, want a list of identifiers")
		}
		*l = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = IDList{s}
		return nil
	}
	var s []string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*l = s
	return nil
}

// UnmarshalYAML accepts the same shapes as UnmarshalJSON.
func (l *IDList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			*l = nil
			return nil
		}
		*l = IDList{n.Value}
		return nil
	case yaml.MappingNode:
		if len(n.Content) > 0 {
			return fmt.Errorf("line %d: secfixes entry is a non-empty mapping, want a list of identifiers", n.Line)
		}
		*l = nil
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// secdbJSON accepts "packages": {} as well as a list: edge's empty repositories are published
// that way.
type secdbJSON struct {
	DistroVersion string          `json:"distroversion"`
	RepoName      string          `json:"reponame"`
	Packages      json.RawMessage `json:"packages"`
}

// ParseSecDB reads a secdb file in its JSON or YAML form.
func ParseSecDB(b []byte, yamlForm bool) (*SecDB, error) {
	var db SecDB
	if yamlForm {
		if err := yaml.Unmarshal(b, &db); err != nil {
			return nil, fmt.Errorf("secdb yaml: %w", err)
		}
	} else {
		var raw secdbJSON
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, fmt.Errorf("secdb json: %w", err)
		}
		db.DistroVersion, db.RepoName = raw.DistroVersion, raw.RepoName
		p := bytes.TrimSpace(raw.Packages)
		switch {
		case len(p) == 0 || bytes.Equal(p, []byte("null")):
		case p[0] == '{':
			var m map[string]json.RawMessage
			if err := json.Unmarshal(p, &m); err != nil {
				return nil, fmt.Errorf("secdb json packages: %w", err)
			}
			if len(m) > 0 {
				return nil, errors.New("secdb json: packages is a non-empty object, want a list")
			}
		default:
			if err := json.Unmarshal(p, &db.Packages); err != nil {
				return nil, fmt.Errorf("secdb json packages: %w", err)
			}
		}
	}
	if db.DistroVersion == "" && db.RepoName == "" && db.Packages == nil {
		return nil, errors.New("secdb: no distroversion, reponame or packages: not a secdb file")
	}
	for i, p := range db.Packages {
		if strings.TrimSpace(p.Pkg.Name) == "" {
			return nil, fmt.Errorf("secdb: package %d has no name", i)
		}
	}
	return &db, nil
}

var (
	cveRE = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)
	// Other identifiers secdb lists (XSA-254, GHSA-…, ZBX-…): upper-case prefix, dash, rest.
	otherIDRE = regexp.MustCompile(`^[A-Z][A-Z0-9]*-[A-Za-z0-9-]*[0-9][A-Za-z0-9-]*$`)
)

// SplitIDs reads one secfixes entry: "CVE-2019-15167 (VRRP)", "CVE-2018-8897 XSA-260",
// "CVE-????-?????  XSA-295", "XSA-254". It returns the advisory ID (the first valid CVE, else
// the first other identifier) and the other identifiers as aliases; "" when there is none.
func SplitIDs(entry string) (string, []string) {
	var cves, others []string
	for _, f := range strings.Fields(entry) {
		switch {
		case cveRE.MatchString(f):
			cves = append(cves, f)
		case otherIDRE.MatchString(f) && !strings.HasPrefix(f, "CVE-"):
			others = append(others, f)
		}
	}
	ids := append(cves, others...)
	if len(ids) == 0 {
		return "", nil
	}
	return ids[0], ids[1:]
}

var apkScheme = func() version.Scheme {
	s, ok := version.For(inventory.EcosystemAPK)
	if !ok {
		panic("version: no apk scheme")
	}
	return s
}()

// MapDocument maps one secdb document (its URI says the release, repository and form) to one
// advisory per identifier, sorted by ID.
func MapDocument(uri, digest string, content []byte) ([]*advisory.Advisory, error) {
	db, err := ParseSecDB(content, isYAML(uri))
	if err != nil {
		return nil, err
	}
	rel, _ := releaseRepo(uri)
	if !releaseRE.MatchString(rel) {
		return nil, fmt.Errorf("secdb: cannot tell the release from %q", uri)
	}
	distro := advisory.DistroKey(inventory.Distro{ID: "alpine", VersionID: strings.TrimPrefix(rel, "v")})

	// fix is what one package's secfixes say about one identifier: the lowest version that fixes
	// it (a CVE listed under two versions was fixed by the first; the later entry is a re-import),
	// or "0" alone for never affected.
	type fix struct {
		fixed       string
		notAffected bool
		aliases     []string
	}
	type key struct{ id, pkg string }
	fixes := map[key]*fix{}
	for _, p := range db.Packages {
		name := strings.TrimSpace(p.Pkg.Name)
		for ver, entries := range p.Pkg.Secfixes {
			ver = strings.TrimSpace(ver)
			notAffected := ver == "0"
			if !notAffected {
				if _, err := apkScheme.Parse(ver); err != nil {
					// One bad version key must not lose the file's other fixes; the matcher could
					// not compare against it anyway.
					continue
				}
			}
			for _, e := range entries {
				id, aliases := SplitIDs(e)
				if id == "" {
					continue
				}
				k := key{id, name}
				f := fixes[k]
				if f == nil {
					f = &fix{}
					fixes[k] = f
				}
				f.aliases = append(f.aliases, aliases...)
				if notAffected {
					f.notAffected = true
					continue
				}
				if f.fixed == "" || lessAPK(ver, f.fixed) {
					f.fixed = ver
				}
			}
		}
	}

	byID := map[string]*advisory.Advisory{}
	for k, f := range fixes {
		a := byID[k.id]
		if a == nil {
			a = &advisory.Advisory{ID: k.id, Sources: []advisory.Provenance{{Source: ProvenanceSource, Document: uri, Digest: digest}}}
			if strings.HasPrefix(k.id, "CVE-") {
				a.References = []advisory.Reference{{Type: "ADVISORY", URL: "https://security.alpinelinux.org/vuln/" + k.id}}
			}
			byID[k.id] = a
		}
		a.Aliases = append(a.Aliases, f.aliases...)
		af := advisory.Affected{Ecosystem: inventory.EcosystemAPK, Distro: distro, Package: k.pkg, Source: ProvenanceSource}
		// A real fix wins over a "0" entry for the same package: claiming a fixed package was never
		// vulnerable would hide it from scans of older builds.
		if f.fixed != "" {
			af.Ranges = []advisory.Range{{Type: advisory.RangeEcosystem, Events: []advisory.Event{{Introduced: "0"}, {Fixed: f.fixed}}}}
		} else {
			af.Status = advisory.StatusNotAffected
		}
		a.Affected = append(a.Affected, af)
	}
	out := make([]*advisory.Advisory, 0, len(byID))
	for _, a := range byID {
		a.Normalize()
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y *advisory.Advisory) int { return cmp.Compare(x.ID, y.ID) })
	return out, nil
}

func lessAPK(a, b string) bool {
	va, err1 := apkScheme.Parse(a)
	vb, err2 := apkScheme.Parse(b)
	if err1 != nil || err2 != nil {
		return a < b
	}
	return va.Compare(vb) < 0
}
