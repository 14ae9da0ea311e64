// Package policy owns StellaOps policies: the policy-schema@1 YAML format and its JSON Schema,
// validation and diagnostics, rule evaluation and scoring into per-finding verdicts, preview
// of a staged policy against baselines, digests and revisions, and Rego policies run in a
// sandbox. It decides; it does not scan, match, sign or store, and it never touches the
// network or reads the clock except through Config.Now.
//
// # Formats
//
// A YAML policy (policy-schema@1, see Schema and testdata/*.yaml):
//
//	version: "1.0"
//	rules:
//	  - name: Block Critical
//	    severity: [Critical]
//	    action: block
//	  - name: Waive dev with vendor VEX
//	    environments: [dev]
//	    packages: ["pkg:npm/*"]
//	    action:
//	      type: requireVex
//	      requireVex: {vendors: [Acme], justifications: [component_not_present]}
//	      quiet: true
//	      justification: vendor statement
//	scoring:
//	  severityWeights: {Critical: 90}
//	rego: |
//	  package stella.policy
//	  deny contains msg if { input.finding.severity == "Critical"; input.finding.reachability == "runtime"; msg := "runtime critical" }
//
// A Rego policy alone is a Rego v1 module, package stella.policy, defining deny and/or warn as
// set rules (deny contains msg if { ... }).
//
// # Evaluation order
//
// Rules are tried in file order; expired rules are skipped; the first rule whose conditions
// all hold decides. Then the Rego module runs on the same finding: a deny makes the verdict
// Blocked whatever the rules decided, a warn turns a Pass into Warn. See [Policy.Evaluate].
// Findings are independent and are evaluated in parallel chunks; results are placed by finding
// id, so the output is the same bytes whatever the scheduling.
//
// # Quiet
//
// An ignore asks for its findings to be quieted (hidden, but counted) unless the rule says
// quiet: false. Quieting is honoured only for a requireVex action with justifications, whose
// VEX evidence is present; anywhere else the finding is just Ignored and diagnostics report
// policy.rule.quiet.missing_vex.
//
// # Rego input
//
// Each finding is evaluated on its own, with this input document:
//
//	{"finding": {"id", "severity" (normalised: Critical … Unknown), "rawSeverity", "source",
//	             "vendor", "package", "vulnerabilities": [], "licenses": [], "tags": [],
//	             "environment", "reachability", "vex": [{"vendor","status","justification"}],
//	             "score"},
//	 "context": {"imageDigest", "environment"}}
//
// Absent strings are "" and absent lists [], so rules need no existence checks.
//
// # Rego sandbox
//
// Only pure built-ins are available (regoAllowedBuiltins): no http.send, net.*, opa.runtime,
// time.* or randomness, so a policy cannot reach the network or observe the clock, and OPA's
// own evaluation time is the injected clock. Built-ins that can build large strings (concat,
// sprintf, json.marshal) are capped at Limits.MaxRegoStringBytes; amplifiers such as
// numbers.range are absent. Recursion is rejected by the Rego compiler. Every finding is
// evaluated under a time budget (Limits.RegoFindingTimeout) inside one for the whole call
// (Limits.RegoTimeout); a policy that runs past either fails with ErrTimeBudget. Built-in
// errors fail the evaluation (StrictBuiltinErrors) instead of silently passing a finding.
// Memory is bounded by these together with the input limits, not by a hard cap: Go has no
// per-goroutine memory limit.
package policy
