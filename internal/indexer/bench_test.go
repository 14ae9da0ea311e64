package indexer_test

import (
	"context"
	"testing"

	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/layercache"
)

// BenchmarkIndexAlpine measures inventory of the real alpine 3.10 image: cold (every layer
// analysed) and warm (every layer from the cache).
func BenchmarkIndexAlpine(b *testing.B) {
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			cache, _ := layercache.Open(b.TempDir())
			x := newIndexerB(b, cache)
			img, err := image.Open(context.Background(), alpineTar, image.Options{TempDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer img.Close()
			if warm {
				if _, err := x.IndexImage(context.Background(), img); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				if !warm {
					cache, _ = layercache.Open(b.TempDir())
					x = newIndexerB(b, cache)
				}
				if _, err := x.IndexImage(context.Background(), img); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
