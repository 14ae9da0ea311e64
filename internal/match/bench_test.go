package match_test

import (
	"context"
	"testing"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/bundled"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/match/matchtest"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/target"
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

// synthetic5000 builds 5,000 components from the packages the bundled advisories name (see
// matchtest.Synthetic for typical vs worst).
func synthetic5000(b testing.TB, worst bool) *inventory.Inventory {
	b.Helper()
	var advs []*advisory.Advisory
	for _, src := range bundled.OSVSources {
		res, err := advisory.LoadOSVFS(context.Background(), src.Name, bundled.OSV(), src.Path)
		if err != nil {
			b.Fatal(err)
		}
		advs = append(advs, res.Advisories...)
	}
	inv, err := matchtest.Synthetic(advs, 5000, worst)
	if err != nil {
		b.Fatal(err)
	}
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
