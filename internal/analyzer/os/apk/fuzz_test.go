package apk_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/os/apk"
)

// FuzzAnalyze feeds arbitrary bytes to the installed-database parser and checks that it neither
// panics nor returns incomplete components or absolute owned paths.
func FuzzAnalyze(f *testing.F) {
	f.Add(readFile(f, "testdata/alpine-3.10.4.installed"))
	f.Add([]byte("P:a\nV:1-r0\no:b\nF:/usr/\nR:/x\n\r\n\r\nP:c\nV:2\nL:MIT OR (BSD AND X)\nR:y"))
	a := apk.New(apk.DefaultConfig())
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &analyzer.Input{
			Path:    dbPath,
			Info:    analyzertest.FileInfo{FName: dbPath, FSize: int64(len(data)), FMode: 0o644},
			Content: io.NewSectionReader(bytes.NewReader(data), 0, int64(len(data))),
		}
		res, err := a.Analyze(context.Background(), in)
		if res == nil {
			return
		}
		if res.Empty() {
			t.Fatalf("empty non-nil result (err %v)", err)
		}
		for _, c := range res.Components {
			if c.Name == "" || c.Version == "" || c.Source.Name == "" || c.Source.Version != c.Version {
				t.Fatalf("incomplete component %+v", c)
			}
			for _, l := range c.Licenses {
				if l == "" || strings.TrimSpace(l) != l {
					t.Fatalf("licence %q", l)
				}
			}
		}
		for _, o := range res.OwnedFiles {
			if o == "" || strings.HasPrefix(o, "/") {
				t.Fatalf("owned file %q", o)
			}
		}
	})
}

// BenchmarkAlpine measures Analyze on the real alpine 3.10.4 database.
func BenchmarkAlpine(b *testing.B) {
	data := readFile(b, "testdata/alpine-3.10.4.installed")
	a := apk.New(apk.DefaultConfig())
	in := analyzertest.Input(b, dbPath, data, 0o644)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Analyze(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
