package policy

// Explanation says how a finding's verdict came about: every rule in evaluation order with
// what it did, the Rego outcome, and the decision in one sentence.
type Explanation struct {
	FindingID    string    `json:"findingId"`
	PolicyDigest string    `json:"policyDigest"`
	RevisionID   string    `json:"revisionId,omitempty"`
	EvaluatedAt  Timestamp `json:"evaluatedAt"`
	// Severity is the finding's severity as the policy read it.
	Severity Level  `json:"severity"`
	Status   Status `json:"status"`
	Decision string `json:"decision"`
	// Rules lists every rule, in file order.
	Rules []RuleTrace `json:"rules"`
	Rego  *RegoTrace  `json:"rego,omitempty"`
	Score ScoreTrace  `json:"score"`
}

// RuleOutcome is what one rule did for a finding.
type RuleOutcome string

// Rule outcomes. Rules after the deciding one are not evaluated (first match wins).
const (
	RuleMatched      RuleOutcome = "matched"
	RuleNotMatched   RuleOutcome = "not-matched"
	RuleExpired      RuleOutcome = "expired"
	RuleNotEvaluated RuleOutcome = "not-evaluated"
)

// RuleTrace is one rule's part in a decision.
type RuleTrace struct {
	Index   int         `json:"index"`
	Path    string      `json:"path"`
	Name    string      `json:"name"`
	Action  string      `json:"action"`
	Outcome RuleOutcome `json:"outcome"`
	Reason  string      `json:"reason"`
}

// RegoTrace is the Rego module's messages for a finding and what they did to the verdict.
type RegoTrace struct {
	Deny   []string `json:"deny"`
	Warn   []string `json:"warn"`
	Effect string   `json:"effect"`
}

// ScoreTrace restates the score's formula with the finding's numbers.
type ScoreTrace struct {
	Formula string             `json:"formula"`
	Inputs  map[string]float64 `json:"inputs"`
	Score   float64            `json:"score"`
}
