package match_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/bundled"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/target"
	"github.com/stellaops/stellaops/internal/version"
)

// BenchmarkSnapshotOpen opens the full bundled snapshot (13,308 advisories) read-only.
func BenchmarkSnapshotOpen(b *testing.B) {
	fix, err := bundledSnapshot()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		o, err := snapshot.Open(fix.path)
		if err != nil {
			b.Fatal(err)
		}
		o.Close()
	}
}

// BenchmarkMatchPostgresStretch matches the real postgres-stretch SBOM (136 components).
func BenchmarkMatchPostgresStretch(b *testing.B) {
	s := fullSnapshot(b)
	t, err := target.Inventory(context.Background(), "testdata/sbom/postgres-stretch.cdx.xml.gz",
		target.Options{Decoder: sbom.NewDecoder(sbom.DefaultConfig())})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := match.Match(context.Background(), s, t.Inventory, match.Config{}); err != nil {
			b.Fatal(err)
		}
	}
}

// synthetic5000 builds 5,000 components from the packages the bundled advisories name, every one
// of which the matcher finds in the index: Go modules, PyPI, crates and AlmaLinux 9 RPMs. With
// worst=true each takes one of its fixed or listed versions in turn (most are vulnerable to
// something: about 17,000 findings); otherwise each takes its highest fixed version, as a
// maintained project would ship, so every range is still evaluated but few match.
func synthetic5000(b testing.TB, worst bool) *inventory.Inventory {
	b.Helper()
	type pkg struct {
		eco          inventory.Ecosystem
		distro, name string
		versions     []string
		newest       string
	}
	byKey := map[string]*pkg{}
	for _, src := range bundled.OSVSources {
		res, err := advisory.LoadOSVFS(context.Background(), src.Name, bundled.OSV(), src.Path)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range res.Advisories {
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
	slices.SortFunc(pkgs, func(x, y pkg) int {
		return cmp.Or(cmp.Compare(x.eco, y.eco), cmp.Compare(x.distro, y.distro), cmp.Compare(x.name, y.name))
	})
	inv := &inventory.Inventory{Distro: inventory.Distro{ID: "almalinux", VersionID: "9.4"}}
	for i := 0; len(inv.Components) < 5000; i++ { // distinct packages, so Finalize keeps 5,000
		p := pkgs[(i*7919)%len(pkgs)]
		v := p.versions[i%len(p.versions)]
		if !worst {
			v = p.newest
		}
		if p.eco == inventory.EcosystemGo && v[0] != 'v' {
			v = "v" + v
		}
		inv.Components = append(inv.Components, inventory.Component{Ecosystem: p.eco, Name: p.name,
			Version: v, Locations: []string{fmt.Sprintf("app/%d", i)}})
	}
	inv.Finalize() // as every decoder and the indexer hand inventories over
	return inv
}

// BenchmarkMatch5000 matches 5,000 components, typical (few findings) and worst case (nearly every
// component vulnerable). Run with -cpu 1 for the one-core figure.
func BenchmarkMatch5000(b *testing.B) {
	b.Run("typical", func(b *testing.B) { benchMatch(b, synthetic5000(b, false)) })
	b.Run("worst", func(b *testing.B) { benchMatch(b, synthetic5000(b, true)) })
}

func benchMatch(b *testing.B, inv *inventory.Inventory) {
	s := fullSnapshot(b)
	var res *match.Result
	for b.Loop() {
		var err error
		if res, err = match.Match(context.Background(), s, inv, match.Config{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(res.Findings)), "findings")
}
