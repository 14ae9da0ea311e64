// Package langtest is the shared test harness of the language analyzers: table-driven runs
// over real fixtures with golden files, Required checks, and fuzz bodies that must never
// panic. It is imported by tests only and must not hold any parser.
package langtest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// Case is one analyzer run over a fixture.
type Case struct {
	// Name names the subtest.
	Name string
	// File is the fixture, relative to the package directory (usually under testdata/).
	File string
	// Path is where the file is found in the scanned image; it must be Required.
	Path string
	// Exec gives the file mode 0755 instead of 0644.
	Exec bool
	// Want is the expected result; used when Golden is empty. Nil means "nothing here".
	Want []inventory.Component
	// Golden is a JSON file, relative to the package directory, holding the expected
	// components; `go test -update` rewrites it.
	Golden string
	// WantErr expects Analyze to fail (and then nothing is compared).
	WantErr bool
}

// Run runs every case against a, comparing with cmp.Diff and reporting (-want +got).
func Run(t *testing.T, a analyzer.Analyzer, cases []Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			res, err := analyzertest.AnalyzeFile(t, a, tc.Path, tc.File, tc.Exec)
			if (err != nil) != tc.WantErr {
				t.Fatalf("Analyze(%s) error = %v, wantErr %v", tc.File, err, tc.WantErr)
			}
			if tc.WantErr {
				if res != nil {
					t.Errorf("Analyze(%s) returned a result with an error: %+v", tc.File, res)
				}
				return
			}
			var got []inventory.Component
			if res != nil {
				got = res.Components
				if len(got) == 0 {
					t.Errorf("Analyze(%s) returned an empty, non-nil result", tc.File)
				}
			}
			want := tc.Want
			if tc.Golden != "" {
				want = golden(t, tc.Golden, got)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Analyze(%s) mismatch (-want +got):\n%s", tc.File, diff)
			}
		})
	}
}

func golden(t *testing.T, file string, got []inventory.Component) []inventory.Component {
	t.Helper()
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	var want []inventory.Component
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("decode golden %s: %v", file, err)
	}
	return want
}

// RequiredCase is one Required check.
type RequiredCase struct {
	Path string
	// Mode defaults to 0644.
	Mode fs.FileMode
	// Size defaults to 4096.
	Size int64
	Want bool
}

// RunRequired checks Required on every case.
func RunRequired(t *testing.T, a analyzer.Analyzer, cases []RequiredCase) {
	t.Helper()
	for _, tc := range cases {
		mode, size := tc.Mode, tc.Size
		if mode == 0 {
			mode = 0o644
		}
		if size == 0 {
			size = 4096
		}
		info := analyzertest.FileInfo{FName: filepath.Base(tc.Path), FSize: size, FMode: mode}
		if got := a.Required(tc.Path, info); got != tc.Want {
			t.Errorf("%s.Required(%q, %v) = %v, want %v", a.Name(), tc.Path, mode, got, tc.Want)
		}
	}
}

// RequiredAllocs checks that Required allocates nothing for any of the paths: it runs for
// every file of every layer.
func RequiredAllocs(t *testing.T, a analyzer.Analyzer, paths ...string) {
	t.Helper()
	var info fs.FileInfo = analyzertest.FileInfo{FName: "x", FSize: 1 << 20, FMode: 0o755}
	for _, p := range paths {
		if n := testing.AllocsPerRun(100, func() { a.Required(p, info) }); n != 0 {
			t.Errorf("%s.Required(%q) allocates %.0f times per call", a.Name(), p, n)
		}
	}
}

// Input builds an input without the temporary directory analyzertest.Input makes, which is
// too slow for fuzzing.
func Input(path string, content []byte, mode fs.FileMode) *analyzer.Input {
	return &analyzer.Input{
		Path:    path,
		Info:    analyzertest.FileInfo{FName: filepath.Base(path), FSize: int64(len(content)), FMode: mode},
		Content: io.NewSectionReader(bytes.NewReader(content), 0, int64(len(content))),
	}
}

// Fuzz analyses b as a file at path and checks the invariants every analyzer keeps on hostile
// input: no panic, no result together with an error, and components that have a name and the
// input's path among their locations.
func Fuzz(t *testing.T, a analyzer.Analyzer, path string, b []byte) {
	res, err := a.Analyze(context.Background(), Input(path, b, 0o755))
	if err != nil {
		if res != nil {
			t.Fatalf("result %+v together with error %v", res, err)
		}
		return
	}
	if res == nil {
		return
	}
	for _, c := range res.Components {
		if c.Name == "" {
			t.Fatalf("component without a name: %+v", c)
		}
		if len(c.Locations) == 0 {
			t.Fatalf("component without a location: %+v", c)
		}
	}
}

// Seeds adds every fixture file matching the glob patterns to the fuzz corpus.
func Seeds(f *testing.F, patterns ...string) {
	f.Helper()
	for _, p := range patterns {
		files, err := filepath.Glob(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}
