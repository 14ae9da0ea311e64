package nvd_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/concelier/connector/nvd"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/match"
)

// TestMatcherCPEPath checks the mapping against the matcher itself: the fixture's advisories,
// frozen in a snapshot, found through components that carry only CPEs.
func TestMatcherCPEPath(t *testing.T) {
	var advs []*advisory.Advisory
	for i := range 3 {
		b, err := os.ReadFile(filepath.Join("testdata/pages", "page-"+strconv.Itoa(i)+".json"))
		if err != nil {
			t.Fatal(err)
		}
		as, err := nvd.MapPage(b)
		if err != nil {
			t.Fatal(err)
		}
		advs = append(advs, as...)
	}
	p := filepath.Join(t.TempDir(), "s.db")
	if _, err := snapshot.Build(context.Background(), p, advs, nil, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	s, err := snapshot.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	comp := func(vendor, product, ver string) inventory.Component {
		return inventory.Component{Name: product, Version: ver, CPEs: []string{"cpe:2.3:a:" + vendor + ":" + product + ":" + ver + ":*:*:*:*:*:*:*"}}
	}
	for _, tc := range []struct {
		c     inventory.Component
		want  string // CVE, or "" for no finding
		fixed string
	}{
		{comp("apache", "log4j", "2.14.1"), "CVE-2021-44228", "2.15.0"},
		{comp("apache", "log4j", "2.3.0"), "CVE-2021-44228", "2.3.1"},
		// Listed exactly; the fix offered is the lowest fixed version above it.
		{comp("apache", "log4j", "2.0-beta9"), "CVE-2021-44228", "2.3.1"},
		{comp("apache", "log4j", "2.15.0"), "", ""},
		{comp("apache", "log4j", "2.12.2"), "", ""},
		{comp("apache", "log4j", "1.2.17"), "", ""},
		{comp("openssl", "openssl", "1.0.1f"), "CVE-2014-0160", ""},
		{comp("openssl", "openssl", "1.0.1g"), "", ""},
		{comp("tukaani", "xz", "5.6.1"), "CVE-2024-3094", ""},
		{comp("tukaani", "xz", "5.4.6"), "", ""},
	} {
		inv := &inventory.Inventory{Components: []inventory.Component{tc.c}}
		inv.Finalize()
		res, err := match.Match(context.Background(), s, inv, match.Config{CPE: true})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		fixed := ""
		for _, f := range res.Findings {
			ids = append(ids, f.ID)
			fixed = f.FixedVersion
			if f.MatchMethod != match.MethodCPE || f.Severity == advisory.LevelUnknown {
				t.Errorf("%s %s: %+v", tc.c.Name, tc.c.Version, f)
			}
		}
		switch {
		case tc.want == "" && len(ids) > 0:
			t.Errorf("%s %s: unexpected %v", tc.c.Name, tc.c.Version, ids)
		case tc.want != "" && (!slices.Equal(ids, []string{tc.want}) || fixed != tc.fixed):
			t.Errorf("%s %s: got %v fixed %q, want %s fixed %q", tc.c.Name, tc.c.Version, ids, fixed, tc.want, tc.fixed)
		}
	}
}
