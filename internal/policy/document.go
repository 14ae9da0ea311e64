package policy

// Document is a parsed policy-schema@1 policy. Its JSON encoding is the policy's canonical
// form: the digest is taken over it (RFC 8785), so YAML formatting, comments, key order and the
// short or long spelling of an action never change a digest.
type Document struct {
	// Version is the document's own version ("1.0"), copied to each verdict's configVersion.
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
	// Rules apply first match wins, in file order.
	Rules []Rule `json:"rules"`
	// Scoring overrides the engine's scoring weights key by key.
	Scoring *Scoring `json:"scoring,omitempty"`
	// Rego is an optional Rego v1 module (package stella.policy) evaluated beside the rules,
	// as written. The digest covers its canonical text instead, so comment and layout edits
	// keep the digest.
	Rego string `json:"rego,omitempty"`
}

// Rule is one policy rule: match conditions (all given ones must hold; within one list any
// entry may match; an absent list matches everything) and the action taken on a match.
type Rule struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`

	Severity     []Level  `json:"severity,omitempty"`
	Environments []string `json:"environments,omitempty"`
	Sources      []string `json:"sources,omitempty"`
	Vendors      []string `json:"vendors,omitempty"`
	// Packages are purl patterns; '*' matches any run of characters. A pattern without '@'
	// also matches the purl with its version, qualifiers and subpath removed.
	Packages        []string `json:"packages,omitempty"`
	Vulnerabilities []string `json:"vulnerabilities,omitempty"`
	Licenses        []string `json:"licenses,omitempty"`
	Tags            []string `json:"tags,omitempty"`

	Action Action `json:"action"`
	// Quiet and Justification may sit on the rule or on its action; the action's win.
	Quiet         *bool  `json:"quiet,omitempty"`
	Justification string `json:"justification,omitempty"`
	// Expires is a date (YYYY-MM-DD, the end of that day UTC) or an RFC 3339 time after which
	// the rule no longer applies.
	Expires string `json:"expires,omitempty"`
}

// ActionType is what a matching rule does.
type ActionType string

// Action types.
const (
	ActionBlock      ActionType = "block"
	ActionWarn       ActionType = "warn"
	ActionIgnore     ActionType = "ignore"
	ActionEscalate   ActionType = "escalate"
	ActionRequireVex ActionType = "requireVex"
)

// actionTypes lists the action types in schema order.
var actionTypes = []ActionType{ActionBlock, ActionWarn, ActionIgnore, ActionEscalate, ActionRequireVex}

// Action is a rule's action. In YAML it is either a bare type (`action: block`) or an object
// (`action: {type: ignore, justification: ..., quiet: true}`); both decode to this.
type Action struct {
	Type          ActionType  `json:"type"`
	Justification string      `json:"justification,omitempty"`
	Quiet         *bool       `json:"quiet,omitempty"`
	RequireVex    *RequireVex `json:"requireVex,omitempty"`
}

// RequireVex is the evidence a requireVex action accepts: a not_affected VEX statement from one
// of Vendors (any vendor when empty) giving one of Justifications (any when empty).
type RequireVex struct {
	Vendors        []string `json:"vendors,omitempty"`
	Justifications []string `json:"justifications,omitempty"`
}

// verdictAction is the spec's ruleAction spelling ("Block", "RequireVex").
func (t ActionType) verdictAction() string {
	switch t {
	case ActionBlock:
		return "Block"
	case ActionWarn:
		return "Warn"
	case ActionIgnore:
		return "Ignore"
	case ActionEscalate:
		return "Escalate"
	case ActionRequireVex:
		return "RequireVex"
	}
	return string(t)
}

// suppresses reports whether the action hides a finding (ignore, or requireVex when its
// evidence is there). Only such actions may quiet a finding.
func (t ActionType) suppresses() bool {
	return t == ActionIgnore || t == ActionRequireVex
}

// quietRequested is the rule's effective quiet request: the action's flag, else the rule's,
// else true for suppressing actions. An ignore is a request to silence a finding, and silencing
// is quieting unless the author says `quiet: false`.
func (r *Rule) quietRequested() bool {
	switch {
	case r.Action.Quiet != nil:
		return *r.Action.Quiet
	case r.Quiet != nil:
		return *r.Quiet
	}
	return r.Action.Type.suppresses()
}

// justification is the rule's effective justification: the action's, else the rule's.
func (r *Rule) justification() string {
	if r.Action.Justification != "" {
		return r.Action.Justification
	}
	return r.Justification
}

// quietAllowed reports whether a quiet request can be honoured: quieting hides a finding, so
// it needs VEX evidence, which only a requireVex action with justifications demands.
func (r *Rule) quietAllowed() bool {
	return r.Action.Type == ActionRequireVex && r.Action.RequireVex != nil && len(r.Action.RequireVex.Justifications) > 0
}

// matchesEverything reports whether the rule has no match condition at all.
func (r *Rule) matchesEverything() bool {
	return len(r.Severity) == 0 && len(r.Environments) == 0 && len(r.Sources) == 0 && len(r.Vendors) == 0 &&
		len(r.Packages) == 0 && len(r.Vulnerabilities) == 0 && len(r.Licenses) == 0 && len(r.Tags) == 0
}
