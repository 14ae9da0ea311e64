package gobinary_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/lang/gobinary"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
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
	// The ELF header and the start of the program headers: enough for the format sniffing
	// and header parsing paths; whole binaries are too large for the mutator.
	f.Add(data[:512])
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("MZ\x90\x00"))
	f.Add([]byte("\xcf\xfa\xed\xfe\x0c\x00\x00\x01"))
	a := gobinary.New(gobinary.Config{MinSize: 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		langtest.Fuzz(t, a, "bin/x", b)
	})
}
