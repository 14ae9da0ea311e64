package match

import (
	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/inventory"
)

// summary is an advisory's summary with its CVSS ratings picked out, read once per scan.
type summary struct {
	*snapshot.Summary
	cvss []advisory.Severity
}

func (m *matcher) summary(id string) (*summary, error) {
	if a, ok := m.sums[id]; ok {
		return a, nil
	}
	s, err := m.src.Summary(id)
	if err != nil {
		return nil, err
	}
	a := &summary{Summary: s}
	for _, sev := range s.Severities {
		if sev.Type != "" {
			a.cvss = append(a.cvss, sev)
		}
	}
	m.sums[id] = a
	return a, nil
}

func (m *matcher) finding(ref ComponentRef, key, layer string, t target, e *snapshot.Entry, v verdict) (Finding, error) {
	a, err := m.summary(e.Advisory)
	if err != nil {
		return Finding{}, err
	}
	f := Finding{
		ID:               a.ID,
		Aliases:          a.Aliases,
		Summary:          a.Title,
		Component:        ref,
		MatchedPackage:   t.name,
		InstalledVersion: t.installed,
		FixedVersions:    v.fixed,
		FixedVersion:     v.next,
		MatchMethod:      t.method,
		Distro:           t.distro,
		Layer:            layer,
		DataSource:       e.Source,
		Snapshot:         m.src.Digest(),
		KnownExploited:   a.KnownExploited,
		PrimaryURL:       a.PrimaryURL,
		CWEs:             a.CWEs,
		key:              key,
	}
	f.Status = findingStatus(e.Status, v)
	f.Severity, f.SeveritySource = decideSeverity(e, a.Severities)
	f.CVSS = a.cvss // shared, never modified
	return f, nil
}

// findingStatus: a fix above the installed version makes it "fixed" (a fix is available); a
// distro's own status (will_not_fix, fix_deferred, …) is kept; otherwise "affected".
func findingStatus(s advisory.Status, v verdict) advisory.Status {
	switch {
	case v.next != "":
		return advisory.StatusFixed
	case s != "" && s != advisory.StatusFixed && s != advisory.StatusUnknown:
		return s
	}
	return advisory.StatusAffected
}

// decideSeverity picks the rating that decides a finding's severity: the distro's own rating of
// the package first (it knows its backports and build flags), then CVSS v3, v4 and v2 base
// scores, then any qualitative rating; the highest within each kind, by source name for ties.
func decideSeverity(e *snapshot.Entry, sevs []advisory.Severity) (advisory.Level, string) {
	if e.Level != "" && e.Level != advisory.LevelUnknown {
		return e.Level, e.LevelSource
	}
	for _, typ := range []string{"CVSS_V3", "CVSS_V4", "CVSS_V2", ""} {
		var best *advisory.Severity
		for i := range sevs {
			s := &sevs[i]
			if s.Type != typ || s.Level == advisory.LevelUnknown {
				continue
			}
			if best == nil || s.Score > best.Score || (s.Score == best.Score && s.Level.Rank() > best.Level.Rank()) {
				best = s
			}
		}
		if best != nil {
			src := best.Source
			if typ != "" {
				src += " " + typ
			}
			return best.Level, src
		}
	}
	return advisory.LevelUnknown, ""
}

// cpe is the opt-in CPE path for components with no ecosystem. The snapshot files CPE-based
// advisories (NVD configurations, added by Concelier) under ecosystem "cpe" and the
// "vendor:product" of the CPE; versions compare loosely (numeric dot segments).
func (m *matcher) cpe(c *inventory.Component) ([]Finding, error) {
	var out []Finding
	for _, cpe := range c.CPEs {
		vendor, product, ver, ok := splitCPE(cpe)
		if !ok {
			continue
		}
		if c.Version != "" {
			ver = c.Version
		}
		if ver == "" {
			continue // a version-less CPE would match every release
		}
		entries, err := m.src.Lookup(ecosystemCPE, "", vendor+":"+product)
		if err != nil {
			return nil, err
		}
		t := target{eco: ecosystemCPE, name: vendor + ":" + product, installed: ver, method: MethodCPE}
		fs, err := m.findings(c, t, entries)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}
