package stellaopscli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/bomindex"
	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/target"
)

// outputFormats are the values --format takes, in help order.
var outputFormats = []string{"cyclonedx-json", "cyclonedx-xml", "spdx-json", "spdx-tag-value", "table"}

type generateFlags struct {
	format, output, bomIndex string
	input                    inputFlags
}

func sbomCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "sbom", Short: "Generate and convert SBOMs"}
	var f generateFlags
	gen := &cobra.Command{
		Use:   "generate <image.tar | oci-dir | registry-ref | rootfs-dir | sbom-file>",
		Short: "Inventory an image, a root filesystem or an SBOM and write it as an SBOM or a table",
		Long: `Inventory an image (docker-archive tarball, OCI layout directory or tar, registry reference),
an unpacked root filesystem, or an existing SBOM (CycloneDX, SPDX, Trivy JSON), and write the result
as CycloneDX 1.6, SPDX 2.3 or a table. Image layers are analysed once and cached by diff ID in the
data directory, so scanning an image whose layers are cached reads no layer again.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runGenerate(cmd.Context(), g, &f, args[0]) },
	}
	fl := gen.Flags()
	fl.StringVarP(&f.format, "format", "f", "table", "output format: "+strings.Join(outputFormats, "|"))
	fl.StringVarP(&f.output, "output", "o", "", "write to FILE instead of standard output")
	fl.StringVar(&f.bomIndex, "bom-index", "", "also write the bom-index@1 sidecar (layers per component) to FILE")
	f.input.register(fl)
	cmd.AddCommand(gen)
	return cmd
}

func runGenerate(ctx context.Context, g *globals, f *generateFlags, arg string) error {
	if !slices.Contains(outputFormats, f.format) {
		return cli.Usagef("unknown --format %q (want %s)", f.format, strings.Join(outputFormats, ", "))
	}
	opts, progress, err := g.targetOptions(&f.input)
	if err != nil {
		return err
	}
	res, err := target.Inventory(ctx, arg, opts)
	progress.Done()
	if err != nil {
		return err
	}
	if f.bomIndex != "" && res.Index == nil {
		return cli.Usagef("--bom-index needs an image or a directory, not an SBOM")
	}
	for _, d := range res.Inventory.Diagnostics {
		g.log.WarnContext(ctx, "inventory incomplete", "source", d.Source, "path", d.Path, "layer", d.Layer, "problem", d.Message)
	}
	var buf bytes.Buffer
	if f.format == "table" {
		writeTable(&buf, res.Inventory)
	} else {
		opts := sbom.EncodeOptions{ToolVersion: buildinfo.Get().Version, Now: clock(g.env)}
		if err := sbom.Encode(ctx, &buf, res.Inventory, sbom.Format(f.format), opts); err != nil {
			return err
		}
	}
	if err := writeOutput(g.io.Out, f.output, buf.Bytes()); err != nil {
		return err
	}
	if f.bomIndex != "" {
		var bi bytes.Buffer
		if err := bomindex.Encode(&bi, bomIndex(res, clock(g.env)())); err != nil {
			return err
		}
		return writeOutput(nil, f.bomIndex, bi.Bytes())
	}
	return nil
}

// clock is the time written into documents: SOURCE_DATE_EPOCH when set (reproducible output),
// else now.
func clock(env func(string) string) func() time.Time {
	if s := env("SOURCE_DATE_EPOCH"); s != "" {
		if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
			return func() time.Time { return time.Unix(sec, 0).UTC() }
		}
	}
	return func() time.Time { return time.Now().UTC() }
}

// writeOutput writes b to file atomically (temporary file + rename, so a failed run never
// leaves half a document), or to w when file is empty or "-".
func writeOutput(w io.Writer, file string, b []byte) error {
	if file == "" || file == "-" {
		_, err := w.Write(b)
		return err
	}
	// A device or pipe (--output /dev/null, a FIFO) is written in place: renaming a temporary
	// file over it would replace the device node with a regular file.
	if fi, err := os.Stat(file); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(file, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		_, werr := f.Write(b)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("write %s: %w", file, werr)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), file)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", file, werr)
	}
	return nil
}

func bomIndex(res *target.Result, now time.Time) *bomindex.Index {
	inv := res.Inventory
	idx := &bomindex.Index{ImageDigest: inv.Target.Digest, GeneratedAt: now}
	for _, l := range inv.Layers {
		idx.Layers = append(idx.Layers, l.DiffID)
	}
	seen := map[string]bool{}
	for _, c := range inv.Components {
		k := c.Key()
		if seen[k] {
			continue
		}
		seen[k] = true
		var ls []uint32
		for _, i := range res.Index.Presence[k] {
			ls = append(ls, uint32(i))
		}
		idx.Components = append(idx.Components, bomindex.Component{Key: k, Layers: ls})
	}
	return idx
}
