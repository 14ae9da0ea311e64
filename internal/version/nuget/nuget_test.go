package nuget_test

import (
	"errors"
	"testing"

	"github.com/stellaops/stellaops/internal/version/internal/vectors"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
	"github.com/stellaops/stellaops/internal/version/nuget"
)

func cmp(a, b string) (int, error) {
	x, err := nuget.Parse(a)
	if err != nil {
		return 0, err
	}
	y, err := nuget.Parse(b)
	if err != nil {
		return 0, err
	}
	return x.Compare(y), nil
}

func TestVectors(t *testing.T) {
	if got := vectors.Run(t, "osv-scalibr-semantic/nuget-versions.txt", cmp, nil); got != 35 {
		t.Errorf("passed %d lines, want 35", got)
	}
}

func TestTraps(t *testing.T) {
	for _, tc := range []struct {
		a    string
		want int
		b    string
	}{
		{"13.0.1", -1, "13.0.3"},
		{"6.0.0-preview.7.21377.19", -1, "6.0.0-rc.1.21451.13"},
		{"6.0.0-rc.1.21451.13", -1, "6.0.0"},
		{"4.7.2.0", 0, "4.7.2"},
		{"1.0.0-Beta", 0, "1.0.0-beta"},
	} {
		if got, err := cmp(tc.a, tc.b); err != nil || got != tc.want {
			t.Errorf("%s vs %s = %d, %v; want %d", tc.a, tc.b, got, err, tc.want)
		}
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", "1.0.0.0.0", "1.0-", "1.0+", "v1.0", "1..0", "1.0-a_b", "a"} {
		if _, err := nuget.Parse(s); !errors.Is(err, vererr.ErrInvalid) {
			t.Errorf("Parse(%q) error = %v, want ErrInvalid", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	vectors.Fuzz(f, nuget.Parse, "1.0.0.1-1.2.A+A", "6.0.0-preview.7.21377.19", "1.0.01")
}

var pairs = [][2]string{{"13.0.1", "13.0.3"}, {"6.0.0-preview.7.21377.19", "6.0.0-rc.1.21451.13"}, {"4.7.2.0", "4.7.2"}}

func BenchmarkParseCompare(b *testing.B) { vectors.Bench(b, nuget.Parse, pairs) }
