package policy

import (
	"fmt"
	"strings"
	"time"
)

// Lint issue codes: things a valid policy does that are probably not what its author meant.
const (
	codeQuietMissingVex     = "policy.rule.quiet.missing_vex"
	codeQuietUnsupported    = "policy.rule.quiet.unsupported_action"
	codeRuleExpired         = "policy.rule.expired"
	codeRuleUnreachable     = "policy.rule.unreachable"
	codeMissingJustifcation = "policy.rule.justification.missing"
	codeMatchesEverything   = "policy.rule.match.all"
	codeVexAnyVendor        = "policy.rule.requirevex.any_vendor"
	codeNoRules             = "policy.rules.empty"
)

// lint checks a decoded document. skip holds the indexes of rules that already have
// validation errors: their half-decoded content would only give misleading warnings.
func lint(doc *Document, now time.Time, skip map[int]bool, hasRego bool) []Issue {
	var issues []Issue
	add := func(sev IssueSeverity, code, path, format string, args ...any) {
		issues = append(issues, Issue{Code: code, Message: fmt.Sprintf(format, args...), Severity: sev, Path: path})
	}
	if len(doc.Rules) == 0 && !hasRego {
		add(SeverityInfo, codeNoRules, "$.rules", "Policy has no rules: every finding passes.")
	}
	rules := compileRules(doc.Rules)
	for i := range rules {
		if skip[i] {
			continue
		}
		c := &rules[i]
		r := c.rule
		path := c.path
		if r.quietRequested() && !r.quietAllowed() {
			if r.Action.Type.suppresses() {
				// The spec's message, word for word.
				add(SeverityWarning, codeQuietMissingVex, path, "Quiet flag ignored: rule must specify requireVex justifications.")
			} else {
				add(SeverityWarning, codeQuietUnsupported, path,
					"Quiet flag ignored: a %s rule cannot quiet findings; only ignore and requireVex rules can.", r.Action.Type)
			}
		}
		if r.Action.Type.suppresses() && c.justification == "" {
			add(SeverityWarning, codeMissingJustifcation, path,
				"Rule %s findings without a justification: say why they are acceptable.", pastTense(r.Action.Type))
		}
		if r.Action.Type == ActionRequireVex && len(c.vexVendors) == 0 {
			add(SeverityInfo, codeVexAnyVendor, pathKey(path, "action"),
				"requireVex accepts a VEX statement from any vendor; list the vendors you trust.")
		}
		if c.expired(now) {
			add(SeverityWarning, codeRuleExpired, pathKey(path, "expires"),
				"Rule expired at %s and no longer applies.", c.expires.UTC().Format(time.RFC3339))
			continue
		}
		if r.matchesEverything() && i < len(rules)-1 {
			add(SeverityInfo, codeMatchesEverything, path,
				"Rule has no conditions and decides every finding; the rules after it never apply.")
		}
		for j := range i {
			e := &rules[j]
			if skip[j] || e.expired(now) || !e.covers(c) {
				continue
			}
			add(SeverityWarning, codeRuleUnreachable, path,
				"Rule can never apply: every finding it matches is decided first by %s ('%s').", e.path, e.rule.Name)
			break
		}
	}
	return issues
}

func pastTense(t ActionType) string {
	if t == ActionRequireVex {
		return "waives"
	}
	return "ignores"
}

// covers reports whether every finding c matches is also matched by e, so that with e earlier
// in the file c never decides anything. It errs towards false: a missed warning is better than
// a wrong one.
func (e *compiledRule) covers(c *compiledRule) bool {
	if e.sevMask != 0 && (c.sevMask == 0 || c.sevMask&^e.sevMask != 0) {
		return false
	}
	for _, pair := range [][2][]string{
		{e.envs, c.envs}, {e.sources, c.sources}, {e.vendors, c.vendors},
		{e.vulns, c.vulns}, {e.licenses, c.licenses}, {e.tags, c.tags},
	} {
		if !listCovers(pair[0], pair[1]) {
			return false
		}
	}
	if e.packages == nil {
		return true
	}
	if c.packages == nil {
		return false
	}
	for _, h := range c.packages {
		if !globsCover(e.packages, h) {
			return false
		}
	}
	return true
}

// listCovers: an absent list matches anything; otherwise every value of inner must be in outer.
func listCovers(outer, inner []string) bool {
	if outer == nil {
		return true
	}
	if inner == nil {
		return false
	}
	for _, v := range inner {
		if !containsFold(outer, v) {
			return false
		}
	}
	return true
}

// globsCover reports whether some pattern in outer matches everything pattern h matches.
// Patterns have one wildcard, '*', so outer pattern g covers h when g matches h's text with h's
// stars taken literally: each of h's stars must then fall inside one of g's, which absorbs
// whatever the star expands to.
func globsCover(outer []glob, h glob) bool {
	for _, g := range outer {
		if g.match(h.raw) {
			return true
		}
		// A version-less g matches every version of a package that h pins.
		if !g.hasAt && h.hasAt {
			if vl := purlWithoutVersion(h.raw); !strings.Contains(vl, "*") && g.match(vl) {
				return true
			}
		}
	}
	return false
}
