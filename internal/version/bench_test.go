package version_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/version"
	"github.com/stellaops/stellaops/internal/version/internal/vectors"
)

var allEcosystems = []inventory.Ecosystem{
	inventory.EcosystemDeb, inventory.EcosystemRPM, inventory.EcosystemAPK, inventory.EcosystemGo,
	inventory.EcosystemNPM, inventory.EcosystemPyPI, inventory.EcosystemMaven, inventory.EcosystemCargo,
	inventory.EcosystemGem, inventory.EcosystemNuGet, inventory.EcosystemComposer, inventory.EcosystemHex,
	inventory.EcosystemPub,
}

// TestHugeInputs checks that megabyte inputs are rejected quickly, never parsed quadratically.
func TestHugeInputs(t *testing.T) {
	inputs := []string{strings.Repeat("9", 1_000_000), "1." + strings.Repeat("0", 1<<20), strings.Repeat("1.", 1<<19) + "1"}
	start := time.Now()
	for _, eco := range allEcosystems {
		s, _ := version.For(eco)
		for _, in := range inputs {
			if _, err := s.Parse(in); !errors.Is(err, version.ErrInvalid) {
				t.Errorf("%s: Parse(%d bytes) error = %v, want ErrInvalid", s.Name(), len(in), err)
			}
			if _, err := version.ParseRange(s, "<"+in); !errors.Is(err, version.ErrInvalid) {
				t.Errorf("%s: ParseRange(%d bytes) error = %v, want ErrInvalid", s.Name(), len(in), err)
			}
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("huge inputs took %v", d)
	}
}

// workload is the matcher's shape: about 5,000 installed versions, each parsed and tested against a
// few ranges. The versions come from the vector files.
func workload(b *testing.B, eco inventory.Ecosystem, file string, ranges []string) {
	s, _ := version.For(eco)
	var installed []string
	seen := map[string]bool{}
	for _, l := range vectors.Read(b, file) {
		for _, f := range []string{vectors.Fields(l.Text)[0], vectors.Fields(l.Text)[2]} {
			if !seen[f] {
				if _, err := s.Parse(f); err == nil {
					seen[f] = true
					installed = append(installed, f)
				}
			}
		}
	}
	for len(installed) < 5000 {
		installed = append(installed, installed...)
	}
	installed = installed[:5000]
	var rs []version.Range
	for _, expr := range ranges {
		r, err := version.ParseRange(s, expr)
		if err != nil {
			b.Fatal(err)
		}
		rs = append(rs, r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, in := range installed {
			v, err := s.Parse(in)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range rs {
				_ = r.Contains(v)
			}
		}
	}
}

// BenchmarkMatcher5000 parses 5,000 versions and tests each against three ranges (one op = all).
func BenchmarkMatcher5000(b *testing.B) {
	for _, tc := range []struct {
		eco    inventory.Ecosystem
		file   string
		ranges []string
	}{
		{inventory.EcosystemDeb, "osv-scalibr-semantic/debian-versions-generated.txt.gz", []string{"< 2.36-9+deb12u4", ">= 1:1.0, < 1:2.0", "< 7.88.1-10+deb12u5"}},
		{inventory.EcosystemRPM, "rpm-evr-almalinux-oracle.txt", []string{"< 5.14.0-570.17.1.el9_6", "< 1:7.1.8.1-12.el9_4.alma.1", ">= 4.18.0, < 4.18.0-553.16.1.el8_10"}},
		{inventory.EcosystemAPK, "osv-scalibr-semantic/alpine-versions-generated.txt.gz", []string{"< 1.36.1-r2", "< 3.1.4-r0", ">= 2.0, < 2.4.58-r0"}},
		{inventory.EcosystemNPM, "osv-scalibr-semantic/semver-versions.txt", []string{"<1.2.3 || >=2.0.0 <2.1.0", "^0.10.0", ">= 1.0.0, < 1.2.3"}},
		{inventory.EcosystemPyPI, "osv-scalibr-semantic/pypi-versions-generated.txt.gz", []string{"<2.32.0", "~=1.4.2", ">=1.0,<1.0.post2"}},
		{inventory.EcosystemMaven, "osv-scalibr-semantic/maven-versions-generated.txt.gz", []string{"[2.0,2.15.0)", "< 5.3.20", ">= 2.0.0, < 2.17.1"}},
		{inventory.EcosystemGo, "osv-scalibr-semantic/semver-versions.txt", []string{"< 1.2.3", ">= 0.0.0-0, < 0.10.0", "< 2.0.0"}},
		{inventory.EcosystemGem, "osv-scalibr-semantic/rubygems-versions-generated.txt.gz", []string{"< 6.1.7.1", "~> 2.2", ">= 7.0.0, < 7.0.4.1"}},
		{inventory.EcosystemComposer, "osv-scalibr-semantic/packagist-versions-generated.txt.gz", []string{"< 5.4.31", ">=2.0,<2.3.1", "<1.0"}},
	} {
		b.Run(string(tc.eco), func(b *testing.B) { workload(b, tc.eco, tc.file, tc.ranges) })
	}
}
