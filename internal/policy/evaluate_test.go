package policy_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/policy"
)

func loadFindings(t testing.TB) []policy.Finding {
	t.Helper()
	var fs []policy.Finding
	decodeFile(t, "findings.json", &fs)
	return fs
}

func byID(res policy.Result) map[string]policy.Verdict {
	m := map[string]policy.Verdict{}
	for _, v := range res.Verdicts {
		m[v.FindingID] = v
	}
	return m
}

func TestEvaluateBaselinePolicy(t *testing.T) {
	p := compile(t, newEngine(t), "baseline.yaml")
	res := evaluate(t, p, policy.Input{ImageDigest: "sha256:1234", Findings: loadFindings(t)})
	type want struct {
		status policy.Status
		rule   string
		score  float64
	}
	wants := map[string]want{
		"f-openssl-vex":         {policy.StatusQuieted, "Vendor VEX waiver for OpenSSL", 22.5}, // 75 × NVD 1 × unknown 0.3
		"f-openssl-novex":       {policy.StatusBlocked, "Vendor VEX waiver for OpenSSL", 15},   // 50 × 1 × 0.3
		"f-rapid-reset-staging": {policy.StatusIgnored, "Accepted risk CVE-2023-44487", 20.25}, // 75 × GHSA 0.9 × 0.3
		"f-rapid-reset-prod":    {policy.StatusWarn, "Warn High", 20.25},
		"f-kev-prod":            {policy.StatusBlocked, "Block known-exploited in production", 15},
		"f-critical-runtime":    {policy.StatusBlocked, "Block Critical", 40.5},                // 90 × 1 × runtime 0.45
		"f-agpl":                {policy.StatusEscalated, "Copyleft licences need review", 18}, // Unknown 60 × 0.3, no source
		"f-eslint-dev":          {policy.StatusIgnored, "Ignore dev tooling", 20.25},
		"f-types-dev":           {policy.StatusIgnored, "Ignore dev tooling", 6.75}, // 25 × 0.9 × 0.3
		"f-high-unreachable":    {policy.StatusWarn, "Warn High", 6.75},             // 75 × 0.9 × unreachable 0.1
		"f-low":                 {policy.StatusPass, "", 7.5},                       // 25 × OSV 1 × 0.3
	}
	got := byID(res)
	if len(got) != len(wants) {
		t.Fatalf("%d verdicts, want %d", len(got), len(wants))
	}
	for id, w := range wants {
		v := got[id]
		if v.Status != w.status || v.RuleName != w.rule || v.Score != w.score {
			t.Errorf("%s: got %s by %q score %v, want %s by %q score %v", id, v.Status, v.RuleName, v.Score, w.status, w.rule, w.score)
		}
		if v.ConfigVersion != "1.0" {
			t.Errorf("%s: configVersion %q", id, v.ConfigVersion)
		}
	}
	q := got["f-openssl-vex"]
	if !q.Quiet || q.QuietedBy != "Vendor VEX waiver for OpenSSL" || q.RuleAction != "RequireVex" {
		t.Errorf("quieted verdict = %+v", q)
	}
	if v := got["f-rapid-reset-staging"]; v.Quiet || v.Justification != "HTTP/2 rapid reset is mitigated by the ingress in non-production" {
		t.Errorf("ignored verdict = %+v", v)
	}
	wantSummary := policy.Summary{Total: 11, Blocked: 3, Warned: 2, Ignored: 3, Quieted: 1, Escalated: 1}
	if res.Summary != wantSummary {
		t.Errorf("summary = %+v, want %+v", res.Summary, wantSummary)
	}
	if res.PolicyStatus != policy.PolicyBlocked {
		t.Errorf("policyStatus = %s", res.PolicyStatus)
	}
	ids := make([]string, len(res.Verdicts))
	for i, v := range res.Verdicts {
		ids[i] = v.FindingID
	}
	if !slices.IsSorted(ids) {
		t.Errorf("verdicts not sorted by finding id: %v", ids)
	}
}

// The same findings in any order give the same bytes.
func TestEvaluateDeterministic(t *testing.T) {
	p := compile(t, newEngine(t), "baseline.yaml")
	fs := loadFindings(t)
	a, _ := json.Marshal(evaluate(t, p, policy.Input{Findings: fs, Explain: true}))
	slices.Reverse(fs)
	b, _ := json.Marshal(evaluate(t, p, policy.Input{Findings: fs, Explain: true}))
	if string(a) != string(b) {
		t.Errorf("output depends on input order:\n%s\n%s", a, b)
	}
}

// A rule stops applying when its expiry passes: the accepted risk lapses on 2026-04-01 and the
// staging finding falls through to "Warn High".
func TestRuleExpiry(t *testing.T) {
	f := []policy.Finding{{ID: "x", Severity: "High", Environment: "staging", Vulnerabilities: []string{"cve-2023-44487"}}}
	for _, tc := range []struct {
		now  time.Time
		want policy.Status
	}{
		{time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC), policy.StatusIgnored},
		{time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), policy.StatusWarn},
	} {
		cfg := policy.DefaultConfig()
		cfg.Now = fixedClock(tc.now)
		p := compile(t, policy.New(cfg), "baseline.yaml")
		if got := evaluate(t, p, policy.Input{Findings: f}).Verdicts[0].Status; got != tc.want {
			t.Errorf("at %s: %s, want %s", tc.now, got, tc.want)
		}
	}
}

