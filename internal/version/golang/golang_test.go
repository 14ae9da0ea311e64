package golang_test

import (
	"errors"
	"testing"

	"github.com/stellaops/stellaops/internal/version/golang"
	"github.com/stellaops/stellaops/internal/version/internal/vectors"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

func cmp(a, b string) (int, error) {
	x, err := golang.Parse(a)
	if err != nil {
		return 0, err
	}
	y, err := golang.Parse(b)
	if err != nil {
		return 0, err
	}
	return x.Compare(y), nil
}

func TestVectors(t *testing.T) {
	exceptions := map[string]string{
		"1.1.3.4.5 = 1.1.3.4.5": "not a Go module version (five numeric components): x/mod/semver rejects it",
	}
	if got := vectors.Run(t, "osv-scalibr-semantic/semver-versions.txt", cmp, exceptions); got != 85 {
		t.Errorf("passed %d lines, want 85", got)
	}
}

// TestTraps covers the Go orderings the matcher depends on.
func TestTraps(t *testing.T) {
	for _, tc := range []struct {
		a    string
		want int
		b    string
	}{
		{"v0.0.0-20210101000000-abcdef123456", -1, "v0.0.1"},
		{"v0.0.0-20210101000000-abcdef123456", -1, "v0.0.0-20220101000000-123456abcdef"},
		{"v1.2.4-0.20210101000000-abcdef123456", 1, "v1.2.3"}, // pseudo-version after v1.2.3
		{"v1.2.4-0.20210101000000-abcdef123456", -1, "v1.2.4"},
		{"v2.0.0+incompatible", 0, "v2.0.0"},
		{"v2.0.0+incompatible", 1, "v1.9.9"},
		{"0.0.0-20210101000000-abcdef123456", 0, "v0.0.0-20210101000000-abcdef123456"}, // OSV form
		{"1.21.0", 1, "1.20.14"},
		{"v1.22.0-rc.1", -1, "v1.22.0"},
		{"v1", 0, "v1.0.0"},
	} {
		got, err := cmp(tc.a, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s vs %s = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	v, _ := golang.Parse("v0.0.0-20210101000000-abcdef123456")
	w, _ := golang.Parse("v1.2.4-0.20210101000000-abcdef123456")
	r, _ := golang.Parse("v1.2.4-rc.1")
	if !v.IsPseudo() || !w.IsPseudo() || r.IsPseudo() {
		t.Errorf("IsPseudo = %v %v %v", v.IsPseudo(), w.IsPseudo(), r.IsPseudo())
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", "vv1.0.0", "v1.2-pre", "v01.0.0", "go1.21", "v1.0.0.0", "V1.0.0"} {
		if _, err := golang.Parse(s); !errors.Is(err, vererr.ErrInvalid) {
			t.Errorf("Parse(%q) error = %v, want ErrInvalid", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	vectors.Fuzz(f, golang.Parse, "v0.0.0-20210101000000-abcdef123456", "v2.0.0+incompatible", "1.21.0", "v1")
}

var pairs = [][2]string{
	{"v0.0.0-20210101000000-abcdef123456", "v0.0.1"},
	{"v2.0.0+incompatible", "v1.9.9"},
	{"v1.22.0-rc.1", "v1.22.0"},
	{"1.21.0", "1.20.14"},
}

func BenchmarkParseCompare(b *testing.B) { vectors.Bench(b, golang.Parse, pairs) }
func BenchmarkCompare(b *testing.B)      { vectors.BenchCompare(b, golang.Parse, pairs) }
