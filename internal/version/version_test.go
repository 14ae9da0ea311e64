package version_test

import (
	"errors"
	"testing"

	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/version"
	"github.com/stellaops/stellaops/internal/version/internal/vectors"
)

func TestFor(t *testing.T) {
	for eco, v := range map[inventory.Ecosystem][2]string{
		inventory.EcosystemDeb:      {"2.36-9+deb12u4", "2.36-9+deb12u4+b1"},
		inventory.EcosystemRPM:      {"1.0.2k-25.el7_9", "1:1.0.2k-19.el7"},
		inventory.EcosystemAPK:      {"1.30.1-r3", "1.30.1-r10"},
		inventory.EcosystemGo:       {"v0.0.0-20210101000000-abcdef123456", "v0.0.1"},
		inventory.EcosystemNPM:      {"1.2.3-rc.1", "1.2.3"},
		inventory.EcosystemPyPI:     {"1.0.dev1", "1.0a1"},
		inventory.EcosystemMaven:    {"2.15.0-rc1", "2.15.0"},
		inventory.EcosystemCargo:    {"0.0.0-0", "0.1.0"},
		inventory.EcosystemGem:      {"7.1.0.rc1", "7.1.0"},
		inventory.EcosystemNuGet:    {"6.0.0-rc.1", "6.0.0"},
		inventory.EcosystemComposer: {"v5.4.30", "5.4.31"},
		inventory.EcosystemHex:      {"1.14.0-rc.0", "1.14.0"},
		inventory.EcosystemPub:      {"1.0.0", "1.0.0+1"},
	} {
		s, ok := version.For(eco)
		if !ok {
			t.Errorf("For(%q): no scheme", eco)
			continue
		}
		a, err := s.Parse(v[0])
		if err != nil {
			t.Fatalf("%s: %v", s.Name(), err)
		}
		b, err := s.Parse(v[1])
		if err != nil {
			t.Fatalf("%s: %v", s.Name(), err)
		}
		if a.Compare(b) != -1 || b.Compare(a) != 1 || a.String() != v[0] {
			t.Errorf("%s: %s should sort before %s", s.Name(), a, b)
		}
		if _, err := s.Parse(""); !errors.Is(err, version.ErrInvalid) {
			t.Errorf("%s: Parse(\"\") error = %v, want ErrInvalid", s.Name(), err)
		}
	}
	for _, eco := range []inventory.Ecosystem{inventory.EcosystemUnknown, inventory.EcosystemGeneric, "swift"} {
		if _, ok := version.For(eco); ok {
			t.Errorf("For(%q) = ok, want none", eco)
		}
	}
}

func TestCompareAcrossSchemesPanics(t *testing.T) {
	deb, _ := version.For(inventory.EcosystemDeb)
	cargo, _ := version.For(inventory.EcosystemCargo)
	a, _ := deb.Parse("1.0")
	b, _ := cargo.Parse("1.0.0")
	c, _ := version.SemVer().Parse("1.0.0")
	for _, pair := range [][2]version.Version{{a, b}, {b, c}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("comparing %s with %s did not panic", pair[0], pair[1])
				}
			}()
			pair[0].Compare(pair[1])
		}()
	}
}

