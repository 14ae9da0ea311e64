package nvd

import (
	"cmp"
	"slices"
	"strings"

	"github.com/stellaops/stellaops/internal/advisory"
)

// affectedOf maps the vulnerable CPE matches of the configurations into one Affected per
// "<vendor>:<product>", ecosystem "cpe", no distro: the key the matcher's CPE path looks up.
// Each match becomes one ECOSYSTEM range (or an exact version); the matcher ORs an entry's
// ranges, so one entry per product holds them all and its fixed versions are all offered.
//
// What the model cannot say is approximated on the side of reporting:
//   - AND configurations ("product X running on platform Y"): the platform condition is dropped,
//     the vulnerable product is listed alone;
//   - versionStartExcluding X: becomes introduced X, so version X itself is reported too;
//   - CPE fields after version and update (edition, target software, …) are ignored.
//
// Negated nodes and configurations, and non-vulnerable matches (platforms), are skipped.
func affectedOf(cfgs []configuration) []advisory.Affected {
	byPkg := map[string]*advisory.Affected{}
	for _, cfg := range cfgs {
		if cfg.Negate {
			continue
		}
		for _, n := range cfg.Nodes {
			if n.Negate {
				continue
			}
			for _, m := range n.CPEMatch {
				if !m.Vulnerable {
					continue
				}
				pkg, ver, ok := cpeParts(m.Criteria)
				if !ok {
					continue
				}
				af := byPkg[pkg]
				if af == nil {
					af = &advisory.Affected{Ecosystem: EcosystemCPE, Package: pkg, Source: ProvenanceName}
					byPkg[pkg] = af
				}
				addMatch(af, m, ver)
			}
		}
	}
	out := make([]advisory.Affected, 0, len(byPkg))
	for _, af := range byPkg {
		slices.SortFunc(af.Ranges, compareRange)
		af.Ranges = slices.CompactFunc(af.Ranges, func(x, y advisory.Range) bool { return compareRange(x, y) == 0 })
		out = append(out, *af)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// addMatch adds one cpeMatch: its version bounds as a range, else its exact version, else every
// version (introduced 0).
func addMatch(af *advisory.Affected, m cpeMatch, ver string) {
	start := cmp.Or(m.VersionStartIncluding, m.VersionStartExcluding)
	if start == "" && m.VersionEndExcluding == "" && m.VersionEndIncluding == "" {
		if ver != "" {
			af.Versions = append(af.Versions, ver)
			return
		}
		start = "0"
	}
	r := advisory.Range{Type: advisory.RangeEcosystem, Events: []advisory.Event{{Introduced: cmp.Or(start, "0")}}}
	switch {
	case m.VersionEndExcluding != "":
		r.Events = append(r.Events, advisory.Event{Fixed: m.VersionEndExcluding})
	case m.VersionEndIncluding != "":
		r.Events = append(r.Events, advisory.Event{LastAffected: m.VersionEndIncluding})
	}
	af.Ranges = append(af.Ranges, r)
}

func compareRange(x, y advisory.Range) int {
	if c := cmp.Compare(len(x.Events), len(y.Events)); c != 0 {
		return c
	}
	for i := range x.Events {
		a, b := x.Events[i], y.Events[i]
		if c := cmp.Or(cmp.Compare(a.Introduced, b.Introduced), cmp.Compare(a.Fixed, b.Fixed),
			cmp.Compare(a.LastAffected, b.LastAffected), cmp.Compare(a.Limit, b.Limit)); c != 0 {
			return c
		}
	}
	return 0
}

// cpeParts reads a CPE 2.3 formatted string: the "<vendor>:<product>" key (as written, escapes
// kept, since the matcher keys components' CPEs the same way) and the version, "" for any ("*")
// or not applicable ("-"). A real update ("beta9", "rc1") is appended as "<version>-<update>",
// the way such releases spell their versions ("2.0-beta9").
func cpeParts(s string) (pkg, ver string, ok bool) {
	f := splitEscaped(s)
	if len(f) < 6 || f[0] != "cpe" || f[1] != "2.3" || f[3] == "" || f[4] == "" || f[3] == "*" || f[4] == "*" {
		return "", "", false
	}
	pkg = f[3] + ":" + f[4]
	ver = unescape(f[5])
	if ver == "*" || ver == "-" {
		return pkg, "", true
	}
	if len(f) > 6 {
		if u := unescape(f[6]); u != "*" && u != "-" && u != "" {
			ver += "-" + u
		}
	}
	return pkg, ver, true
}

// splitEscaped splits on colons not escaped by a backslash.
func splitEscaped(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ':':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescape drops the CPE 2.3 quoting backslashes ("1\.0" is "1.0").
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
