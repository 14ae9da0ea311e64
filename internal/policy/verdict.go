package policy

// Status is a verdict's outcome for one finding.
type Status string

// Verdict statuses, in the spec's spelling.
const (
	StatusPass      Status = "Pass"
	StatusWarn      Status = "Warn"
	StatusBlocked   Status = "Blocked"
	StatusIgnored   Status = "Ignored"
	StatusQuieted   Status = "Quieted"
	StatusEscalated Status = "Escalated"
)

// Verdict is the policy's decision on one finding, shaped as the spec's report verdicts[]:
//
//	{"findingId":"finding-1","status":"Blocked","ruleName":"Block Critical","ruleAction":"Block",
//	 "score":40.5,"configVersion":"1.0","inputs":{"baseScore":40.5,"reachabilityWeight":0.45,
//	 "reachability.runtime":0.45,"severityWeight":90,"trustWeight":1,"trustWeight.NVD":1},
//	 "quiet":false,"sourceTrust":"NVD","reachability":"runtime"}
//
// quiet is always written (a signed report states it); empty strings and lists are left out.
type Verdict struct {
	FindingID     string             `json:"findingId"`
	Status        Status             `json:"status"`
	RuleName      string             `json:"ruleName,omitempty"`
	RuleAction    string             `json:"ruleAction,omitempty"`
	Score         float64            `json:"score"`
	ConfigVersion string             `json:"configVersion,omitempty"`
	Inputs        map[string]float64 `json:"inputs,omitempty"`
	Quiet         bool               `json:"quiet"`
	QuietedBy     string             `json:"quietedBy,omitempty"`
	SourceTrust   string             `json:"sourceTrust,omitempty"`
	Reachability  string             `json:"reachability,omitempty"`
	// Justification is the deciding rule's justification, when it has one.
	Justification string `json:"justification,omitempty"`
	// Reasons are the Rego deny (or warn) messages that decided the verdict, sorted.
	Reasons []string `json:"reasons,omitempty"`
}

// compactVerdict is a verdict as preview diffs show it (§2.3): a synthesised baseline is only
// {"findingId","status"}, so zero scores and false flags are left out rather than invented.
type compactVerdict struct {
	FindingID     string             `json:"findingId"`
	Status        Status             `json:"status"`
	RuleName      string             `json:"ruleName,omitempty"`
	RuleAction    string             `json:"ruleAction,omitempty"`
	Score         *float64           `json:"score,omitempty"`
	ConfigVersion string             `json:"configVersion,omitempty"`
	Inputs        map[string]float64 `json:"inputs,omitempty"`
	Quiet         bool               `json:"quiet,omitempty"`
	QuietedBy     string             `json:"quietedBy,omitempty"`
	SourceTrust   string             `json:"sourceTrust,omitempty"`
	Reachability  string             `json:"reachability,omitempty"`
	Justification string             `json:"justification,omitempty"`
	Reasons       []string           `json:"reasons,omitempty"`
}

func (v Verdict) compact() compactVerdict {
	c := compactVerdict{
		FindingID: v.FindingID, Status: v.Status, RuleName: v.RuleName, RuleAction: v.RuleAction,
		ConfigVersion: v.ConfigVersion, Inputs: v.Inputs, Quiet: v.Quiet, QuietedBy: v.QuietedBy,
		SourceTrust: v.SourceTrust, Reachability: v.Reachability, Justification: v.Justification,
		Reasons: v.Reasons,
	}
	// A verdict that was scored has inputs; a synthesised or hand-written baseline may not.
	if v.Inputs != nil || v.Score != 0 {
		s := v.Score
		c.Score = &s
	}
	return c
}

// Summary counts verdicts by outcome, as the spec's report summary. Escalated is our
// addition and is written only when non-zero, so reports without escalations keep the
// spec's shape.
type Summary struct {
	Total     int `json:"total"`
	Blocked   int `json:"blocked"`
	Warned    int `json:"warned"`
	Ignored   int `json:"ignored"`
	Quieted   int `json:"quieted"`
	Escalated int `json:"escalated,omitempty"`
}

func (s *Summary) add(st Status) {
	s.Total++
	switch st {
	case StatusBlocked:
		s.Blocked++
	case StatusWarn:
		s.Warned++
	case StatusIgnored:
		s.Ignored++
	case StatusQuieted:
		s.Quieted++
	case StatusEscalated:
		s.Escalated++
	}
}

// PolicyStatus is the overall outcome of an evaluation: the spec's policyStatus, and the
// report's verdict.
type PolicyStatus string

// Policy statuses. Blocked is what the CLI turns into exit code 1.
const (
	PolicyPass    PolicyStatus = "pass"
	PolicyWarn    PolicyStatus = "warn"
	PolicyBlocked PolicyStatus = "blocked"
)

// Result is an evaluation of a set of findings.
type Result struct {
	PolicyDigest  string       `json:"policyDigest"`
	ConfigVersion string       `json:"configVersion,omitempty"`
	Threshold     Level        `json:"threshold"`
	PolicyStatus  PolicyStatus `json:"policyStatus"`
	Summary       Summary      `json:"summary"`
	// Verdicts are sorted by finding id.
	Verdicts []Verdict `json:"verdicts"`
	// Explanations, when asked for, are in the same order as Verdicts.
	Explanations []Explanation `json:"explanations,omitempty"`
}

// policyStatus decides the overall outcome: blocked when any finding is blocked or when a
// finding that is not ignored or quieted reaches the threshold (an escalated one at its raised
// level); warn when any finding warns or is escalated; otherwise pass.
func policyStatus(verdicts []Verdict, levels []Level, threshold Level) PolicyStatus {
	out := PolicyPass
	for i, v := range verdicts {
		lvl := levels[i]
		switch v.Status {
		case StatusBlocked:
			return PolicyBlocked
		case StatusIgnored, StatusQuieted:
			continue
		case StatusEscalated:
			lvl = lvl.escalated()
			out = PolicyWarn
		case StatusWarn:
			out = PolicyWarn
		}
		if lvl.rank() >= threshold.rank() && lvl != LevelUnknown {
			return PolicyBlocked
		}
	}
	return out
}
