package policy_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/policy"
)

var (
	benchEcosystems = []string{"npm", "pypi", "maven/org.apache", "golang/github.com/acme", "deb/debian", "rpm/redhat", "cargo", "gem"}
	benchLevels     = []string{"Critical", "High", "Medium", "Low", "Informational", "Unknown"}
	benchSources    = []string{"NVD", "GHSA", "OSV", "debian", "redhat"}
	benchEnvs       = []string{"prod", "staging", "dev"}
	benchReach      = []string{"", "runtime", "direct", "indirect", "unreachable"}
	benchLicenses   = []string{"MIT", "Apache-2.0", "BSD-3-Clause", "GPL-2.0-only", "AGPL-3.0-only", "LGPL-2.1-or-later"}
	benchTags       = []string{"kev", "network", "fix-available", "base-image", "test-fixture"}
)

// benchFindings makes n realistic findings, the same ones on every run.
func benchFindings(n int) []policy.Finding {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	fs := make([]policy.Finding, n)
	for i := range fs {
		cve := fmt.Sprintf("CVE-20%02d-%05d", 15+r.IntN(11), r.IntN(60000))
		f := policy.Finding{
			ID:              fmt.Sprintf("finding-%06d", i),
			Severity:        pick(benchLevels),
			Source:          pick(benchSources),
			Package:         fmt.Sprintf("pkg:%s/lib%d@%d.%d.%d", pick(benchEcosystems), r.IntN(400), r.IntN(5), r.IntN(20), r.IntN(10)),
			Vulnerabilities: []string{cve, fmt.Sprintf("GHSA-%04x-%04x-%04x", r.IntN(65536), r.IntN(65536), r.IntN(65536))},
			Licenses:        []string{pick(benchLicenses)},
			Environment:     pick(benchEnvs),
			Reachability:    pick(benchReach),
		}
		if r.IntN(3) == 0 {
			f.Tags = []string{pick(benchTags), pick(benchTags)}
		}
		if r.IntN(10) == 0 {
			f.VEX = []policy.VEXStatement{{Vendor: "Red Hat", Status: "not_affected", Justification: "component_not_present"}}
		}
		fs[i] = f
	}
	return fs
}

// benchPolicy is a 50-rule policy of the kinds real policies have: specific exceptions first
// (CVE waivers, package waivers, VEX requirements), then licence gates, then broad severity
// rules, so a typical finding is tried against most of the rules before one decides.
func benchPolicy() string {
	r := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.WriteString("version: \"1.0\"\nrules:\n")
	n := 0
	rule := func(format string, args ...any) {
		fmt.Fprintf(&b, "  - name: rule-%02d\n", n)
		fmt.Fprintf(&b, format, args...)
		n++
	}
	for range 20 { // CVE waivers in non-production
		rule("    vulnerabilities: [CVE-20%02d-%05d, CVE-20%02d-%05d]\n    environments: [dev, staging]\n    action: {type: ignore, quiet: false, justification: accepted}\n    expires: 2030-01-01\n",
			15+r.IntN(11), r.IntN(60000), 15+r.IntN(11), r.IntN(60000))
	}
	for range 12 { // package waivers and blocks
		rule("    packages: [\"pkg:%s/lib%d*\", \"pkg:%s/lib%d@1.*\"]\n    severity: [Medium, Low]\n    action: {type: ignore, quiet: false, justification: not shipped}\n",
			benchEcosystems[r.IntN(len(benchEcosystems))], r.IntN(400), benchEcosystems[r.IntN(len(benchEcosystems))], r.IntN(400))
	}
	for range 6 { // vendor VEX requirements
		rule("    packages: [\"pkg:rpm/redhat/lib%d*\"]\n    vendors: [Red Hat]\n    action:\n      requireVex: {vendors: [Red Hat], justifications: [component_not_present]}\n      justification: vendor VEX\n", r.IntN(400))
	}
	rule("    licenses: [AGPL-3.0-only, SSPL-1.0]\n    action: escalate\n")
	rule("    licenses: [GPL-2.0-only]\n    environments: [prod]\n    action: warn\n")
	rule("    tags: [kev]\n    environments: [prod]\n    action: block\n")
	rule("    tags: [test-fixture]\n    action: {type: ignore, quiet: false, justification: fixtures}\n")
	rule("    sources: [OSV]\n    severity: [Unknown]\n    action: warn\n")
	rule("    severity: [Critical]\n    environments: [prod, staging]\n    action: block\n")
	rule("    severity: [Critical]\n    action: escalate\n")
	rule("    severity: [High]\n    sources: [NVD, GHSA]\n    environments: [prod]\n    action: block\n")
	rule("    severity: [High]\n    action: warn\n")
	rule("    severity: [Medium]\n    environments: [prod]\n    action: warn\n")
	rule("    severity: [Low, Informational]\n    environments: [dev]\n    action: {type: ignore, quiet: false, justification: noise}\n")
	rule("    packages: [\"pkg:npm/*\"]\n    severity: [Unknown]\n    action: warn\n")
	if n != 50 {
		panic(fmt.Sprintf("bench policy has %d rules", n))
	}
	return b.String()
}

