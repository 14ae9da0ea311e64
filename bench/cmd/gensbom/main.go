// Command gensbom writes a CycloneDX 1.6 SBOM of N synthetic components drawn from the bundled
// advisory data (see internal/match/matchtest), for side-by-side scan benchmarks:
//
//	go run ./bench/cmd/gensbom -n 5000 [-worst] -o synthetic-5000.cdx.json
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/bundled"
	"github.com/stellaops/stellaops/internal/match/matchtest"
	"github.com/stellaops/stellaops/internal/sbom"
)

func main() {
	n := flag.Int("n", 5000, "number of components")
	worst := flag.Bool("worst", false, "choose vulnerable versions (worst case) instead of the newest fixed ones")
	out := flag.String("o", "", "output file (required)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: gensbom -n N [-worst] -o FILE")
		os.Exit(2)
	}
	if err := run(*n, *worst, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gensbom:", err)
		os.Exit(1)
	}
}

func run(n int, worst bool, out string) error {
	ctx := context.Background()
	var advs []*advisory.Advisory
	for _, src := range bundled.OSVSources {
		res, err := advisory.LoadOSVFS(ctx, src.Name, bundled.OSV(), src.Path)
		if err != nil {
			return err
		}
		advs = append(advs, res.Advisories...)
	}
	inv, err := matchtest.Synthetic(advs, n, worst)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := sbom.Encode(ctx, f, inv, sbom.FormatCycloneDXJSON, sbom.EncodeOptions{ToolVersion: "gensbom"}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
