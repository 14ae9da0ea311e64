package semver_test

import (
	"errors"
	"testing"

	"github.com/stellaops/stellaops/internal/version/internal/vectors"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
	"github.com/stellaops/stellaops/internal/version/semver"
)

func cmp(a, b string) (int, error) {
	x, err := semver.Parse(a)
	if err != nil {
		return 0, err
	}
	y, err := semver.Parse(b)
	if err != nil {
		return 0, err
	}
	return x.Compare(y), nil
}

// Exceptions lists the lines of semver-versions.txt that are not SemVer 2.0.0.
var Exceptions = map[string]string{
	"1.1.3.4.5 = 1.1.3.4.5": "not SemVer 2.0.0 (five numeric components); osv-scalibr's semver-like parser folds the extra components into build metadata, we reject the version",
}

func TestVectors(t *testing.T) {
	if got := vectors.Run(t, "osv-scalibr-semantic/semver-versions.txt", cmp, Exceptions); got != 85 {
		t.Errorf("passed %d lines, want 85", got)
	}
}

func TestSemVerSpec(t *testing.T) {
	// The precedence example of semver.org §11.
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1"}
	for i := 1; i < len(order); i++ {
		if c, _ := cmp(order[i-1], order[i]); c != -1 {
			t.Errorf("%s < %s: got %d", order[i-1], order[i], c)
		}
	}
	for _, eq := range [][2]string{{"1.0.0+build.1", "1.0.0+build.2"}, {"v1.2.3", "1.2.3"}, {"1", "1.0.0"}, {"1.2", "v1.2.0"}} {
		if c, err := cmp(eq[0], eq[1]); c != 0 || err != nil {
			t.Errorf("%s = %s: got %d, %v", eq[0], eq[1], c, err)
		}
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", "01.0.0", "1.0.0-01", "1.0.0-", "1.0.0+", "1.0.0-a..b", "1.0.0-a_b", "1.2-rc1",
		"1.2.3.4", "vv1.0.0", "V1.0.0", " 1.0.0", "1.0.0 ", "1.-1.0", "a.b.c", "1..0", "=1.0.0"} {
		if _, err := semver.Parse(s); !errors.Is(err, vererr.ErrInvalid) {
			t.Errorf("Parse(%q) error = %v, want ErrInvalid", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	vectors.Fuzz(f, semver.Parse, "1.0.0-alpha.1+build.5", "v2.7.2+asdf", "1.2.3-a.b.c.10.d.5", "1", "0.0.0-0")
}

var pairs = [][2]string{
	{"1.0.0-alpha.1", "1.0.0-alpha.beta"},
	{"2.7.2+asdf", "3.0.0"},
	{"0.10.0", "0.9.0"},
	{"1.2.3-rc.1", "1.2.3"},
}

func BenchmarkParseCompare(b *testing.B) { vectors.Bench(b, semver.Parse, pairs) }
func BenchmarkCompare(b *testing.B)      { vectors.BenchCompare(b, semver.Parse, pairs) }
