package stella_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/list"
	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/indexer"
	"github.com/stellaops/stellaops/internal/server/servertest"
)

// benchStella runs stella on the app image (alpine 3.10 + a Django layer) against a server
// that has scanned the base image, and reports the request body stella sends.
func benchStella(b *testing.B, delta bool) {
	r, tok := serverWithToken(b, servertest.Config())
	base, app := images(b)
	if code, _, stderr := runB(b, "--server", r.URL, "--token", tok, base); code != 0 {
		b.Fatalf("base: %d %s", code, stderr)
	}
	args := []string{"--server", r.URL, "--token", tok, "--format", "json", app}
	body := fileSize(b, app)
	if delta {
		args = append([]string{"--delta"}, args...)
		body = int64(deltaSize(b, app, 1))
	}
	for b.Loop() {
		if code, _, stderr := runB(b, args...); code != 0 {
			b.Fatalf("exit %d: %s", code, stderr)
		}
	}
	b.ReportMetric(float64(body)/1024, "body-KiB")
}

func BenchmarkStellaFullUpload(b *testing.B) { benchStella(b, false) }
func BenchmarkStellaDelta(b *testing.B)      { benchStella(b, true) }

func fileSize(b *testing.B, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// deltaSize is the size of the delta SBOM of the image at p supplying its top n layers.
func deltaSize(b *testing.B, p string, n int) int {
	img, err := image.Open(context.Background(), p, image.Options{TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	x := indexer.New(indexer.Config{Analyzers: list.Default(), TempDir: b.TempDir()})
	top := map[string]bool{}
	for _, l := range img.Layers[len(img.Layers)-n:] {
		top[l.DiffID] = true
	}
	sup, err := x.AnalyzeLayers(context.Background(), img, func(d string) bool { return top[d] })
	if err != nil {
		b.Fatal(err)
	}
	j, err := json.Marshal(x.Delta(img, sup))
	if err != nil {
		b.Fatal(err)
	}
	return len(j)
}
