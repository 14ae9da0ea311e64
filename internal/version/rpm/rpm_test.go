package rpm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/version/internal/vectors"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
	"github.com/stellaops/stellaops/internal/version/rpm"
)

func cmp(a, b string) (int, error) {
	x, err := rpm.Parse(a)
	if err != nil {
		return 0, err
	}
	y, err := rpm.Parse(b)
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
		{"rpm-rpmvercmp.txt", 69},
		{"rpm-evr-almalinux-oracle.txt", 6000},
		{"osv-scalibr-semantic/redhat-versions.txt", 165},
	} {
		t.Run(tc.file, func(t *testing.T) {
			if got := vectors.Run(t, tc.file, cmp, nil); got != tc.want {
				t.Errorf("passed %d lines, want %d", got, tc.want)
			}
		})
	}
}

// TestVercmpOnly checks the rpmvercmp vectors against Vercmp directly, as rpm's own test does.
func TestVercmpOnly(t *testing.T) {
	c := func(a, b string) (int, error) { return rpm.Vercmp(a, b), nil }
	if got := vectors.Run(t, "rpm-rpmvercmp.txt", c, nil); got != 69 {
		t.Errorf("passed %d lines, want 69", got)
	}
}

// TestTraps covers the orderings the matcher depends on, with real RHEL/AlmaLinux EVRs.
func TestTraps(t *testing.T) {
	for _, tc := range []struct {
		a    string
		want int
		b    string
	}{
		{"1:1.0.2k-19.el7", 1, "1.0.2k-25.el7_9"}, // the epoch wins over a newer release
		{"1:1.0.2k-19.el7", -1, "1:1.0.2k-25.el7_9"},
		{"0:1.0.2k-25.el7_9", 0, "1.0.2k-25.el7_9"},
		{"1.0.2k-25.el7_9", 1, "1.0.2k-25.el7"},
		{"3.5.22-7.module_el9.8.0+272+38177c5f", 1, "3.2.33-167.el9_8"},
		{"8.0.36-1.module+el8.9.0+21119+b5d4c5cf", -1, "8.0.37-1.module+el8.10.0+21900+b04f8e7c"},
		{"8.0.36-1.module+el8.9.0+21119+b5d4c5cf", -1, "8.0.36-1.module+el8.10.0+21119+b5d4c5cf"},
		{"5.14.0-570.17.1.el9_6", -1, "5.14.0-570.42.2.el9_6"},
		{"4.18.0-553.16.1.el8_10", -1, "4.18.0-553.34.1.el8_10"},
		{"1.2.3-1.el9_10", 1, "1.2.3-1.el9_9"}, // el9_10 is numerically after el9_9
		{"1.2.3-1.el9_10", 1, "1.2.3-1.el9"},
		{"2.0~rc1-1.el9", -1, "2.0-1.el9"},
		{"2.0^20230101git1-1", 1, "2.0-1"},
		{"2.0^20230101git1-1", -1, "2.0.1-1"},
		{"1.0", -1, "1.0-1"}, // our total order: a missing release sorts first
	} {
		got, err := cmp(tc.a, tc.b)
		if err != nil {
			t.Fatalf("%s vs %s: %v", tc.a, tc.b, err)
		}
		if got != tc.want {
			t.Errorf("%s vs %s = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	v, err := rpm.Parse("2:1.14.4-1.module_el8.10.0+3862+c5a22a8d")
	if err != nil {
		t.Fatal(err)
	}
	rel, ok := v.Release()
	if v.Epoch() != "2" || v.Version() != "1.14.4" || rel != "1.module_el8.10.0+3862+c5a22a8d" || !ok {
		t.Errorf("split = %q %q %q %v", v.Epoch(), v.Version(), rel, ok)
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", " 1.0", "1.0 -1", "1:", "-1", "1\x00", strings.Repeat("1", 2000)} {
		if _, err := rpm.Parse(s); !errors.Is(err, vererr.ErrInvalid) {
			t.Errorf("Parse(%q) error = %v, want ErrInvalid", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	vectors.Fuzz(f, rpm.Parse, "1:1.0.2k-19.el7", "1.0~rc1^git1", "3.5.22-7.module_el9.8.0+272+38177c5f", "a:1", "+2-:")
}

var pairs = [][2]string{
	{"1:1.0.2k-19.el7", "1.0.2k-25.el7_9"},
	{"5.14.0-570.17.1.el9_6", "5.14.0-570.42.2.el9_6"},
	{"8.0.36-1.module+el8.9.0+21119+b5d4c5cf", "8.0.37-1.module+el8.10.0+21900+b04f8e7c"},
	{"2:1.14.4-1.module_el8.10.0+3862+c5a22a8d", "2:1.14.5-4.module_el8.10.0+4016+efd18bf8"},
}

func BenchmarkParseCompare(b *testing.B) { vectors.Bench(b, rpm.Parse, pairs) }
func BenchmarkCompare(b *testing.B)      { vectors.BenchCompare(b, rpm.Parse, pairs) }
