package composer_test

import (
	"errors"
	"testing"

	"github.com/stellaops/stellaops/internal/version/composer"
	"github.com/stellaops/stellaops/internal/version/internal/vectors"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

func cmp(a, b string) (int, error) {
	x, err := composer.Parse(a)
	if err != nil {
		return 0, err
	}
	y, err := composer.Parse(b)
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
		{"osv-scalibr-semantic/packagist-versions.txt", 95},
		{"osv-scalibr-semantic/packagist-versions-generated.txt.gz", 10630},
	} {
		t.Run(tc.file, func(t *testing.T) {
			if got := vectors.Run(t, tc.file, cmp, nil); got != tc.want {
				t.Errorf("passed %d lines, want %d", got, tc.want)
			}
		})
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", "1.0 ", "...", "1.é"} {
		if _, err := composer.Parse(s); !errors.Is(err, vererr.ErrInvalid) {
			t.Errorf("Parse(%q) error = %v, want ErrInvalid", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	vectors.Fuzz(f, composer.Parse, "1.25.0-beta2.1", "v1.0pl1", "dev-foo", "1.2.3.#.p3", "4.3-2RC1")
}

var pairs = [][2]string{{"1.25.0", "1.26.0"}, {"v1.0pl1", "1.0RC1"}, {"5.4.31", "5.4.30"}}

func BenchmarkParseCompare(b *testing.B) { vectors.Bench(b, composer.Parse, pairs) }
