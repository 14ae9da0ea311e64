package stellaopscli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stellaops/stellaops/internal/analyzer/list"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/indexer"
	"github.com/stellaops/stellaops/internal/layercache"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/target"
)

// inputFlags say how a target is read; sbom generate and scan run share them.
type inputFlags struct {
	sbomType                 string
	tag, platform            string
	insecure                 bool
	allowSpecial, allowLinks bool
}

func (f *inputFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.sbomType, "sbom-type", "", "read the input as this SBOM type instead of detecting: "+strings.Join(formatNames(), "|"))
	fl.StringVar(&f.tag, "tag", "", "pick this image from a multi-image archive or OCI layout")
	fl.StringVar(&f.platform, "platform", "", "pick this platform (os/arch[/variant]) from a multi-platform image (default linux/<host arch>)")
	fl.BoolVar(&f.insecure, "insecure-registry", false, "allow plain-HTTP registries")
	fl.BoolVar(&f.allowSpecial, "allow-special-files", false, "skip device nodes and FIFOs in layers instead of refusing the image")
	fl.BoolVar(&f.allowLinks, "allow-hostile-symlinks", false, "keep symlinks that escape the root or loop instead of refusing the image")
}

func formatNames() []string {
	var out []string
	for _, f := range sbom.Formats() {
		out = append(out, string(f))
	}
	return out
}

// targetOptions wires the indexer (with the data directory's layer cache), the SBOM decoder and
// the image options. The returned progress display must be finished with Done.
func (g *globals) targetOptions(f *inputFlags) (target.Options, *cli.Progress, error) {
	in, err := sbom.ParseFormat(f.sbomType)
	if err != nil {
		return target.Options{}, nil, cli.Usagef("--sbom-type: %v", err)
	}
	tmp := filepath.Join(g.data, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return target.Options{}, nil, fmt.Errorf("data directory: %w", err)
	}
	cache, err := layercache.Open(filepath.Join(g.data, "cache", "layers"))
	if err != nil {
		return target.Options{}, nil, err
	}
	progress := cli.NewProgress(g.io.Err)
	lim := image.Limits{AllowSpecialFiles: f.allowSpecial, AllowHostileSymlinks: f.allowLinks}
	x := indexer.New(indexer.Config{
		Analyzers: list.Default(), Cache: cache, Limits: lim, TempDir: tmp,
		Progress: progress.Indexer, Logger: g.log,
	})
	return target.Options{
		Indexer: x, Decoder: sbom.NewDecoder(sbom.DefaultConfig()), SBOMFormat: in,
		Image: image.Options{Tag: f.tag, Platform: f.platform, TempDir: tmp, Limits: lim, Insecure: f.insecure},
	}, progress, nil
}
