package pep440_test

import (
	"errors"
	"testing"

	"github.com/stellaops/stellaops/internal/version/internal/vectors"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
	"github.com/stellaops/stellaops/internal/version/pep440"
)

func cmp(a, b string) (int, error) {
	x, err := pep440.Parse(a)
	if err != nil {
		return 0, err
	}
	y, err := pep440.Parse(b)
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
		{"osv-scalibr-semantic/pypi-versions.txt", 37},
		{"osv-scalibr-semantic/pypi-versions-generated.txt.gz", 12375},
	} {
		t.Run(tc.file, func(t *testing.T) {
			if got := vectors.Run(t, tc.file, cmp, nil); got != tc.want {
				t.Errorf("passed %d lines, want %d", got, tc.want)
			}
		})
	}
}

// TestSorted checks packaging's VERSIONS list: strictly ascending, each PEP 440 (not legacy).
func TestSorted(t *testing.T) {
	lines := vectors.Read(t, "pep440-sorted-versions.txt")
	var prev pep440.Version
	for i, l := range lines {
		v, err := pep440.Parse(l.Text)
		if err != nil || v.IsLegacy() {
			t.Fatalf("line %d: %q: %v (legacy %v)", l.N, l.Text, err, v.IsLegacy())
		}
		if i > 0 && (prev.Compare(v) != -1 || v.Compare(prev) != 1) {
			t.Errorf("line %d: %q is not after %q", l.N, v, prev)
		}
		prev = v
	}
	if len(lines) != 92 {
		t.Errorf("%d versions, want 92", len(lines))
	}
}

// TestTraps covers the orderings the matcher depends on.
func TestTraps(t *testing.T) {
	order := []string{"1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0+local.1", "1.0.post1", "1.1", "1!0.1"}
	for i := 1; i < len(order); i++ {
		if c, err := cmp(order[i-1], order[i]); c != -1 || err != nil {
			t.Errorf("%s < %s: got %d, %v", order[i-1], order[i], c, err)
		}
	}
	for _, eq := range [][2]string{{"1.0", "1.0.0"}, {"1.0RC1", "1.0rc1"}, {"1.0-1", "1.0.post1"}, {"1.0c1", "1.0rc1"}, {"0!1.0", "1.0"}} {
		if c, err := cmp(eq[0], eq[1]); c != 0 || err != nil {
			t.Errorf("%s = %s: got %d, %v", eq[0], eq[1], c, err)
		}
	}
	legacy, _ := pep440.Parse("2013-01-21T20:33:09+0100")
	if !legacy.IsLegacy() {
		t.Error("2013-01-21T20:33:09+0100 is not legacy")
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", " 1.0", "1.0\n", "1 0"} {
		if _, err := pep440.Parse(s); !errors.Is(err, vererr.ErrInvalid) {
			t.Errorf("Parse(%q) error = %v, want ErrInvalid", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	vectors.Fuzz(f, pep440.Parse, "1!1.0b2.post345.dev456+local.7", "1.0-1", "0.9-doduo", "2013-01-21T20:33:09+0100")
}

var pairs = [][2]string{{"1.0.dev1", "1.0a1"}, {"2.31.0", "2.32.3"}, {"1.0.post1", "1.0"}, {"1!0.1", "2.0"}}

func BenchmarkParseCompare(b *testing.B) { vectors.Bench(b, pep440.Parse, pairs) }
func BenchmarkCompare(b *testing.B)      { vectors.BenchCompare(b, pep440.Parse, pairs) }
