package gem_test

import (
	"errors"
	"testing"

	"github.com/stellaops/stellaops/internal/version/gem"
	"github.com/stellaops/stellaops/internal/version/internal/vectors"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

func cmp(a, b string) (int, error) {
	x, err := gem.Parse(a)
	if err != nil {
		return 0, err
	}
	y, err := gem.Parse(b)
	if err != nil {
		return 0, err
	}
	return x.Compare(y), nil
}

// Exceptions are lines with strings that are not gem versions: Gem::Version's pattern wants
// letters after a dot ("1.beta"), and Gem::Version.new("1beta") raises "Malformed version number".
var Exceptions = map[string]string{
	"1 > 1beta":  "\"1beta\" is not a Gem::Version (letters must follow a dot)",
	"1 > 1gamma": "\"1gamma\" is not a Gem::Version (letters must follow a dot)",
}

func TestVectors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want int
	}{
		{"osv-scalibr-semantic/rubygems-versions.txt", 23},
		{"osv-scalibr-semantic/rubygems-versions-generated.txt.gz", 4098},
	} {
		Exceptions := Exceptions
		if tc.file != "osv-scalibr-semantic/rubygems-versions.txt" {
			Exceptions = nil
		}
		t.Run(tc.file, func(t *testing.T) {
			if got := vectors.Run(t, tc.file, cmp, Exceptions); got != tc.want {
				t.Errorf("passed %d lines, want %d", got, tc.want)
			}
		})
	}
}

func TestTraps(t *testing.T) {
	for _, tc := range []struct {
		a    string
		want int
		b    string
	}{
		{"7.0.8.1", 1, "7.0.8"},
		{"7.1.0.rc1", -1, "7.1.0"},
		{"7.1.0.beta1", -1, "7.1.0.rc1"},
		{"1.0.0-rc1", 0, "1.0.0.pre.rc1"},
		{"1.10", 1, "1.9"},
		{"1.0.0", 0, "1"},
	} {
		if got, err := cmp(tc.a, tc.b); err != nil || got != tc.want {
			t.Errorf("%s vs %s = %d, %v; want %d", tc.a, tc.b, got, err, tc.want)
		}
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", "a", "1..0", "1.0.", "1.0-", "v1.0", "1 0", "1.0_1"} {
		if _, err := gem.Parse(s); !errors.Is(err, vererr.ErrInvalid) {
			t.Errorf("Parse(%q) error = %v, want ErrInvalid", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	vectors.Fuzz(f, gem.Parse, "1.0.a10", "7.1.0.rc1", "1.0.0-rc1", "3.10")
}

var pairs = [][2]string{{"7.0.8.1", "7.0.8"}, {"7.1.0.rc1", "7.1.0"}, {"1.10", "1.9"}}

func BenchmarkParseCompare(b *testing.B) { vectors.Bench(b, gem.Parse, pairs) }
