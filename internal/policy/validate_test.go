package policy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/policy"
)

// validationErrors compiles content and returns its validation errors, failing the test when
// it compiles.
func validationErrors(t *testing.T, e *policy.Engine, content string) []policy.ValidationError {
	t.Helper()
	_, err := e.Compile(context.Background(), policy.Source{Content: content})
	var ve *policy.ValidationErrors
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want validation errors\n%s", err, content)
	}
	return ve.Errors
}

type pathMsgLine struct {
	Path, Msg string
	Line      int
}

func simplify(errs []policy.ValidationError) []pathMsgLine {
	out := make([]pathMsgLine, len(errs))
	for i, e := range errs {
		out[i] = pathMsgLine{e.Path, e.Msg, e.Line}
	}
	return out
}

// Every error of a policy is reported, each with its path and line, in document order.
func TestValidationReportsEveryError(t *testing.T) {
	errs := validationErrors(t, newEngine(t), string(readFile(t, "invalid/many-errors.yaml")))
	want := []pathMsgLine{
		{"$.version", `Unsupported version '2.0': policy-schema@1 documents are version "1.0"`, 2},
		{"$.owner", "Unknown field 'owner'", 3},
		{"$.rules[0].severity", "Invalid level 'None'", 6},
		{"$.rules[0].severity", "Invalid level 'critical'", 6},
		{"$.rules[0].action", "Invalid action 'deny' (want block, warn, ignore, escalate or requireVex)", 7},
		{"$.rules[1]", "Missing required field 'action'", 8},
		{"$.rules[1].packages[0]", "Invalid package pattern 'lodash': want a purl such as pkg:npm/lodash@4.* ('*' matches anything)", 9},
		{"$.rules[1].expires", "Invalid date '2025-13-01': use YYYY-MM-DD or an RFC 3339 time", 10},
		{"$.rules[2].name", "Duplicate rule name 'block critical' (also $.rules[0]): verdicts name the rule that decided them", 11},
		{"$.rules[2].environment", "Unknown field 'environment'", 12},
		{"$.rules[2].action.type", "Action type 'ignore' cannot take requireVex settings; use type requireVex", 14},
		{"$.rules[2].quiet", "Rule quiet is false but its action's quiet is true", 17},
		{"$.rules[3].tags", "Expected a list, got string", 19},
		{"$.scoring.severityWeights", "Invalid level 'None'", 22},
		{"$.scoring.trustWeights.NVD", "Weight 12 is outside 0..10", 26},
	}
	if d := cmp.Diff(want, simplify(errs)); d != "" {
		t.Errorf("errors (-want +got):\n%s", d)
	}
}

func TestValidationErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		want    []pathMsgLine
	}{
		// The YAML parser reports the line where the broken construct starts.
		{"yaml syntax", "version: \"1.0\"\nrules:\n  - name: x\n   action: block\n",
			[]pathMsgLine{{"$", "yaml: line 2: did not find expected '-' indicator", 2}}},
		{"unclosed flow", "version: \"1.0\"\nrules: [\n", []pathMsgLine{{"$", "yaml: line 2: did not find expected node content", 2}}},
		{"empty", "# nothing here\n", []pathMsgLine{{"$", "Policy is empty", 0}}},
		{"not a mapping", "- a\n- b\n", []pathMsgLine{{"$", "Expected a mapping, got list", 1}}},
		{"version missing", "rules: []\n", []pathMsgLine{{"$", "Missing required field 'version'", 1}}},
		{"version as number", "version: 1.0\n", []pathMsgLine{{"$.version", "Expected a string, got number", 1}}},
		{"two documents", "version: \"1.0\"\n---\nversion: \"1.0\"\n",
			[]pathMsgLine{{"$", "yaml: line 2: a policy is one YAML document; found a second one", 2}}},
		{"anchor and alias", "version: \"1.0\"\nrules:\n  - &r {name: a, action: block}\n  - *r\n",
			[]pathMsgLine{{"$.rules[0]", "YAML anchors (&r) are not supported in policies", 3}, {"$.rules[1]", "YAML aliases (*r) are not supported in policies", 4}}},
		{"custom tag", "version: !!binary aGVsbG8=\n", []pathMsgLine{{"$.version", "YAML tag !!binary is not supported in policies", 1}}},
		{"duplicate key", "version: \"1.0\"\nversion: \"1.0\"\n", []pathMsgLine{{"$.version", "Duplicate key 'version'", 2}}},
		{"action object without type", "version: \"1.0\"\nrules:\n  - name: a\n    action: {justification: why}\n",
			[]pathMsgLine{{"$.rules[0].action", "Missing required field 'type'", 4}}},
		{"empty name", "version: \"1.0\"\nrules:\n  - name: \"  \"\n    action: warn\n",
			[]pathMsgLine{{"$.rules[0].name", "Rule name must not be empty", 3}}},
		{"empty list item", "version: \"1.0\"\nrules:\n  - name: a\n    tags: [kev, \"\"]\n    action: warn\n",
			[]pathMsgLine{{"$.rules[0].tags[1]", "Expected a non-empty string, got an empty string", 4}}},
		{"weights differing in case", "version: \"1.0\"\nscoring:\n  trustWeights: {NVD: 1, nvd: 0.5}\n",
			[]pathMsgLine{{"$.scoring.trustWeights.nvd", "'NVD' and 'nvd' differ only in case", 3}}},
		{"rego with a syntax error", "version: \"1.0\"\nrego: |\n  package stella.policy\n  deny contains msg if {\n",
			[]pathMsgLine{{"$.rego", "Rego: unexpected eof token", 5}}}, // EOF: the line after the module's last
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := simplify(validationErrors(t, newEngine(t), tc.content))
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
		})
	}
}

