package npm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// packageLock is the part of package-lock.json the analyzer reads. Version 1 has only the
// nested `dependencies` tree; version 2 has both; version 3 only the flat `packages` map, keyed
// by install folder ("" for the root, "node_modules/a/node_modules/@s/b" for nested ones).
type packageLock struct {
	LockfileVersion int                      `json:"lockfileVersion"`
	Packages        map[string]lockPackage   `json:"packages"`
	Dependencies    map[string]lockV1Package `json:"dependencies"`
}

type lockPackage struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	License              json.RawMessage   `json:"license"`
	Link                 bool              `json:"link"`
	Dependencies         map[string]string `json:"dependencies"`
	DevDependencies      map[string]string `json:"devDependencies"`
	OptionalDependencies map[string]string `json:"optionalDependencies"`
	PeerDependencies     map[string]string `json:"peerDependencies"`
}

type lockV1Package struct {
	Version      string                   `json:"version"`
	Dependencies map[string]lockV1Package `json:"dependencies"`
}

func (a *Analyzer) parsePackageLock(ctx context.Context, b []byte, location string) ([]inventory.Component, error) {
	var lock packageLock
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("parse %s: %w", location, err)
	}
	if len(lock.Packages) > 0 {
		return a.fromPackages(ctx, lock.Packages, location)
	}
	var out []inventory.Component
	if err := a.fromV1(ctx, lock.Dependencies, location, 0, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// fromPackages reads the `packages` map of lockfile versions 2 and 3.
func (a *Analyzer) fromPackages(ctx context.Context, pkgs map[string]lockPackage, location string) ([]inventory.Component, error) {
	if len(pkgs) > a.cfg.MaxPackages {
		return nil, fmt.Errorf("parse %s: %d packages, limit %d", location, len(pkgs), a.cfg.MaxPackages)
	}
	// Entries outside node_modules are the root ("") and workspace members: what they declare
	// is direct.
	direct := map[string]bool{}
	for key, p := range pkgs {
		if strings.Contains(key, "node_modules/") {
			continue
		}
		for _, deps := range []map[string]string{p.Dependencies, p.DevDependencies, p.OptionalDependencies, p.PeerDependencies} {
			for n := range deps {
				direct[n] = true
			}
		}
	}
	out := make([]inventory.Component, 0, len(pkgs))
	n := 0
	for key, p := range pkgs {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		folder, ok := folderName(key)
		if !ok || p.Link {
			continue
		}
		name := p.Name
		if name == "" {
			name = folder
		}
		out = append(out, inventory.Component{
			Ecosystem: inventory.EcosystemNPM,
			Name:      name,
			Version:   p.Version,
			Licenses:  licenses(p.License),
			Locations: []string{location},
			Direct:    direct[folder] && strings.Count(key, "node_modules/") == 1,
		})
	}
	return out, nil
}

// folderName returns the package folder name of a `packages` key: the part after the last
// "node_modules/". Keys outside node_modules (root, workspaces) report false.
func folderName(key string) (string, bool) {
	const nm = "node_modules/"
	i := strings.LastIndex(key, nm)
	if i < 0 || (i > 0 && key[i-1] != '/') {
		return "", false
	}
	name := key[i+len(nm):]
	if name == "" {
		return "", false
	}
	return name, true
}

// fromV1 walks the nested `dependencies` tree of lockfile version 1.
func (a *Analyzer) fromV1(ctx context.Context, deps map[string]lockV1Package, location string, depth int, out *[]inventory.Component) error {
	if depth > a.cfg.MaxDepth {
		return fmt.Errorf("parse %s: dependency tree deeper than %d", location, a.cfg.MaxDepth)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for key, p := range deps {
		if len(*out) >= a.cfg.MaxPackages {
			return fmt.Errorf("parse %s: more than %d packages", location, a.cfg.MaxPackages)
		}
		if name, version, ok := resolveV1(key, p.Version); ok {
			*out = append(*out, inventory.Component{
				Ecosystem: inventory.EcosystemNPM,
				Name:      name,
				Version:   version,
				Locations: []string{location},
			})
		}
		if len(p.Dependencies) > 0 {
			if err := a.fromV1(ctx, p.Dependencies, location, depth+1, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolveV1 turns a version 1 entry into a name and version. Aliases ("npm:real@1.2.3") name the
// real package; local folders ("file:") are the project's own code and are skipped; git and
// tarball URLs keep the package with no version, as none is recorded.
func resolveV1(key, version string) (name, v string, ok bool) {
	if i := strings.LastIndex(key, "node_modules/"); i >= 0 {
		key = key[i+len("node_modules/"):] // a folder path written as a name
	}
	if key == "" {
		return "", "", false
	}
	switch {
	case strings.HasPrefix(version, "npm:"):
		spec := version[len("npm:"):]
		if i := strings.LastIndexByte(spec, '@'); i > 0 {
			return spec[:i], spec[i+1:], true
		}
		return key, "", true
	case strings.HasPrefix(version, "file:"), strings.HasPrefix(version, "link:"):
		return "", "", false
	case strings.Contains(version, ":") || strings.Contains(version, "/"):
		return key, "", true
	}
	return key, version, true
}
