package policy

import (
	"fmt"
	"strings"
	"time"
)

// compiledRule is a rule prepared for matching: lists folded to lower case, severities as a
// bit mask, package patterns split at their wildcards, expiry parsed.
type compiledRule struct {
	index    int
	rule     *Rule
	path     string
	sevMask  uint8    // 0: any severity
	envs     []string // nil: any; lists are compared ignoring case
	sources  []string
	vendors  []string
	packages []glob
	vulns    []string
	licenses []string
	tags     []string
	expires  time.Time // zero: never
	// quiet is the effective quiet: requested and allowed (quietAllowed).
	quiet         bool
	justification string
	vexVendors    []string
	vexJust       []string
}

func compileRules(rules []Rule) []compiledRule {
	out := make([]compiledRule, len(rules))
	for i := range rules {
		r := &rules[i]
		c := compiledRule{
			index:         i,
			rule:          r,
			path:          pathIndex("$.rules", i),
			envs:          r.Environments,
			sources:       r.Sources,
			vendors:       r.Vendors,
			vulns:         r.Vulnerabilities,
			licenses:      r.Licenses,
			tags:          r.Tags,
			quiet:         r.quietRequested() && r.quietAllowed(),
			justification: r.justification(),
		}
		for _, l := range r.Severity {
			c.sevMask |= l.bit()
		}
		for _, p := range r.Packages {
			c.packages = append(c.packages, compileGlob(p))
		}
		if r.Expires != "" {
			c.expires, _ = parseExpiry(r.Expires) // validated by the decoder
		}
		if rv := r.Action.RequireVex; rv != nil {
			c.vexVendors = rv.Vendors
			c.vexJust = rv.Justifications
		}
		out[i] = c
	}
	return out
}

// expired reports whether the rule no longer applies at now.
func (c *compiledRule) expired(now time.Time) bool {
	return !c.expires.IsZero() && !now.Before(c.expires)
}

// condition names one of a rule's match conditions.
type condition uint8

const (
	condNone condition = iota
	condSeverity
	condEnvironment
	condSource
	condVendor
	condPackage
	condVulnerability
	condLicense
	condTag
)

// failing returns the first of the rule's conditions that f does not meet, condNone when f
// meets them all. It allocates nothing: this is the evaluation's inner loop.
func (c *compiledRule) failing(f *preparedFinding) condition {
	switch {
	case c.sevMask != 0 && c.sevMask&f.level.bit() == 0:
		return condSeverity
	case c.envs != nil && !containsFold(c.envs, f.env):
		return condEnvironment
	case c.sources != nil && !containsFold(c.sources, f.f.Source):
		return condSource
	case c.vendors != nil && !containsFold(c.vendors, f.f.Vendor):
		return condVendor
	case c.packages != nil && !c.matchPackage(f):
		return condPackage
	case c.vulns != nil && !anyIn(f.f.Vulnerabilities, c.vulns):
		return condVulnerability
	case c.licenses != nil && !anyIn(f.f.Licenses, c.licenses):
		return condLicense
	case c.tags != nil && !anyIn(f.f.Tags, c.tags):
		return condTag
	}
	return condNone
}

