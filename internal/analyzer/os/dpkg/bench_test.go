package dpkg_test

import (
	"context"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/os/dpkg"
)

// BenchmarkBookwormStatus measures Analyze on the real 88-package bookworm status file.
func BenchmarkBookwormStatus(b *testing.B) {
	data := readFile(b, "testdata/bookworm.status")
	a := dpkg.New(dpkg.DefaultConfig())
	in := analyzertest.Input(b, "var/lib/dpkg/status", data, 0o644)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := a.Analyze(context.Background(), in)
		if err != nil || len(res.Components) != 88 {
			b.Fatalf("got %v, %v", res, err)
		}
	}
}

// BenchmarkRequired measures the per-file path check on a mix of paths the walker sees.
func BenchmarkRequired(b *testing.B) {
	a := dpkg.New(dpkg.DefaultConfig())
	paths := []string{"usr/lib/x86_64-linux-gnu/libc.so.6", "var/lib/dpkg/info/libc6:amd64.md5sums",
		"var/lib/dpkg/status", "usr/share/doc/bash/copyright", "var/lib/dpkg/status.d/libssl3"}
	for b.Loop() {
		for _, p := range paths {
			a.Required(p, nil)
		}
	}
}
