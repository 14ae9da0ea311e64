package target_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/stellaops/stellaops/internal/analyzer/list"
	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/indexer"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/target"
)

const alpine = "../../testdata/images/alpine-3.10.4.docker-save.tar.gz"

func opts(t *testing.T) target.Options {
	return target.Options{
		Indexer: indexer.New(indexer.Config{Analyzers: list.Default(), TempDir: t.TempDir()}),
		Decoder: sbom.NewDecoder(sbom.DefaultConfig()),
		Image:   image.Options{TempDir: t.TempDir()},
	}
}

// cdx writes our CycloneDX of the alpine image to dir, plain and gzipped.
func cdx(t *testing.T, dir string) (plain, gz string) {
	t.Helper()
	res, err := target.Inventory(context.Background(), alpine, opts(t))
	if err != nil {
		t.Fatal(err)
	}
	plain, gz = filepath.Join(dir, "a.cdx.json"), filepath.Join(dir, "a.cdx.json.gz")
	f, _ := os.Create(plain)
	if err := sbom.Encode(context.Background(), f, res.Inventory, sbom.FormatCycloneDXJSON, sbom.EncodeOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	g, _ := os.Create(gz)
	zw := kgzip.NewWriter(g)
	src, _ := os.Open(plain)
	io.Copy(zw, src)
	src.Close()
	zw.Close()
	g.Close()
	return plain, gz
}

func TestDispatch(t *testing.T) {
	dir := t.TempDir()
	plain, gz := cdx(t, dir)
	rootfs := t.TempDir()
	if out, err := exec.Command("sh", "-c", "gzip -dc "+alpine+" | tar --wildcards -xO '*/layer.tar' | tar -x -C "+rootfs).CombinedOutput(); err != nil {
		t.Fatalf("unpack: %v %s", err, out)
	}
	cases := []struct {
		name, arg string
		kind      inventory.TargetKind
		index     bool
	}{
		{"image archive", alpine, inventory.TargetImage, true},
		{"oci layout dir", "../../testdata/images/trivy-test.oci", inventory.TargetImage, true},
		{"rootfs dir", rootfs, inventory.TargetRootfs, true},
		{"sbom", plain, inventory.TargetSBOM, false},
		{"gzipped sbom", gz, inventory.TargetSBOM, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := target.Inventory(context.Background(), c.arg, opts(t))
			if err != nil {
				t.Fatal(err)
			}
			if res.Inventory.Target.Kind != c.kind || (res.Index != nil) != c.index {
				t.Errorf("kind %s, index %v; want %s, %v", res.Inventory.Target.Kind, res.Index != nil, c.kind, c.index)
			}
			if c.kind != inventory.TargetImage || c.arg == alpine {
				if n := len(res.Inventory.Components); n != 14 {
					t.Errorf("components = %d, want 14", n)
				}
			}
		})
	}
}

func TestForcedSBOMType(t *testing.T) {
	plain, _ := cdx(t, t.TempDir())
	o := opts(t)
	o.SBOMFormat = sbom.FormatSPDXJSON
	_, err := target.Inventory(context.Background(), plain, o)
	if !errors.Is(err, sbom.ErrInvalid) {
		t.Errorf("CycloneDX read as spdx-json: err = %v, want sbom.ErrInvalid", err)
	}
	o.SBOMFormat = sbom.FormatCycloneDXJSON
	if res, err := target.Inventory(context.Background(), plain, o); err != nil || len(res.Inventory.Components) != 14 {
		t.Errorf("forced cyclonedx-json: %v", err)
	}
}
