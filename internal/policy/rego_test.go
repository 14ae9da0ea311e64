package policy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/policy"
)

func TestRegoGate(t *testing.T) {
	p := compile(t, newEngine(t), "rego/gate.rego")
	res := evaluate(t, p, policy.Input{Findings: loadFindings(t)})
	got := byID(res)
	crit := got["f-critical-runtime"]
	wantCrit := policy.Verdict{
		FindingID: "f-critical-runtime", Status: policy.StatusBlocked, RuleName: "stella.policy.deny", RuleAction: "Block",
		Score: 40.5, Inputs: crit.Inputs, SourceTrust: "NVD", Reachability: "runtime",
		Reasons: []string{"f-critical-runtime: critical CVE-2021-44228 observed at runtime in pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
	}
	if d := cmp.Diff(wantCrit, crit); d != "" {
		t.Errorf("critical verdict (-want +got):\n%s", d)
	}
	if v := got["f-kev-prod"]; v.Status != policy.StatusBlocked || v.Reasons[0] != "f-kev-prod: known exploited, not allowed in prod" {
		t.Errorf("kev verdict = %+v", v)
	}
	if v := got["f-agpl"]; v.Status != policy.StatusWarn || v.RuleName != "stella.policy.warn" || v.Reasons[0] != "f-agpl: AGPL-3.0-only licence needs legal review" {
		t.Errorf("agpl verdict = %+v", v)
	}
	want := policy.Summary{Total: 11, Blocked: 2, Warned: 1}
	if res.Summary != want {
		t.Errorf("summary = %+v, want %+v", res.Summary, want)
	}
}

func TestRegoBesideYAML(t *testing.T) {
	e := newEngine(t)
	p := compile(t, e, "rego/beside.yaml")
	res := evaluate(t, p, policy.Input{Findings: []policy.Finding{
		{ID: "internal-fixture", Severity: "Low", Tags: []string{"test-fixture"}, Package: "pkg:golang/example.com/internal/auth@v1.2.0"},
		{ID: "unrated-fixture", Severity: "", Tags: []string{"test-fixture"}},
		{ID: "unrated", Severity: "unknown"},
		{ID: "critical", Severity: "Critical"},
		{ID: "low", Severity: "Low"},
	}})
	type sv struct {
		Status policy.Status
		Rule   string
	}
	got := map[string]sv{}
	for _, v := range res.Verdicts {
		got[v.FindingID] = sv{v.Status, v.RuleName}
	}
	want := map[string]sv{
		"internal-fixture": {policy.StatusBlocked, "stella.policy.deny"},   // a Rego deny beats a YAML ignore
		"unrated-fixture":  {policy.StatusIgnored, "Ignore test fixtures"}, // a warn does not
		"unrated":          {policy.StatusWarn, "stella.policy.warn"},
		"critical":         {policy.StatusBlocked, "Block Critical"},
		"low":              {policy.StatusPass, ""},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("verdicts (-want +got):\n%s", d)
	}
	ex, err := p.Explain(context.Background(), policy.Finding{ID: "x", Tags: []string{"test-fixture"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if ex.Rego == nil || ex.Rego.Effect != "none (warn does not override the rules' Ignored)" || ex.Rego.Warn[0] != "unrated finding" {
		t.Errorf("rego trace = %+v", ex.Rego)
	}

	// Comments and layout inside the module do not change the digest; code does.
	src := string(readFile(t, "rego/beside.yaml"))
	reformatted := strings.Replace(src, "  # Internal packages must never be vulnerable, fixtures or not.\n", "  # reworded comment\n\n", 1)
	reformatted = strings.Replace(reformatted, `warn contains "unrated finding" if input.finding.severity == "Unknown"`,
		"warn contains \"unrated finding\" if {\n  \t  input.finding.severity == \"Unknown\"\n  }", 1)
	if reformatted == src {
		t.Fatal("test edit did not apply")
	}
	if q := compileString(t, e, policy.FormatYAML, reformatted); q.Digest() != p.Digest() {
		t.Errorf("comment/layout edit changed the digest")
	}
	changed := strings.Replace(src, "example.com/internal/", "example.com/private/", 1)
	if q := compileString(t, e, policy.FormatYAML, changed); q.Digest() == p.Digest() {
		t.Errorf("code edit kept the digest")
	}
}

// The input document a module sees, exactly.
func TestRegoInputDocument(t *testing.T) {
	p := compileString(t, newEngine(t), policy.FormatRego, "package stella.policy\ndeny contains json.marshal(input) if true\n")
	res := evaluate(t, p, policy.Input{ImageDigest: "sha256:abc", Environment: "prod", Findings: []policy.Finding{{
		ID: "f1", Severity: "HIGH", Source: "GHSA", Vendor: "Acme", Package: "pkg:npm/x@1.0.0",
		Vulnerabilities: []string{"CVE-2024-1", "GHSA-1"}, Licenses: []string{"MIT"}, Tags: []string{"kev"},
		Reachability: "direct", VEX: []policy.VEXStatement{{Vendor: "Acme", Status: "affected"}},
	}}})
	want := `{"context":{"environment":"prod","imageDigest":"sha256:abc"},"finding":{"environment":"prod","id":"f1",` +
		`"licenses":["MIT"],"package":"pkg:npm/x@1.0.0","rawSeverity":"HIGH","reachability":"direct","score":26.25,` +
		`"severity":"High","source":"GHSA","tags":["kev"],"vendor":"Acme","vex":[{"justification":"","status":"affected","vendor":"Acme"}],` +
		`"vulnerabilities":["CVE-2024-1","GHSA-1"]}}`
	if got := res.Verdicts[0].Reasons; len(got) != 1 || got[0] != want {
		t.Errorf("input =\n%v\nwant\n%s", got, want)
	}
}

// Compile-time rejections: built-ins outside the sandbox, recursion, wrong shapes.
func TestRegoRejected(t *testing.T) {
	for _, tc := range []struct {
		name, module, want string
	}{
		{"http.send", `deny contains "x" if http.send({"method": "GET", "url": "http://169.254.169.254/"}).status_code == 200`, "undefined function http.send"},
		{"net lookup", `deny contains "x" if count(net.lookup_ip_addr("example.com")) > 0`, "undefined function net.lookup_ip_addr"},
		{"net cidr", `deny contains "x" if net.cidr_contains("10.0.0.0/8", "10.1.1.1")`, "undefined function net.cidr_contains"},
		{"opa.runtime", `deny contains "x" if opa.runtime().env.HOME`, "undefined function opa.runtime"},
		{"clock", `deny contains "x" if time.now_ns() > 0`, "undefined function time.now_ns"},
		{"time parse", `deny contains "x" if time.parse_rfc3339_ns("2025-01-01T00:00:00Z") > 0`, "undefined function time.parse_rfc3339_ns"},
		{"randomness", `deny contains "x" if rand.intn("a", 10) > 5`, "undefined function rand.intn"},
		{"uuid", `deny contains uuid.rfc4122("a") if true`, "undefined function uuid.rfc4122"},
		{"jwt verify (reads the clock)", `deny contains "x" if io.jwt.decode_verify("a.b.c", {"secret": "s"})[0]`, "undefined function io.jwt.decode_verify"},
		{"numbers.range", `deny contains "x" if count(numbers.range(1, 1000000000)) > 0`, "undefined function numbers.range"},
		{"replace", `deny contains replace(input.finding.id, "a", "bb") if true`, "undefined function replace"},
		{"recursion", "deny contains x if x := f(1)\nf(n) := f(n + 1)", "rule data.stella.policy.f is recursive"},
		{"recursive rules", "deny contains x if some x in a\na contains x if some x in b\nb contains x if some x in a", "is recursive: data.stella.policy.a -> data.stella.policy.b -> data.stella.policy.a"},
		{"deny not a set", `deny if input.finding.severity == "Critical"`, "deny must be a set rule (deny contains msg if { ... })"},
		{"no deny or warn", `allow if true`, "Rego module defines neither deny nor warn"},
		{"v0 syntax", `deny[msg] { msg := "x" }`, "Rego: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newEngine(t).Compile(context.Background(), policy.Source{Format: policy.FormatRego, Content: "package stella.policy\n" + tc.module + "\n"})
			var ve *policy.ValidationErrors
			if !errors.As(err, &ve) || !strings.Contains(ve.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	_, err := newEngine(t).Compile(context.Background(), policy.Source{Format: policy.FormatRego, Content: "package other\ndeny contains 1 if true\n"})
	if err == nil || !strings.Contains(err.Error(), "Rego package must be stella.policy, not other") {
		t.Errorf("wrong package: %v", err)
	}
}

// Errors in an embedded module are reported at the YAML line they are on.
func TestRegoErrorLines(t *testing.T) {
	errs := validationErrors(t, newEngine(t), "version: \"1.0\"\n# a comment\nrego: |\n  package stella.policy\n\n  deny contains x if x := time.now_ns()\n")
	if len(errs) != 1 || errs[0].Line != 6 || errs[0].Path != "$.rego" || !strings.Contains(errs[0].Msg, "undefined function time.now_ns") {
		t.Errorf("errors = %+v, want one on line 6", errs)
	}
}

// Built-in errors fail the evaluation rather than leaving a deny undefined.
func TestRegoRuntimeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, module, want string
	}{
		{"division by zero", `deny contains "x" if 10 / count(input.finding.tags) > 1`, "divide by zero"},
		{"conflicting outputs", "deny contains x if x := pick\npick := t if some t in input.finding.vulnerabilities", "eval_conflict_error: rule data.stella.policy.pick produced conflicting values"},
		{"type error", `deny contains "x" if to_number(input.finding.id) > 1`, "invalid syntax"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compileString(t, newEngine(t), policy.FormatRego, "package stella.policy\n"+tc.module+"\n")
			_, err := p.Evaluate(context.Background(), policy.Input{Findings: []policy.Finding{
				{ID: "ok-1", Tags: []string{"a"}, Vulnerabilities: []string{"CVE-1"}},
				{ID: "bad-2", Vulnerabilities: []string{"CVE-1", "CVE-2"}},
			}})
			if err == nil || !strings.Contains(err.Error(), `finding "bad-2"`) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming bad-2 and %q", err, tc.want)
			}
		})
	}
}

// A module that loops over a large input is stopped by its time budget, per finding and per
// evaluation, and says so.
func TestRegoTimeBudget(t *testing.T) {
	tags := make([]string, 4000)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i)
	}
	slow := "package stella.policy\n" +
		"deny contains \"never\" if {\n  some a in input.finding.tags\n  some b in input.finding.tags\n  some c in input.finding.tags\n  a == b; b == c; a == \"none\"\n}\n"
	walker := "package stella.policy\n" +
		"deny contains \"never\" if {\n  some a in input.finding.tags\n  walk(input, [path, value])\n  value == a\n  count(path) > 10\n}\n"
	for _, tc := range []struct {
		name          string
		module        string
		perFinding    time.Duration
		perEvaluation time.Duration
		findings      int
		want          string
	}{
		{"nested loops, per finding", slow, 100 * time.Millisecond, time.Minute, 1, "per-finding budget 100ms"},
		{"walk, per finding", walker, 100 * time.Millisecond, time.Minute, 1, "per-finding budget 100ms"},
		{"nested loops, per evaluation", slow, time.Minute, 300 * time.Millisecond, 3, "evaluation budget 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := policy.DefaultConfig()
			cfg.Limits.RegoFindingTimeout = tc.perFinding
			cfg.Limits.RegoTimeout = tc.perEvaluation
			p := compileString(t, policy.New(cfg), policy.FormatRego, tc.module)
			fs := make([]policy.Finding, tc.findings)
			for i := range fs {
				fs[i] = policy.Finding{ID: fmt.Sprintf("f%d", i), Tags: tags}
			}
			start := time.Now()
			_, err := p.Evaluate(context.Background(), policy.Input{Findings: fs})
			if !errors.Is(err, policy.ErrTimeBudget) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrTimeBudget (%s)", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// The caller's own deadline is honoured too.
	p := compileString(t, newEngine(t), policy.FormatRego, slow)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Evaluate(ctx, policy.Input{Findings: []policy.Finding{{ID: "f", Tags: tags}}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller deadline: err = %v", err)
	}
}

// concat, sprintf and json.marshal refuse to build huge strings, before building them.
func TestRegoStringCap(t *testing.T) {
	// 100 × 100 references to a 30 kB id: 300 MB if it were ever built.
	tags := make([]string, 100)
	for i := range tags {
		tags[i] = fmt.Sprint(i)
	}
	big := policy.Finding{ID: strings.Repeat("x", 30000), Tags: tags}
	for _, tc := range []struct {
		name, rule, want string
	}{
		{"concat of a cross product", `deny contains concat("", [input.finding.id | some a in input.finding.tags; some b in input.finding.tags])`, "concat: result would exceed 1048576 bytes"},
		{"concat delimiter", `deny contains concat(input.finding.id, input.finding.tags)`, "concat: result would exceed 1048576 bytes"},
		{"sprintf width", `deny contains sprintf("%999999999d", [1])`, "widths and precisions over 99 are not allowed"},
		{"sprintf star width", `deny contains sprintf("%*d", [1000000000, 1])`, "'*' widths and argument indexes are not allowed"},
		{"sprintf of a cross product", `deny contains sprintf("%v", [[input.finding.id | some a in input.finding.tags; some b in input.finding.tags]])`, "sprintf: result would exceed"},
		{"json.marshal of a cross product", `deny contains json.marshal([input.finding.id | some a in input.finding.tags])`, "json.marshal: result would exceed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A generous time budget, so that it is the cap that stops these, not the clock.
			cfg := policy.DefaultConfig()
			cfg.Limits.RegoFindingTimeout = 20 * time.Second
			p := compileString(t, policy.New(cfg), policy.FormatRego, "package stella.policy\n"+tc.rule+" if true\n")
			_, err := p.Evaluate(context.Background(), policy.Input{Findings: []policy.Finding{big}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// Ordinary use is untouched.
	p := compileString(t, newEngine(t), policy.FormatRego,
		`package stella.policy
deny contains sprintf("%s has %d tags: %s (%.2f)", [input.finding.id, count(input.finding.tags), concat(",", input.finding.tags), 1.5]) if true`)
	res := evaluate(t, p, policy.Input{Findings: []policy.Finding{{ID: "a", Tags: []string{"x", "y"}}}})
	if got := res.Verdicts[0].Reasons; len(got) != 1 || got[0] != "a has 2 tags: x,y (1.50)" {
		t.Errorf("reasons = %q", got)
	}
}

// One compiled program serves concurrent evaluations.
func TestRegoConcurrent(t *testing.T) {
	p := compile(t, newEngine(t), "rego/gate.rego")
	fs := loadFindings(t)
	want := evaluate(t, p, policy.Input{Findings: fs})
	errc := make(chan error, 8)
	for range 8 {
		go func() {
			got, err := p.Evaluate(context.Background(), policy.Input{Findings: fs})
			if err == nil && !cmp.Equal(want, got) {
				err = errors.New("different result")
			}
			errc <- err
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}
