package policy

import (
	"strings"
)

// Finding is what the policy judges: one vulnerability (or licence) finding of a scan, in the
// spec's preview request spelling ({"id":"finding-1","severity":"Critical","source":"NVD"}).
// Only ID is required; every absent field simply fails the conditions that look at it.
type Finding struct {
	ID string `json:"id"`
	// Severity is read leniently (NormalizeSeverity): "CRITICAL", "moderate", "None" all work.
	Severity string `json:"severity,omitempty"`
	// Source is the advisory source that rated it ("NVD", "GHSA"); it selects the trust weight.
	Source string `json:"source,omitempty"`
	// Vendor is the vendor or distribution that published the advisory ("Red Hat", "Debian").
	Vendor string `json:"vendor,omitempty"`
	// Package is the affected component's purl.
	Package string `json:"package,omitempty"`
	// Vulnerabilities are the vulnerability id and its aliases (CVE, GHSA, OSV ids).
	Vulnerabilities []string `json:"vulnerabilities,omitempty"`
	Licenses        []string `json:"licenses,omitempty"`
	Tags            []string `json:"tags,omitempty"`
	// Environment overrides the evaluation's environment for this finding ("dev", "prod").
	Environment string `json:"environment,omitempty"`
	// Reachability is the reachability kind ("runtime", "direct", "unreachable", …).
	Reachability string `json:"reachability,omitempty"`
	// VEX are the VEX statements about this finding; requireVex actions look at them.
	VEX []VEXStatement `json:"vex,omitempty"`
}

// VEXStatement is one VEX claim about a finding.
type VEXStatement struct {
	Vendor string `json:"vendor,omitempty"`
	// Status is an OpenVEX status: not_affected, affected, fixed, under_investigation.
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
}

// VEX statuses the evaluator reads.
const vexNotAffected = "not_affected"

// preparedFinding is a finding with what every rule looks at worked out once: its level, its
// effective environment and its version-less purl. Strings keep their case: comparisons fold
// case as they go, which costs less than lower-casing every CVE id of every finding.
type preparedFinding struct {
	f        *Finding
	level    Level
	env      string // the finding's environment, else the evaluation's
	pkgNoVer string // purl without version, qualifiers and subpath
}

func prepare(f *Finding, defaultEnv string) preparedFinding {
	env := f.Environment
	if env == "" {
		env = defaultEnv
	}
	return preparedFinding{f: f, level: NormalizeSeverity(f.Severity), env: env, pkgNoVer: purlWithoutVersion(f.Package)}
}

// purlWithoutVersion cuts "@version", "?qualifiers" and "#subpath" off a purl. The '@' is
// searched after the last '/' because npm scopes ("pkg:npm/%40scope/x" or "pkg:npm/@scope/x")
// may put one in the namespace.
func purlWithoutVersion(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	slash := strings.LastIndexByte(p, '/')
	if i := strings.IndexByte(p[slash+1:], '@'); i >= 0 {
		p = p[:slash+1+i]
	}
	return p
}

// size estimates a finding's encoded size, for the input limit, without encoding it.
func (f *Finding) size() int {
	n := len(f.ID) + len(f.Severity) + len(f.Source) + len(f.Vendor) + len(f.Package) +
		len(f.Environment) + len(f.Reachability) + 64
	for _, l := range [][]string{f.Vulnerabilities, f.Licenses, f.Tags} {
		for _, s := range l {
			n += len(s) + 3
		}
	}
	for _, v := range f.VEX {
		n += len(v.Vendor) + len(v.Status) + len(v.Justification) + 16
	}
	return n
}
