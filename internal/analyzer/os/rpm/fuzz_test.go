package rpm_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/os/rpm"
)

// FuzzAnalyze mutates a real one-package Berkeley DB and checks that the analyzer (our checks
// plus go-rpmdb) returns, without a panic on any goroutine, and never with incomplete components.
func FuzzAnalyze(f *testing.F) {
	f.Add(readGzip(f, "testdata/libuuid.Packages.gz"))
	a := rpm.New(rpm.DefaultConfig())
	f.Fuzz(func(t *testing.T, data []byte) {
		in := analyzertest.Input(t, "var/lib/rpm/Packages", data, 0o644)
		res, err := a.Analyze(context.Background(), in)
		if err != nil || res == nil {
			return
		}
		for _, c := range res.Components {
			if c.Name == "" || c.Version == "" || c.Name == "gpg-pubkey" {
				t.Fatalf("component %+v", c)
			}
		}
		for _, o := range res.OwnedFiles {
			if o == "" || strings.HasPrefix(o, "/") || strings.HasPrefix(o, "../") {
				t.Fatalf("owned file %q", o)
			}
		}
	})
}

// BenchmarkModularBDB measures Analyze on the 35-header CentOS 8 Berkeley DB (2.7 MB).
func BenchmarkModularBDB(b *testing.B) {
	data := readGzip(b, "testdata/centos8-modular-subset.Packages.gz")
	a := rpm.New(rpm.DefaultConfig())
	in := analyzertest.Input(b, "var/lib/rpm/Packages", data, 0o644)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := a.Analyze(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