// reason explains, for a trace, why the rule failed on condition failed, or what matched.
func (c *compiledRule) reason(f *preparedFinding, failed condition) string {
	r := c.rule
	missing := func(what string, want []string) string {
		return fmt.Sprintf("the finding has no %s (rule needs one of %v)", what, want)
	}
	switch failed {
	case condSeverity:
		return fmt.Sprintf("severity %s is not in %v", f.level, r.Severity)
	case condEnvironment:
		if f.env == "" {
			return missing("environment", r.Environments)
		}
		return fmt.Sprintf("environment %q is not in %v", f.env, r.Environments)
	case condSource:
		if f.f.Source == "" {
			return missing("source", r.Sources)
		}
		return fmt.Sprintf("source %q is not in %v", f.f.Source, r.Sources)
	case condVendor:
		if f.f.Vendor == "" {
			return missing("vendor", r.Vendors)
		}
		return fmt.Sprintf("vendor %q is not in %v", f.f.Vendor, r.Vendors)
	case condPackage:
		if f.f.Package == "" {
			return missing("package", r.Packages)
		}
		return fmt.Sprintf("package %q matches none of %v", f.f.Package, r.Packages)
	case condVulnerability:
		if len(f.f.Vulnerabilities) == 0 {
			return missing("vulnerability ids", r.Vulnerabilities)
		}
		return fmt.Sprintf("none of the vulnerability ids %v is in %v", f.f.Vulnerabilities, r.Vulnerabilities)
	case condLicense:
		if len(f.f.Licenses) == 0 {
			return missing("licenses", r.Licenses)
		}
		return fmt.Sprintf("none of the licenses %v is in %v", f.f.Licenses, r.Licenses)
	case condTag:
		if len(f.f.Tags) == 0 {
			return missing("tags", r.Tags)
		}
		return fmt.Sprintf("none of the tags %v is in %v", f.f.Tags, r.Tags)
	}
	var held []string
	if c.sevMask != 0 {
		held = append(held, "severity "+string(f.level))
	}
	if c.envs != nil {
		held = append(held, "environment "+f.env)
	}
	if c.sources != nil {
		held = append(held, "source "+f.f.Source)
	}
	if c.vendors != nil {
		held = append(held, "vendor "+f.f.Vendor)
	}
	if c.packages != nil {
		held = append(held, "package "+f.f.Package)
	}
	if c.vulns != nil {
		held = append(held, "vulnerability")
	}
	if c.licenses != nil {
		held = append(held, "license")
	}
	if c.tags != nil {
		held = append(held, "tag")
	}
	if len(held) == 0 {
		return "the rule has no conditions: it matches every finding"
	}
	return "matched on " + strings.Join(held, ", ")
}

func (c *compiledRule) matchPackage(f *preparedFinding) bool {
	if f.f.Package == "" {
		return false
	}
	for _, g := range c.packages {
		if g.match(f.f.Package) || (!g.hasAt && g.match(f.pkgNoVer)) {
			return true
		}
	}
	return false
}

// vexSatisfied reports whether f carries the VEX evidence a requireVex action asks for: a
// not_affected statement from an accepted vendor with an accepted justification.
func (c *compiledRule) vexSatisfied(f *preparedFinding) bool {
	for _, v := range f.f.VEX {
		if !strings.EqualFold(v.Status, vexNotAffected) {
			continue
		}
		if c.vexVendors != nil && !containsFold(c.vexVendors, v.Vendor) {
			continue
		}
		if c.vexJust != nil && !containsFold(c.vexJust, v.Justification) {
			continue
		}
		return true
	}
	return false
}

// containsFold reports whether list holds s, ignoring case. Rule lists are short, so a scan
// beats a map; the length check skips most EqualFold calls.
func containsFold(list []string, s string) bool {
	if s == "" {
		return false
	}
	for _, x := range list {
		if x == s || (len(x) == len(s) && strings.EqualFold(x, s)) {
			return true
		}
	}
	return false
}

func anyIn(have, want []string) bool {
	for _, h := range have {
		if containsFold(want, h) {
			return true
		}
	}
	return false
}

// glob is a purl pattern whose only wildcard is '*' (any run of characters, '/' included).
// With one wildcard kind, matching is a prefix, a suffix and the middle parts in order.
type glob struct {
	raw   string
	parts []string
	hasAt bool // patterns with '@' name versions; others also match version-less purls
}

func compileGlob(p string) glob {
	slash := strings.LastIndexByte(p, '/')
	return glob{raw: p, parts: strings.Split(p, "*"), hasAt: strings.IndexByte(p[slash+1:], '@') >= 0}
}

func (g glob) match(s string) bool {
	if len(g.parts) == 1 {
		return s == g.parts[0]
	}
	first, last := g.parts[0], g.parts[len(g.parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, mid := range g.parts[1 : len(g.parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return true
}