// benchRego is a release gate of the usual size: a few deny and warn rules over the finding.
const benchRego = `package stella.policy

deny contains msg if {
	input.finding.severity == "Critical"
	input.finding.reachability in {"runtime", "direct"}
	msg := sprintf("%s: critical and reachable (%s)", [input.finding.id, input.finding.reachability])
}

deny contains msg if {
	input.finding.environment == "prod"
	"kev" in input.finding.tags
	msg := sprintf("%s: known exploited in prod", [input.finding.id])
}

deny contains msg if {
	some l in input.finding.licenses
	l in {"AGPL-3.0-only", "SSPL-1.0"}
	input.finding.environment == "prod"
	msg := sprintf("%s: licence %s not allowed in prod", [input.finding.id, l])
}

warn contains msg if {
	input.finding.severity == "High"
	not not_affected
	msg := sprintf("%s: high severity", [input.finding.id])
}

warn contains msg if {
	startswith(input.finding.package, "pkg:npm/")
	input.finding.score >= 20
	msg := sprintf("%s: npm package scored %v", [input.finding.id, input.finding.score])
}

not_affected if {
	some v in input.finding.vex
	v.status == "not_affected"
}
`

func runBench(b *testing.B, p *policy.Policy, in policy.Input) {
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		if _, err := p.Evaluate(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((processCPU()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkEvaluateYAML: 10,000 findings against the 50-rule YAML policy (target < 20 ms).
func BenchmarkEvaluateYAML(b *testing.B) {
	p := compileString(b, newEngine(b), policy.FormatYAML, benchPolicy())
	runBench(b, p, policy.Input{Findings: benchFindings(10_000)})
}

// BenchmarkEvaluateYAMLExplain is the same with an explanation for every finding.
func BenchmarkEvaluateYAMLExplain(b *testing.B) {
	p := compileString(b, newEngine(b), policy.FormatYAML, benchPolicy())
	runBench(b, p, policy.Input{Findings: benchFindings(10_000), Explain: true})
}

// BenchmarkEvaluateRego: 10,000 findings against the Rego gate (target < 200 ms).
func BenchmarkEvaluateRego(b *testing.B) {
	p := compileString(b, newEngine(b), policy.FormatRego, benchRego)
	runBench(b, p, policy.Input{Findings: benchFindings(10_000)})
}

// BenchmarkEvaluateYAMLAndRego: both, as a YAML policy with the Rego module beside its rules.
func BenchmarkEvaluateYAMLAndRego(b *testing.B) {
	src := benchPolicy() + "rego: |\n  " + strings.ReplaceAll(strings.TrimSpace(benchRego), "\n", "\n  ") + "\n"
	p := compileString(b, newEngine(b), policy.FormatYAML, src)
	runBench(b, p, policy.Input{Findings: benchFindings(10_000)})
}

// The benchmark policy is realistic only if its rules actually decide findings in all ways.
func TestBenchPolicyDecides(t *testing.T) {
	p := compileString(t, newEngine(t), policy.FormatYAML, benchPolicy())
	res := evaluate(t, p, policy.Input{Findings: benchFindings(10_000)})
	s := res.Summary
	if s.Blocked == 0 || s.Warned == 0 || s.Ignored == 0 || s.Escalated == 0 || s.Total-s.Blocked-s.Warned-s.Ignored-s.Escalated-s.Quieted == 0 {
		t.Errorf("summary %+v: some outcome never happens", s)
	}
	r := compileString(t, newEngine(t), policy.FormatRego, benchRego)
	rs := evaluate(t, r, policy.Input{Findings: benchFindings(2_000)}).Summary
	if rs.Blocked == 0 || rs.Warned == 0 || rs.Total == rs.Blocked+rs.Warned {
		t.Errorf("rego summary %+v", rs)
	}
}

// Parallel and serial evaluation give the same result.
func TestParallelEvaluationMatchesSerial(t *testing.T) {
	fs := benchFindings(3_000)
	for _, src := range []struct {
		format  policy.Format
		content string
	}{{policy.FormatYAML, benchPolicy()}, {policy.FormatRego, benchRego}} {
		results := make([]policy.Result, 0, 2)
		for _, workers := range []int{1, 4} {
			cfg := policy.DefaultConfig()
			cfg.Now = fixedClock(specNow)
			cfg.Parallelism = workers
			p := compileString(t, policy.New(cfg), src.format, src.content)
			results = append(results, evaluate(t, p, policy.Input{Findings: fs, Explain: true}))
		}
		if d := cmp.Diff(results[0], results[1]); d != "" {
			t.Errorf("%s: parallel differs from serial (-serial +parallel):\n%s", src.format, d)
		}
	}
}