func TestValidationLimits(t *testing.T) {
	cfg := policy.DefaultConfig()
	cfg.Limits.MaxPolicyBytes = 4096
	cfg.Limits.MaxYAMLDepth = 16
	cfg.Limits.MaxYAMLNodes = 500
	cfg.Limits.MaxRules = 10
	var rules strings.Builder
	for i := range 11 {
		fmt.Fprintf(&rules, "  - {name: rule-%d, action: warn}\n", i)
	}
	for _, tc := range []struct {
		name, content, want string
	}{
		{"size", "version: \"1.0\"\ndescription: " + strings.Repeat("x", 5000) + "\n", "Policy is 5029 bytes, over the 4096 byte limit"},
		{"depth", "version: \"1.0\"\ndescription: " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n", "Policy nests deeper than 16 levels"},
		{"nodes", "version: \"1.0\"\nrules:\n  - name: a\n    action: warn\n    tags: [" + strings.Repeat("t,", 600) + "t]\n", "Policy has more than 500 YAML nodes"},
		{"yaml parser depth", "version: \"1.0\"\ndescription: " + strings.Repeat("[", 3000), "yaml: line 2: did not find expected node content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cfg
			if tc.name == "yaml parser depth" {
				cfg.Limits.MaxPolicyBytes = 1 << 20
			}
			errs := validationErrors(t, policy.New(cfg), tc.content)
			if len(errs) != 1 || errs[0].Msg != tc.want {
				t.Errorf("errors = %+v, want one: %s", errs, tc.want)
			}
		})
	}
	errs := validationErrors(t, policy.New(cfg), "version: \"1.0\"\nrules:\n"+rules.String())
	if len(errs) != 1 || errs[0].Msg != "Policy has 11 rules, over the limit of 10" {
		t.Errorf("rule limit: %+v", errs)
	}
}

// The short and long action spellings, quoted and plain scalars, comments and flow or block
// style all decode to the same document.
func TestEquivalentSpellings(t *testing.T) {
	e := newEngine(t)
	a := compileString(t, e, policy.FormatYAML, `version: "1.0"
rules:
  - name: Block Critical
    severity: [Critical]
    action: block
`)
	b := compileString(t, e, policy.FormatYAML, `# reformatted, same policy
{"version": "1.0", "rules": [{"action": {"type": "block"}, "severity": ["Critical"], "name": 'Block Critical'}]}
`)
	if d := cmp.Diff(a.Document(), b.Document()); d != "" || a.Digest() != b.Digest() {
		t.Errorf("documents differ (-a +b):\n%s\ndigests %s %s", d, a.Digest(), b.Digest())
	}
}
