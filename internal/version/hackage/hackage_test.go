package hackage_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/version/hackage"
	"github.com/stellaops/stellaops/internal/version/internal/vectors"
)

func cmp(a, b string) (int, error) {
	x, err := hackage.Parse(a)
	if err != nil {
		return 0, err
	}
	y, err := hackage.Parse(b)
	if err != nil {
		return 0, err
	}
	return x.Compare(y), nil
}

func TestVectors(t *testing.T) {
	if got := vectors.Run(t, "osv-scalibr-semantic/hackage-versions.txt", cmp, nil); got != 11 {
		t.Errorf("passed %d lines, want 11", got)
	}
}

func FuzzParse(f *testing.F) { vectors.Fuzz(f, hackage.Parse, "1.0.0.0", "0.11.3.0", "2") }
