package cran_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/version/cran"
	"github.com/stellaops/stellaops/internal/version/internal/vectors"
)

func cmp(a, b string) (int, error) {
	x, err := cran.Parse(a)
	if err != nil {
		return 0, err
	}
	y, err := cran.Parse(b)
	if err != nil {
		return 0, err
	}
	return x.Compare(y), nil
}

func TestVectors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want int
	}{
		{"osv-scalibr-semantic/cran-versions.txt", 21},
		{"osv-scalibr-semantic/cran-versions-generated.txt.gz", 57},
	} {
		if got := vectors.Run(t, tc.file, cmp, nil); got != tc.want {
			t.Errorf("%s: passed %d lines, want %d", tc.file, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) { vectors.Fuzz(f, cran.Parse, "0.1-2", "1.0.2", "0.01.0") }