// TestSemVerVectors runs semver-versions.txt through the OSV SEMVER scheme.
func TestSemVerVectors(t *testing.T) {
	s := version.SemVer()
	cmp := func(a, b string) (int, error) {
		x, err := s.Parse(a)
		if err != nil {
			return 0, err
		}
		y, err := s.Parse(b)
		if err != nil {
			return 0, err
		}
		return x.Compare(y), nil
	}
	exceptions := map[string]string{
		"1.1.3.4.5 = 1.1.3.4.5": "not SemVer 2.0.0 (five numeric components): rejected",
	}
	if got := vectors.Run(t, "osv-scalibr-semantic/semver-versions.txt", cmp, exceptions); got != 85 {
		t.Errorf("passed %d lines, want 85", got)
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		eco  inventory.Ecosystem
		expr string
		in   []string
		out  []string
	}{
		{inventory.EcosystemNPM, "<1.2.3 || >=2.0.0 <2.1.0", []string{"1.2.2", "2.0.5"}, []string{"1.2.3", "2.1.0", "2.0.5-rc.1"}},
		{inventory.EcosystemNPM, ">= 4.0.0, < 4.17.21", []string{"4.17.20"}, []string{"4.17.21", "3.9.9"}},
		{inventory.EcosystemNPM, "^1.2.3", []string{"1.9.0"}, []string{"2.0.0", "1.2.3-beta"}},
		{inventory.EcosystemNPM, "~1.2", []string{"1.2.9"}, []string{"1.3.0"}},
		{inventory.EcosystemNPM, "1.x", []string{"1.0.0", "1.99.0"}, []string{"2.0.0"}},
		{inventory.EcosystemNPM, "1.2.3 - 2.3.4", []string{"2.3.4"}, []string{"2.3.5"}},
		{inventory.EcosystemPyPI, ">=1.0,<1.0.post2", []string{"1.0", "1.0.post1"}, []string{"1.0rc1", "1.0.post2"}},
		{inventory.EcosystemPyPI, "~=1.4.2", []string{"1.4.2", "1.4.9.post1"}, []string{"1.4.1", "1.5.0", "1.5.dev0"}},
		{inventory.EcosystemPyPI, "==1.4.*", []string{"1.4", "1.4.0a1", "1.4.99", "1.4.dev0"}, []string{"1.3.9", "1.5.dev0", "1.40"}},
		{inventory.EcosystemPyPI, "!=1.4.*, >=1.0", []string{"1.3", "1.5"}, []string{"1.4.2", "0.9"}},
		{inventory.EcosystemPyPI, "===1.0", []string{"1.0"}, []string{"1.0.0"}},
		{inventory.EcosystemGem, "~> 2.2", []string{"2.2", "2.9.9"}, []string{"3.0", "3.0.a", "2.1"}},
		{inventory.EcosystemGem, "~> 1.4.2", []string{"1.4.2", "1.4.99"}, []string{"1.5.0", "1.4.1"}},
		{inventory.EcosystemGem, ">= 6.0.0, < 6.1.7.1 || >= 7.0.0, < 7.0.4.1", []string{"6.1.7", "7.0.4"}, []string{"6.1.7.1", "7.0.4.1"}},
		{inventory.EcosystemMaven, "[1.0,2.0)", []string{"1.0", "1.9.9"}, []string{"2.0", "0.9"}},
		{inventory.EcosystemMaven, "(,1.0],[1.2,)", []string{"0.1", "1.0", "1.2", "5"}, []string{"1.1"}},
		{inventory.EcosystemMaven, "[1.5]", []string{"1.5", "1.5.0"}, []string{"1.5.1"}},
		{inventory.EcosystemMaven, ">= 2.0.0, < 2.15.0", []string{"2.14.1"}, []string{"2.15.0", "1.9"}},
		{inventory.EcosystemDeb, "< 2.36-9+deb12u4", []string{"2.36-9+deb12u3+b1"}, []string{"2.36-9+deb12u4", "2.36-9+deb12u4+b1"}},
		{inventory.EcosystemRPM, "< 1:1.0.2k-19.el7", []string{"1.0.2k-25.el7_9"}, []string{"1:1.0.2k-19.el7"}},
		{inventory.EcosystemAPK, "<1.30.1-r10", []string{"1.30.1-r3"}, []string{"1.30.1-r10"}},
		{inventory.EcosystemGo, ">=0.0.0-20200101000000-000000000000, <0.1.0", []string{"v0.0.0-20210101000000-abcdef123456"}, []string{"v0.1.0"}},
		{inventory.EcosystemComposer, ">=5.0,<5.4.31", []string{"v5.4.30"}, []string{"5.4.31"}},
		{inventory.EcosystemNuGet, "< 13.0.1", []string{"12.0.3"}, []string{"13.0.1"}},
	} {
		s, _ := version.For(tc.eco)
		r, err := version.ParseRange(s, tc.expr)
		if err != nil {
			t.Errorf("%s %q: %v", tc.eco, tc.expr, err)
			continue
		}
		if r.String() != tc.expr {
			t.Errorf("String() = %q", r.String())
		}
		for _, want := range []struct {
			vs []string
			in bool
		}{{tc.in, true}, {tc.out, false}} {
			for _, vs := range want.vs {
				v, err := s.Parse(vs)
				if err != nil {
					t.Fatalf("%s: %v", tc.eco, err)
				}
				if got := r.Contains(v); got != want.in {
					t.Errorf("%s %q contains %s = %v", tc.eco, tc.expr, vs, got)
				}
			}
		}
	}
}

func TestParseRangeInvalid(t *testing.T) {
	for _, tc := range []struct {
		eco  inventory.Ecosystem
		expr string
	}{
		{inventory.EcosystemNPM, "1.x.5"},
		{inventory.EcosystemPyPI, ">= "},
		{inventory.EcosystemPyPI, "~=1"},
		{inventory.EcosystemMaven, "[1.0,2.0"},
		{inventory.EcosystemMaven, "(1.0)"},
		{inventory.EcosystemDeb, "< a1"},
		{inventory.EcosystemDeb, "||"},
	} {
		s, _ := version.For(tc.eco)
		if _, err := version.ParseRange(s, tc.expr); !errors.Is(err, version.ErrInvalid) {
			t.Errorf("%s %q: error = %v, want ErrInvalid", tc.eco, tc.expr, err)
		}
	}
}