func TestPolicyStatusThreshold(t *testing.T) {
	e := newEngine(t)
	p := compileString(t, e, policy.FormatYAML, `
version: "1.0"
rules:
  - name: Escalate licences
    licenses: [GPL-3.0-only]
    action: escalate
  - name: Ignore Low
    severity: [Low]
    action: {type: ignore, quiet: false, justification: noise}
`)
	for _, tc := range []struct {
		name      string
		findings  []policy.Finding
		threshold policy.Level
		want      policy.PolicyStatus
	}{
		{"high below critical", []policy.Finding{{ID: "a", Severity: "High"}}, "", policy.PolicyPass},
		{"critical reaches critical", []policy.Finding{{ID: "a", Severity: "Critical"}}, "", policy.PolicyBlocked},
		{"high reaches high", []policy.Finding{{ID: "a", Severity: "High"}}, policy.LevelHigh, policy.PolicyBlocked},
		{"ignored low does not count", []policy.Finding{{ID: "a", Severity: "Low"}}, policy.LevelLow, policy.PolicyPass},
		{"escalated medium warns", []policy.Finding{{ID: "a", Severity: "Medium", Licenses: []string{"GPL-3.0-only"}}}, "", policy.PolicyWarn},
		{"escalated high reaches critical", []policy.Finding{{ID: "a", Severity: "High", Licenses: []string{"GPL-3.0-only"}}}, "", policy.PolicyBlocked},
		{"unknown severity never reaches a threshold", []policy.Finding{{ID: "a", Severity: "weird"}}, policy.LevelLow, policy.PolicyPass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := evaluate(t, p, policy.Input{Findings: tc.findings, Threshold: tc.threshold})
			if res.PolicyStatus != tc.want {
				t.Errorf("policyStatus = %s, want %s (verdict %+v)", res.PolicyStatus, tc.want, res.Verdicts[0])
			}
		})
	}
}

func TestPackagePatterns(t *testing.T) {
	e := newEngine(t)
	for _, tc := range []struct {
		pattern, purl string
		want          bool
	}{
		{"pkg:npm/lodash", "pkg:npm/lodash@4.17.20", true}, // version-less pattern: any version
		{"pkg:npm/lodash", "pkg:npm/lodash-es@4.17.20", false},
		{"pkg:npm/lodash@4.*", "pkg:npm/lodash@4.17.20", true},
		{"pkg:npm/lodash@4.*", "pkg:npm/lodash@3.10.1", false},
		{"pkg:npm/lodash@4.17.20", "pkg:npm/lodash@4.17.20", true},
		{"pkg:npm/%40angular/*", "pkg:npm/%40angular/core@16.0.0", true},
		{"pkg:deb/debian/openssl", "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12", true},
		{"pkg:maven/org.apache.logging.log4j/*", "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", true},
		{"pkg:*/*log4j*", "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", true},
		{"pkg:golang/*", "pkg:npm/x@1", false},
		{"pkg:npm/a*b*c", "pkg:npm/abc", true},
		{"pkg:npm/a*b*c", "pkg:npm/acb", false},
	} {
		p := compileString(t, e, policy.FormatYAML, "version: \"1.0\"\nrules:\n  - name: r\n    packages: [\""+tc.pattern+"\"]\n    action: block\n")
		got := evaluate(t, p, policy.Input{Findings: []policy.Finding{{ID: "f", Package: tc.purl}}}).Verdicts[0].Status == policy.StatusBlocked
		if got != tc.want {
			t.Errorf("%s vs %s: matched %v, want %v", tc.pattern, tc.purl, got, tc.want)
		}
	}
}

// requireVex: evidence must be not_affected, from an accepted vendor, with an accepted
// justification; without it the finding is blocked.
func TestRequireVex(t *testing.T) {
	p := compileString(t, newEngine(t), policy.FormatYAML, `
version: "1.0"
rules:
  - name: Vendor VEX
    severity: [Critical, High]
    action:
      requireVex: {vendors: [Acme], justifications: [component_not_present]}
      justification: vendor statement
`)
	vex := func(vendor, status, just string) []policy.VEXStatement {
		return []policy.VEXStatement{{Vendor: vendor, Status: status, Justification: just}}
	}
	for _, tc := range []struct {
		name string
		vex  []policy.VEXStatement
		want policy.Status
	}{
		{"accepted", vex("acme", "not_affected", "component_not_present"), policy.StatusQuieted},
		{"no statement", nil, policy.StatusBlocked},
		{"other vendor", vex("Mallory", "not_affected", "component_not_present"), policy.StatusBlocked},
		{"other justification", vex("Acme", "not_affected", "inline_mitigations_already_exist"), policy.StatusBlocked},
		{"affected", vex("Acme", "affected", ""), policy.StatusBlocked},
		{"one good among several", append(vex("Mallory", "not_affected", "x"), vex("Acme", "NOT_AFFECTED", "component_not_present")...), policy.StatusQuieted},
	} {
		res := evaluate(t, p, policy.Input{Findings: []policy.Finding{{ID: "f", Severity: "Critical", VEX: tc.vex}}})
		if v := res.Verdicts[0]; v.Status != tc.want || v.RuleAction != "RequireVex" || v.Quiet != (tc.want == policy.StatusQuieted) {
			t.Errorf("%s: %+v, want %s", tc.name, v, tc.want)
		}
	}
}

