package cargo

import (
	"context"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/stellaops/stellaops/internal/inventory"
)

// lockfile is the part of Cargo.lock (formats v1 to v4) the analyzer reads. Version 1 adds a
// [metadata] table of checksums and, in its oldest form, a [root] table for the root crate;
// versions 3 and 4 add a top-level `version`. Dependencies are "name", "name version" or
// "name version (source)".
type lockfile struct {
	Root    *lockPackage  `toml:"root"`
	Package []lockPackage `toml:"package"`
}

type lockPackage struct {
	Name         string   `toml:"name"`
	Version      string   `toml:"version"`
	Source       string   `toml:"source"`
	Dependencies []string `toml:"dependencies"`
}

// ParseLockfile reads a Cargo.lock and returns its crates found at location; at most max
// packages are accepted.
func ParseLockfile(ctx context.Context, b []byte, location string, max int) ([]inventory.Component, error) {
	var lf lockfile
	if err := toml.Unmarshal(b, &lf); err != nil {
		return nil, fmt.Errorf("parse Cargo.lock %s: %w", location, err)
	}
	pkgs := lf.Package
	if lf.Root != nil {
		pkgs = append(pkgs, *lf.Root)
	}
	if len(pkgs) > max {
		return nil, fmt.Errorf("parse Cargo.lock %s: %d packages, limit %d", location, len(pkgs), max)
	}
	// Everything a local crate (one without a source) depends on is a direct dependency.
	direct := map[string]bool{}
	for _, p := range pkgs {
		if p.Source != "" {
			continue
		}
		for _, d := range p.Dependencies {
			name, rest, _ := strings.Cut(strings.TrimSpace(d), " ")
			version, _, _ := strings.Cut(rest, " ")
			direct[name+" "+version] = true
		}
	}
	out := make([]inventory.Component, 0, len(pkgs))
	for i, p := range pkgs {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if p.Name == "" {
			continue
		}
		out = append(out, inventory.Component{
			Ecosystem: inventory.EcosystemCargo,
			Name:      p.Name,
			Version:   p.Version,
			Locations: []string{location},
			Direct:    p.Source == "" || direct[p.Name+" "] || direct[p.Name+" "+p.Version],
		})
	}
	return out, nil
}
