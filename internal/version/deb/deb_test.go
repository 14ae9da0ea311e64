package deb_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/version/deb"
	"github.com/stellaops/stellaops/internal/version/internal/vectors"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

func cmp(a, b string) (int, error) {
	x, err := deb.Parse(a)
	if err != nil {
		return 0, err
	}
	y, err := deb.Parse(b)
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
		{"osv-scalibr-semantic/debian-versions.txt", 30},
		{"osv-scalibr-semantic/debian-versions-generated.txt.gz", 14442},
	} {
		t.Run(tc.file, func(t *testing.T) {
			if got := vectors.Run(t, tc.file, cmp, nil); got != tc.want {
				t.Errorf("passed %d lines, want %d", got, tc.want)
			}
		})
	}
}

// TestTraps covers the orderings the matcher depends on, with real Debian version strings.
func TestTraps(t *testing.T) {
	for _, tc := range []struct {
		a    string
		want int
		b    string
	}{
		{"2.36-9+deb12u4", -1, "2.36-9+deb12u4+b1"}, // binNMU is newer than its source version
		{"2.36-9+deb12u3+b1", -1, "2.36-9+deb12u4"}, // but older than the next security upload
		{"1:2.38.1-5+deb12u3", 1, "2.39-1"},         // any epoch beats no epoch
		{"1:2.38.1-5+deb12u3", 0, "1:2.38.1-5+deb12u3"},
		{"0:2.38.1-5", 0, "2.38.1-5"},
		{"2.38.1-5~bpo11+1", -1, "2.38.1-5"}, // backports sort before the release they come from
		{"2.38.1-4", -1, "2.38.1-5~bpo11+1"},
		{"1.0~rc1-1", -1, "1.0-1"},
		{"1.0~rc1-1", 1, "1.0~beta2-1"},
		{"1.0~~", -1, "1.0~"},
		{"1.0a", -1, "1.0+"}, // letters before non-letters
		{"1.0", -1, "1.0a"},
		{"7.88.1-10+deb12u5", -1, "7.88.1-10+deb12u12"},
		{"3.0.11-1~deb12u2", 1, "3.0.11-1~deb12u1"},
		{"3.0.11-1~deb12u2", -1, "3.0.11-1"},
		{"1.2.3-1ubuntu0.22.04.1", -1, "1.2.3-1ubuntu0.22.04.2"},
		{"000000000000000000000000001.0", 0, "1.0"},
		{"1.99999999999999999999999", -1, "1.100000000000000000000000"}, // digit runs of any length
	} {
		got, err := cmp(tc.a, tc.b)
		if err != nil {
			t.Fatalf("%s vs %s: %v", tc.a, tc.b, err)
		}
		if got != tc.want {
			t.Errorf("%s vs %s = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{
		"", "a1.0", "1.0-", ":1.0", "a:1.0", "1:", "1.0_1", "1.0 ", " 1.0", "1.0-1_2", "1:2:3-a_b",
		"1.0@", "1.ä", "1:1.0-", "-1", "1.0-1:2", "12345678901:1.0",
		strings.Repeat("1", 2000),
	} {
		if _, err := deb.Parse(s); !errors.Is(err, vererr.ErrInvalid) {
			t.Errorf("Parse(%q) error = %v, want ErrInvalid", s, err)
		}
	}
	for _, s := range []string{"1:2:3", "1.0-1-2", "0", "1.0+dfsg-1~exp1", "1:0", "1." + strings.Repeat("0", 40) + "9", "1." + strings.Repeat("9", 40)} {
		if _, err := deb.Parse(s); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	vectors.Fuzz(f, deb.Parse, "1:2.38.1-5+deb12u3", "2.36-9+deb12u4+b1", "1.0~rc1", "0", "1.0-1~bpo11+1")
}

var pairs = [][2]string{
	{"2.36-9+deb12u4", "2.36-9+deb12u4+b1"},
	{"1:2.38.1-5+deb12u3", "1:2.38.1-5+deb12u4"},
	{"3.0.11-1~deb12u2", "3.0.15-1~deb12u1"},
	{"7.88.1-10+deb12u5", "7.88.1-10+deb12u12"},
}

func BenchmarkParseCompare(b *testing.B) { vectors.Bench(b, deb.Parse, pairs) }
func BenchmarkCompare(b *testing.B)      { vectors.BenchCompare(b, deb.Parse, pairs) }
