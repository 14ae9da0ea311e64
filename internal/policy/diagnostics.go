package policy

import (
	"cmp"
	"context"
	"regexp"
	"slices"
	"strconv"
)

// IssueSeverity grades a diagnostics issue. Errors and warnings make success false; infos
// do not.
type IssueSeverity string

// Issue severities, in the spec's spelling.
const (
	SeverityError   IssueSeverity = "Error"
	SeverityWarning IssueSeverity = "Warning"
	SeverityInfo    IssueSeverity = "Info"
)

func (s IssueSeverity) rank() int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

// Issue is one diagnostics finding about a policy.
type Issue struct {
	Code     string        `json:"code"`
	Message  string        `json:"message"`
	Severity IssueSeverity `json:"severity"`
	Path     string        `json:"path"`
}

// DiagnosticsRequest is the spec's POST /api/v1/policy/diagnostics body.
type DiagnosticsRequest struct {
	Policy Source `json:"policy"`
}

// Diagnostics is the spec's diagnostics response. Success is false while any error or warning
// remains: warnings are overrides someone should look at before the policy goes live.
type Diagnostics struct {
	Success         bool      `json:"success"`
	Version         string    `json:"version,omitempty"`
	RuleCount       int       `json:"ruleCount"`
	ErrorCount      int       `json:"errorCount"`
	WarningCount    int       `json:"warningCount"`
	GeneratedAt     Timestamp `json:"generatedAt"`
	Issues          []Issue   `json:"issues"`
	Recommendations []string  `json:"recommendations"`
}

// Recommendations, in the order they are given.
const (
	recommendFixErrors = "Fix the policy errors; a policy with errors cannot be activated."
	// The spec's wording.
	recommendReviewWarnings = "Review policy warnings and ensure intentional overrides are documented."
	recommendVexVendors     = "Restrict requireVex rules to the VEX vendors you trust so their statements take precedence over anyone else's."
	recommendAddRules       = "Add rules (or a Rego module) so the policy can block or warn on anything."
)

// Diagnose validates and lints a policy without activating it. Its error is only for failures
// of the engine itself (a cancelled context); problems with the policy are issues.
func (e *Engine) Diagnose(ctx context.Context, src Source) (Diagnostics, error) {
	p, errs, err := e.load(ctx, src)
	if err != nil {
		return Diagnostics{}, err
	}
	return e.diagnostics(p, errs), nil
}

// diagnostics reports on a loaded policy (p may hold only a partial document) and its errors.
func (e *Engine) diagnostics(p *Policy, errs []ValidationError) Diagnostics {
	now := e.cfg.Now().UTC()
	d := Diagnostics{GeneratedAt: Timestamp(now), Issues: []Issue{}, Recommendations: []string{}}
	if p != nil && p.doc != nil {
		d.Version = p.doc.Version
		d.RuleCount = len(p.doc.Rules)
		if p.rego != nil {
			d.RuleCount += p.rego.ruleCount
		}
	}
	skip := map[int]bool{}
	for _, ve := range errs {
		d.Issues = append(d.Issues, Issue{Code: ve.Code, Message: issueMessage(ve), Severity: SeverityError, Path: ve.Path})
		if i, ok := ruleIndex(ve.Path); ok {
			skip[i] = true
		}
	}
	if p != nil && p.doc != nil && !hasCode(errs, codeYAMLSyntax, codeLimit) {
		d.Issues = append(d.Issues, lint(p.doc, now, skip, p.rego != nil || p.doc.Rego != "")...)
	}
	slices.SortStableFunc(d.Issues, func(a, b Issue) int {
		return cmp.Or(
			cmp.Compare(ruleOrder(a.Path), ruleOrder(b.Path)),
			cmp.Compare(a.Severity.rank(), b.Severity.rank()),
			comparePaths(a.Path, b.Path),
			cmp.Compare(a.Code, b.Code),
		)
	})
	hasVexAnyVendor := false
	for _, is := range d.Issues {
		switch is.Severity {
		case SeverityError:
			d.ErrorCount++
		case SeverityWarning:
			d.WarningCount++
		}
		hasVexAnyVendor = hasVexAnyVendor || is.Code == codeVexAnyVendor
	}
	d.Success = d.ErrorCount == 0 && d.WarningCount == 0
	if d.ErrorCount > 0 {
		d.Recommendations = append(d.Recommendations, recommendFixErrors)
	}
	if d.WarningCount > 0 {
		d.Recommendations = append(d.Recommendations, recommendReviewWarnings)
	}
	if hasVexAnyVendor {
		d.Recommendations = append(d.Recommendations, recommendVexVendors)
	}
	if d.ErrorCount == 0 && d.RuleCount == 0 {
		d.Recommendations = append(d.Recommendations, recommendAddRules)
	}
	return d
}

// issueMessage carries the line into an issue's message: issues have no line field.
func issueMessage(ve ValidationError) string {
	if ve.Line > 0 {
		return ve.Msg + " (line " + strconv.Itoa(ve.Line) + ")"
	}
	return ve.Msg
}

func hasCode(errs []ValidationError, codes ...string) bool {
	for _, e := range errs {
		if slices.Contains(codes, e.Code) {
			return true
		}
	}
	return false
}

var rulePathRE = regexp.MustCompile(`^\$\.rules\[(\d+)\]`)

// ruleIndex is the index of the rule a path points into.
func ruleIndex(path string) (int, bool) {
	m := rulePathRE.FindStringSubmatch(path)
	if m == nil {
		return 0, false
	}
	i, err := strconv.Atoi(m[1])
	return i, err == nil
}

// ruleOrder sorts document-level issues first, then rule by rule.
func ruleOrder(path string) int {
	if i, ok := ruleIndex(path); ok {
		return i
	}
	return -1
}
