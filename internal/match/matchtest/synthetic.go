// Package matchtest builds synthetic inventories from real advisory data, for benchmarks and the
// bench/ tools: every component is a package the advisories name, so every one is looked up and
// evaluated. It is not used by the scanner itself.
package matchtest

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/version"
)

// Synthetic returns n components drawn deterministically from the language packages and
// AlmaLinux 9 RPMs that advs name. With worst=false each takes its highest fixed version, as a
// maintained project would ship (a few findings remain where branches differ); with worst=true
// each takes one of its fixed or listed versions in turn, so most are vulnerable.
func Synthetic(advs []*advisory.Advisory, n int, worst bool) (*inventory.Inventory, error) {
	type pkg struct {
		eco          inventory.Ecosystem
		distro, name string
		versions     []string
		newest       string
	}
	byKey := map[string]*pkg{}
	for _, a := range advs {
		for _, af := range a.Affected {
			if af.Distro != "" && af.Distro != "almalinux:9" {
				continue
			}
			k := string(af.Ecosystem) + "|" + af.Package
			p := byKey[k]
			if p == nil {
				p = &pkg{eco: af.Ecosystem, distro: af.Distro, name: af.Package}
				byKey[k] = p
			}
			for _, r := range af.Ranges {
				for _, e := range r.Events {
					if e.Fixed != "" {
						p.versions = append(p.versions, e.Fixed)
					}
				}
			}
			p.versions = append(p.versions, af.Versions...)
		}
	}
	var pkgs []pkg
	for _, p := range byKey {
		sch, ok := version.For(p.eco)
		if !ok || len(p.versions) == 0 {
			continue
		}
		var best version.Version
		for _, v := range p.versions {
			if pv, err := sch.Parse(v); err == nil && (best == nil || pv.Compare(best) > 0) {
				best, p.newest = pv, v
			}
		}
		if p.newest != "" {
			slices.Sort(p.versions)
			p.versions = slices.Compact(p.versions)
			pkgs = append(pkgs, *p)
		}
	}
	if len(pkgs) < n {
		return nil, fmt.Errorf("only %d distinct packages for %d components", len(pkgs), n)
	}
	slices.SortFunc(pkgs, func(x, y pkg) int {
		return cmp.Or(cmp.Compare(x.eco, y.eco), cmp.Compare(x.distro, y.distro), cmp.Compare(x.name, y.name))
	})
	inv := &inventory.Inventory{Distro: inventory.Distro{ID: "almalinux", VersionID: "9.4"},
		Target: inventory.Target{Kind: inventory.TargetSBOM, Name: fmt.Sprintf("synthetic-%d", n)}}
	used := map[int]bool{}
	for i := 0; len(inv.Components) < n; i++ {
		j := (i * 7919) % len(pkgs)
		for used[j] { // distinct packages, so Finalize keeps n
			j = (j + 1) % len(pkgs)
		}
		used[j] = true
		p := pkgs[j]
		v := p.newest
		if worst {
			v = p.versions[i%len(p.versions)]
		}
		if p.eco == inventory.EcosystemGo && v[0] != 'v' {
			v = "v" + v
		}
		c := inventory.Component{Ecosystem: p.eco, Name: p.name, Version: v, Locations: []string{fmt.Sprintf("app/%d", i)}}
		if p.eco == inventory.EcosystemRPM {
			c.Arch, c.Distro = "x86_64", inv.Distro
		}
		inv.Components = append(inv.Components, c)
	}
	inv.Finalize()
	return inv, nil
}
