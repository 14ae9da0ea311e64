package policy_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/policy"
)

func diagnose(t *testing.T, e *policy.Engine, src policy.Source) policy.Diagnostics {
	t.Helper()
	d, err := e.Diagnose(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDiagnosticsLint(t *testing.T) {
	d := diagnose(t, newEngine(t), policy.Source{Content: string(readFile(t, "lint.yaml"))})
	want := policy.Diagnostics{
		Success:      false,
		Version:      "1.0",
		RuleCount:    8,
		ErrorCount:   0,
		WarningCount: 6,
		GeneratedAt:  policy.Timestamp(specNow),
		Issues: []policy.Issue{
			{Code: "policy.rule.unreachable", Severity: "Warning", Path: "$.rules[1]",
				Message: "Rule can never apply: every finding it matches is decided first by $.rules[0] ('Block Critical and High')."},
			{Code: "policy.rule.expired", Severity: "Warning", Path: "$.rules[2].expires",
				Message: "Rule expired at 2025-01-01T00:00:00Z and no longer applies."},
			{Code: "policy.rule.quiet.unsupported_action", Severity: "Warning", Path: "$.rules[3]",
				Message: "Quiet flag ignored: a warn rule cannot quiet findings; only ignore and requireVex rules can."},
			{Code: "policy.rule.justification.missing", Severity: "Warning", Path: "$.rules[4]",
				Message: "Rule ignores findings without a justification: say why they are acceptable."},
			{Code: "policy.rule.quiet.missing_vex", Severity: "Warning", Path: "$.rules[4]",
				Message: "Quiet flag ignored: rule must specify requireVex justifications."},
			{Code: "policy.rule.requirevex.any_vendor", Severity: "Info", Path: "$.rules[5].action",
				Message: "requireVex accepts a VEX statement from any vendor; list the vendors you trust."},
			{Code: "policy.rule.match.all", Severity: "Info", Path: "$.rules[6]",
				Message: "Rule has no conditions and decides every finding; the rules after it never apply."},
			{Code: "policy.rule.unreachable", Severity: "Warning", Path: "$.rules[7]",
				Message: "Rule can never apply: every finding it matches is decided first by $.rules[6] ('Catch-all warn')."},
		},
		Recommendations: []string{
			"Review policy warnings and ensure intentional overrides are documented.",
			"Restrict requireVex rules to the VEX vendors you trust so their statements take precedence over anyone else's.",
		},
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
}

// A clean policy: success, no issues, no recommendations.
func TestDiagnosticsClean(t *testing.T) {
	d := diagnose(t, newEngine(t), policy.Source{Content: string(readFile(t, "baseline.yaml"))})
	if !d.Success || len(d.Issues) != 0 || len(d.Recommendations) != 0 || d.RuleCount != 7 {
		t.Errorf("diagnostics = %+v", d)
	}
}

// Errors become Error issues with codes; rules without errors are still linted.
func TestDiagnosticsWithErrors(t *testing.T) {
	d := diagnose(t, newEngine(t), policy.Source{Content: `version: "1.0"
rules:
  - name: Block
    severity: [Critical, None]
    action: block
  - name: block
    action: ignore
    justification: dup
`})
	want := []policy.Issue{
		{Code: "policy.level.invalid", Severity: "Error", Path: "$.rules[0].severity", Message: "Invalid level 'None' (line 4)"},
		{Code: "policy.rule.name.duplicate", Severity: "Error", Path: "$.rules[1].name",
			Message: "Duplicate rule name 'block' (also $.rules[0]): verdicts name the rule that decided them (line 6)"},
	}
	if diff := cmp.Diff(want, d.Issues); diff != "" {
		t.Errorf("issues (-want +got):\n%s", diff)
	}
	if d.Success || d.ErrorCount != 2 || d.RuleCount != 2 || d.Recommendations[0] != "Fix the policy errors; a policy with errors cannot be activated." {
		t.Errorf("diagnostics = %+v", d)
	}

	d = diagnose(t, newEngine(t), policy.Source{Content: "version: \"1.0\"\nrules: [\n"})
	if d.Success || d.ErrorCount != 1 || d.Issues[0].Code != "policy.yaml.syntax" || d.Version != "" {
		t.Errorf("syntax error diagnostics = %+v", d)
	}
	d = diagnose(t, newEngine(t), policy.Source{Format: "toml", Content: "x"})
	if d.ErrorCount != 1 || d.Issues[0].Code != "policy.format.unsupported" {
		t.Errorf("unknown format diagnostics = %+v", d)
	}
}

// Infos alone do not fail diagnostics; an empty policy says so.
func TestDiagnosticsEmptyPolicy(t *testing.T) {
	d := diagnose(t, newEngine(t), policy.Source{Content: "version: \"1.0\"\nrules: []\n"})
	want := policy.Diagnostics{
		Success: true, Version: "1.0", GeneratedAt: policy.Timestamp(specNow),
		Issues:          []policy.Issue{{Code: "policy.rules.empty", Severity: "Info", Path: "$.rules", Message: "Policy has no rules: every finding passes."}},
		Recommendations: []string{"Add rules (or a Rego module) so the policy can block or warn on anything."},
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
}

// Package globs shadow narrower globs and pinned versions of the same package, not others.
func TestDiagnosticsUnreachablePackages(t *testing.T) {
	for _, tc := range []struct {
		first, second string
		unreachable   bool
	}{
		{"pkg:npm/*", "pkg:npm/lodash@4.*", true},
		{"pkg:npm/lodash", "pkg:npm/lodash@4.17.20", true},
		{"pkg:npm/lodash*", "pkg:npm/lodash-es*", true},
		{"pkg:npm/lodash@4.*", "pkg:npm/lodash", false},
		{"pkg:npm/lodash", "pkg:npm/lodash*", false},
		{"pkg:npm/a*c", "pkg:npm/a*b", false},
	} {
		d := diagnose(t, newEngine(t), policy.Source{Content: "version: \"1.0\"\nrules:\n" +
			"  - {name: first, packages: [\"" + tc.first + "\"], action: block}\n" +
			"  - {name: second, packages: [\"" + tc.second + "\"], action: warn}\n"})
		got := len(d.Issues) == 1 && d.Issues[0].Code == "policy.rule.unreachable"
		if got != tc.unreachable || (!got && len(d.Issues) != 0) {
			t.Errorf("%s then %s: issues %+v, want unreachable=%v", tc.first, tc.second, d.Issues, tc.unreachable)
		}
	}
}

// A Rego policy's rule count is its deny and warn rules; helpers do not count.
func TestDiagnosticsRego(t *testing.T) {
	d := diagnose(t, newEngine(t), policy.Source{Format: policy.FormatRego, Content: string(readFile(t, "rego/gate.rego"))})
	if !d.Success || d.RuleCount != 4 || d.Version != "" || len(d.Issues) != 0 {
		t.Errorf("diagnostics = %+v", d)
	}
	d = diagnose(t, newEngine(t), policy.Source{Format: policy.FormatRego, Content: "package stella.policy\ndeny contains x if x := http.send({})\n"})
	if d.Success || d.ErrorCount != 1 || d.Issues[0].Code != "policy.rego.compile" || d.Issues[0].Path != "$" {
		t.Errorf("diagnostics = %+v", d)
	}
}