func TestEnvironmentDefault(t *testing.T) {
	p := compileString(t, newEngine(t), policy.FormatYAML, `
version: "1.0"
rules:
  - name: Ignore dev
    environments: [Dev]
    action: {type: ignore, quiet: false, justification: dev only}
`)
	res := evaluate(t, p, policy.Input{Environment: "dev", Findings: []policy.Finding{
		{ID: "a", Severity: "High"},                      // takes the evaluation's environment
		{ID: "b", Severity: "High", Environment: "prod"}, // its own wins
	}})
	got := byID(res)
	if got["a"].Status != policy.StatusIgnored || got["b"].Status != policy.StatusPass {
		t.Errorf("a=%s b=%s", got["a"].Status, got["b"].Status)
	}
}

func TestExplain(t *testing.T) {
	p := compile(t, newEngine(t), "baseline.yaml")
	ex, err := p.Explain(context.Background(), policy.Finding{ID: "f", Severity: "High", Source: "GHSA", Environment: "prod",
		Package: "pkg:golang/golang.org/x/net@v0.7.0", Vulnerabilities: []string{"CVE-2023-44487"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != policy.StatusWarn || ex.Decision != `Warn by "Warn High" (Warn)` || ex.PolicyDigest != p.Digest() {
		t.Errorf("explanation = %+v", ex)
	}
	var outcomes []string
	for _, r := range ex.Rules {
		outcomes = append(outcomes, string(r.Outcome)+": "+r.Reason)
	}
	want := []string{
		`not-matched: package "pkg:golang/golang.org/x/net@v0.7.0" matches none of [pkg:rpm/redhat/openssl*]`,
		`not-matched: environment "prod" is not in [dev staging]`,
		`not-matched: the finding has no tags (rule needs one of [kev])`,
		`not-matched: severity High is not in [Critical]`,
		`not-matched: the finding has no licenses (rule needs one of [AGPL-3.0-only AGPL-3.0-or-later SSPL-1.0])`,
		`not-matched: environment "prod" is not in [dev]`,
		`matched: matched on severity High; warn`,
	}
	if d := cmp.Diff(want, outcomes); d != "" {
		t.Errorf("rule trace (-want +got):\n%s", d)
	}
	if ex.Score.Score != 20.25 || ex.Score.Inputs["trustWeight.GHSA"] != 0.9 {
		t.Errorf("score trace = %+v", ex.Score)
	}
}

// After the deciding rule, later rules are listed as not evaluated; expired rules say so.
func TestExplainFirstMatchAndExpired(t *testing.T) {
	p := compileString(t, newEngine(t), policy.FormatYAML, `
version: "1.0"
rules:
  - name: Old waiver
    severity: [Critical]
    action: {type: ignore, quiet: false, justification: temporary}
    expires: 2024-01-31
  - name: Block Critical
    severity: [Critical]
    action: block
  - name: Warn everything
    action: warn
`)
	ex, err := p.Explain(context.Background(), policy.Finding{ID: "f", Severity: "Critical"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range ex.Rules {
		got = append(got, r.Name+" "+string(r.Outcome))
	}
	want := []string{"Old waiver expired", "Block Critical matched", "Warn everything not-evaluated"}
	if d := cmp.Diff(want, got); d != "" || !strings.Contains(ex.Rules[0].Reason, "2024-02-01T00:00:00Z") {
		t.Errorf("trace (-want +got):\n%s\n%+v", d, ex.Rules)
	}
}

func TestEvaluateLimits(t *testing.T) {
	cfg := policy.DefaultConfig()
	cfg.Limits.MaxFindings = 2
	cfg.Limits.MaxFindingBytes = 1000
	p := compile(t, policy.New(cfg), "baseline.yaml")
	if _, err := p.Evaluate(context.Background(), policy.Input{Findings: make([]policy.Finding, 3)}); err == nil || !strings.Contains(err.Error(), "3 findings") {
		t.Errorf("too many findings: err = %v", err)
	}
	big := policy.Finding{ID: "big", Tags: []string{strings.Repeat("x", 2000)}}
	if _, err := p.Evaluate(context.Background(), policy.Input{Findings: []policy.Finding{big}}); err == nil || !strings.Contains(err.Error(), `finding "big"`) {
		t.Errorf("finding too big: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Evaluate(ctx, policy.Input{Findings: loadFindings(t)}); err == nil {
		t.Error("cancelled context: no error")
	}
}
