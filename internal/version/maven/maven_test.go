package maven_test

import (
	"errors"
	"testing"

	"github.com/stellaops/stellaops/internal/version/internal/vectors"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
	"github.com/stellaops/stellaops/internal/version/maven"
)

func cmp(a, b string) (int, error) {
	x, err := maven.Parse(a)
	if err != nil {
		return 0, err
	}
	y, err := maven.Parse(b)
	if err != nil {
		return 0, err
	}
	return x.Compare(y), nil
}

// Exceptions are the lines where Maven 3.9's ComparableVersion (CombinationItem: a qualifier
// joined to a following number by "-", MNG-7644) differs from the classic order the library
// implements; osv-scalibr generated its vectors with a 3.9 maven-artifact.
var Exceptions = map[string]map[string]string{
	"osv-scalibr-semantic/maven-versions.txt": {
		"1-1 = 1-ga-1": "Maven 3.9 reads \"ga-1\" as one combination item; the classic order keeps ga as a null qualifier before the sub-list [1] and puts 1-1 after it",
	},
	"osv-scalibr-semantic/maven-versions-generated.txt.gz": {
		"3.5.0.Beta-1 < 3.5.0-Final": "Maven 3.9 reads \"Beta-1\" as one combination item (a pre-release); the classic order reads \".Beta\" then \"-1\" and puts it after 3.5.0",
	},
}

func TestVectors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want int
	}{
		{"osv-scalibr-semantic/maven-versions.txt", 101},
		{"osv-scalibr-semantic/maven-versions-generated.txt.gz", 14751},
	} {
		t.Run(tc.file, func(t *testing.T) {
			if got := vectors.Run(t, tc.file, cmp, Exceptions[tc.file]); got != tc.want {
				t.Errorf("passed %d lines, want %d", got, tc.want)
			}
		})
	}
}

// TestTraps covers the orderings the matcher depends on, with real Maven versions.
func TestTraps(t *testing.T) {
	for _, tc := range []struct {
		a    string
		want int
		b    string
	}{
		{"2.14.1", 1, "2.14.0"},
		{"2.15.0-rc1", -1, "2.15.0"},
		{"2.17.0", 1, "2.17.0-rc2"},
		{"5.3.18", -1, "5.3.20"},
		{"1.0-SNAPSHOT", -1, "1.0"},
		{"1.0.RELEASE", 0, "1.0"},
		{"2.0.0.Final", 0, "2.0.0"},
		{"1.0-sp1", 1, "1.0"},
		{"31.1-jre", -1, "32.0.0-jre"},
	} {
		got, err := cmp(tc.a, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s vs %s = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", "1.0 ", "1.é", "1\t0"} {
		if _, err := maven.Parse(s); !errors.Is(err, vererr.ErrInvalid) {
			t.Errorf("Parse(%q) error = %v, want ErrInvalid", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	vectors.Fuzz(f, maven.Parse, "1.0-alpha-1-SNAPSHOT", "6.1.0rc3", "1-1.foo-bar-1-baz-0.1", "2.0.0.Final")
}

var pairs = [][2]string{{"2.14.1", "2.14.0"}, {"2.15.0-rc1", "2.15.0"}, {"1.0-SNAPSHOT", "1.0"}, {"31.1-jre", "32.0.0-jre"}}

func BenchmarkParseCompare(b *testing.B) { vectors.Bench(b, maven.Parse, pairs) }
func BenchmarkCompare(b *testing.B)      { vectors.BenchCompare(b, maven.Parse, pairs) }
