package gobinary_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/gobinary"
)

func FuzzStdlibVersion(f *testing.F) {
	for _, s := range []string{"go1.22.3", "go1.21rc2", "go1.20.10 X:boringcrypto", "devel go1.23"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := gobinary.StdlibVersion(s)
		if ok && !strings.HasPrefix(v, "v") {
			t.Errorf("StdlibVersion(%q) = %q", s, v)
		}
	})
}

// FuzzAnalyze feeds mutated executable headers to the analyzer; it must never panic and only
// report errors for Go binaries whose module information is corrupt.
func FuzzAnalyze(f *testing.F) {
	data, err := os.ReadFile("testdata/semvercheck")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data[:64*1024])
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("MZ\x90\x00"))
	a := gobinary.New(gobinary.Config{MinSize: 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = a.Analyze(context.Background(), analyzertest.Input(t, "bin/x", b, 0o755))
	})
}
