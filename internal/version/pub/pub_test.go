package pub_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/version/internal/vectors"
	"github.com/stellaops/stellaops/internal/version/pub"
)

func cmp(a, b string) (int, error) {
	x, err := pub.Parse(a)
	if err != nil {
		return 0, err
	}
	y, err := pub.Parse(b)
	if err != nil {
		return 0, err
	}
	return x.Compare(y), nil
}

func TestVectors(t *testing.T) {
	exceptions := map[string]string{
		"1.1.3.4.5 = 1.1.3.4.5": "not a pub version (five numeric components): pub_semver's Version.parse rejects it",
	}
	if got := vectors.Run(t, "osv-scalibr-semantic/pub-versions.txt", cmp, exceptions); got != 99 {
		t.Errorf("passed %d lines, want 99", got)
	}
}

func FuzzParse(f *testing.F) {
	vectors.Fuzz(f, pub.Parse, "1.2.3+a1", "1.0.0-pre+build", "2.7.2+asdf")
}

var pairs = [][2]string{{"1.2.3+1", "1.2.3+a"}, {"1.0.0-pre", "1.0.0-pre+build"}, {"3.0.0", "2.7.2+asdf"}}

func BenchmarkParseCompare(b *testing.B) { vectors.Bench(b, pub.Parse, pairs) }
