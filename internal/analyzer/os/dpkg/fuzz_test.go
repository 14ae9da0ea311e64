package dpkg_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/os/dpkg"
)

// FuzzAnalyze feeds arbitrary bytes to the three kinds of dpkg file and checks that the parser
// neither panics nor returns components without name, version or source.
func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{bash, libcap2, libc6 + "\n" + libc6i386, zlib + "\r\n\r\n" + libc6, "/.\n/usr\n/usr/bin/x\n"} {
		f.Add([]byte(s))
	}
	f.Add(readFile(f, "testdata/grype-match-coverage.status"))
	f.Add(readFile(f, "testdata/status.d/syft-multiple"))
	f.Add(readFile(f, "testdata/info/zlib1g_amd64.list"))
	a := dpkg.New(dpkg.DefaultConfig())
	paths := []string{"var/lib/dpkg/status", "var/lib/dpkg/status.d/pkg", "var/lib/dpkg/info/pkg.list"}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range paths {
			in := &analyzer.Input{
				Path:    p,
				Info:    analyzertest.FileInfo{FName: p, FSize: int64(len(data)), FMode: 0o644},
				Content: io.NewSectionReader(bytes.NewReader(data), 0, int64(len(data))),
			}
			res, err := a.Analyze(context.Background(), in)
			if res == nil {
				continue
			}
			if res.Empty() {
				t.Fatalf("%s: empty non-nil result (err %v)", p, err)
			}
			for _, c := range res.Components {
				if c.Name == "" || c.Version == "" || c.Source.Name == "" || c.Source.Version == "" {
					t.Fatalf("%s: incomplete component %+v", p, c)
				}
				if len(c.Locations) != 1 || c.Locations[0] != p {
					t.Fatalf("%s: locations %v", p, c.Locations)
				}
			}
			for _, o := range res.OwnedFiles {
				if o == "" || o == "." || strings.HasPrefix(o, "/") {
					t.Fatalf("%s: owned file %q", p, o)
				}
			}
		}
	})
}
