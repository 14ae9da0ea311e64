package policy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrInputTooLarge is wrapped when an evaluation's findings exceed Limits.
var ErrInputTooLarge = errors.New("policy input too large")

// Input is one evaluation: the findings of an image and the context they are judged in.
type Input struct {
	ImageDigest string
	// Environment applies to findings that do not name their own.
	Environment string
	Findings    []Finding
	// Threshold overrides the engine's threshold ("" keeps it).
	Threshold Level
	// Explain asks for an Explanation per finding (costs about as much as the evaluation).
	Explain bool
}

// Evaluate judges every finding. For each one, in order:
//
//  1. The rules are tried in file order, skipping expired ones; the first whose conditions
//     all hold decides (block → Blocked, warn → Warn, escalate → Escalated, ignore → Ignored,
//     requireVex → Ignored or Quieted with the required VEX evidence, Blocked without).
//     No match is Pass.
//  2. The Rego module, if any, runs over the same finding: any deny makes the verdict Blocked
//     whatever the rules said (a deny beats an ignore); a warn turns a Pass into Warn.
//  3. The score is computed from the scoring weights (see Scoring); it does not depend on the
//     status.
//
// Verdicts are sorted by finding id. The policy status is decided at the threshold (see
// PolicyStatus). Evaluation reads the clock once, for rule expiry, through Config.Now.
func (p *Policy) Evaluate(ctx context.Context, in Input) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("evaluating policy: %w", err)
	}
	lim := p.cfg.Limits
	if len(in.Findings) > lim.MaxFindings {
		return Result{}, fmt.Errorf("%w: %d findings, over the limit of %d", ErrInputTooLarge, len(in.Findings), lim.MaxFindings)
	}
	for i := range in.Findings {
		if n := in.Findings[i].size(); n > lim.MaxFindingBytes {
			return Result{}, fmt.Errorf("%w: finding %q is about %d bytes, over the limit of %d",
				ErrInputTooLarge, truncate(in.Findings[i].ID, 80), n, lim.MaxFindingBytes)
		}
	}
	threshold := in.Threshold
	if threshold == "" {
		threshold = p.cfg.Threshold
	}
	now := p.cfg.Now().UTC()
	res := Result{
		PolicyDigest:  p.digest,
		ConfigVersion: p.doc.Version,
		Threshold:     threshold,
	}
	order := make([]int, len(in.Findings))
	for i := range order {
		order[i] = i
	}
	// By id, ties in input order. Scanners usually send findings sorted already.
	byID := func(a, b int) int {
		return cmp.Or(strings.Compare(in.Findings[a].ID, in.Findings[b].ID), cmp.Compare(a, b))
	}
	if !slices.IsSortedFunc(order, byID) {
		slices.SortFunc(order, byID)
	}

	regoCtx := ctx
	if p.rego != nil {
		var cancel context.CancelFunc
		regoCtx, cancel = context.WithTimeout(ctx, lim.RegoTimeout)
		defer cancel()
	}
	// Expiry is decided once per evaluation, not per finding and rule.
	expired := make([]bool, len(p.rules))
	for i := range p.rules {
		expired[i] = p.rules[i].expired(now)
	}
	n := len(in.Findings)
	res.Verdicts = make([]Verdict, n)
	levels := make([]Level, n)
	if in.Explain {
		res.Explanations = make([]Explanation, n)
	}
	// Findings are independent, so they are shared out in chunks; every result goes to its
	// finding's sorted position, so the output does not depend on which worker ran first.
	err := inChunks(regoCtx, n, p.cfg.Parallelism, func(ctx context.Context, lo, hi int) error {
		for k := lo; k < hi; k++ {
			if (k-lo)%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			f := prepare(&in.Findings[order[k]], in.Environment)
			var ex *Explanation
			if in.Explain {
				ex = &res.Explanations[k]
				*ex = Explanation{FindingID: f.f.ID, PolicyDigest: p.digest, RevisionID: p.revisionID,
					EvaluatedAt: Timestamp(now), Severity: f.level, Rules: make([]RuleTrace, 0, len(p.rules))}
			}
			v := p.decide(&f, expired, ex)
			if p.rego != nil {
				out, err := p.rego.eval(ctx, p.rego.input(&f, v.Score, in.ImageDigest), now, f.f.ID)
				if err != nil {
					return err
				}
				applyRego(&v, out, ex)
			}
			if ex != nil {
				ex.Status = v.Status
				ex.Decision = decision(v)
				ex.Score = ScoreTrace{Formula: "severityWeight × trustWeight × reachabilityWeight", Inputs: v.Inputs, Score: v.Score}
			}
			res.Verdicts[k] = v
			levels[k] = f.level
		}
		return nil
	})
	if err != nil {
		// When the caller gave up, that is the reason, whatever the workers saw.
		if cerr := ctx.Err(); cerr != nil {
			return Result{}, fmt.Errorf("evaluating policy: %w", cerr)
		}
		return Result{}, fmt.Errorf("evaluating policy: %w", err)
	}
	for _, v := range res.Verdicts {
		res.Summary.add(v.Status)
	}
	res.PolicyStatus = policyStatus(res.Verdicts, levels, threshold)
	return res, nil
}

// Explain evaluates one finding and returns its explanation.
func (p *Policy) Explain(ctx context.Context, f Finding, environment string) (Explanation, error) {
	res, err := p.Evaluate(ctx, Input{Environment: environment, Findings: []Finding{f}, Explain: true})
	if err != nil {
		return Explanation{}, err
	}
	return res.Explanations[0], nil
}

// decide applies the rules, first match wins, skipping expired ones, and scores the finding.
func (p *Policy) decide(f *preparedFinding, expired []bool, ex *Explanation) Verdict {
	v := Verdict{FindingID: f.f.ID, Status: StatusPass, ConfigVersion: p.doc.Version}
	p.scorer.score(f, &v)
	decided := false
	for i := range p.rules {
		c := &p.rules[i]
		var tr *RuleTrace
		if ex != nil {
			ex.Rules = append(ex.Rules, RuleTrace{Index: c.index, Path: c.path, Name: c.rule.Name, Action: string(c.rule.Action.Type)})
			tr = &ex.Rules[len(ex.Rules)-1]
		}
		switch {
		case decided:
			if tr == nil {
				return v
			}
			tr.Outcome, tr.Reason = RuleNotEvaluated, "an earlier rule decided"
			continue
		case expired[i]:
			if tr != nil {
				tr.Outcome, tr.Reason = RuleExpired, "expired at "+c.expires.UTC().Format(time.RFC3339)
			}
			continue
		}
		failed := c.failing(f)
		if tr != nil {
			tr.Reason = c.reason(f, failed)
		}
		if failed != condNone {
			if tr != nil {
				tr.Outcome = RuleNotMatched
			}
			continue
		}
		decided = true
		outcome := c.apply(f, &v, tr != nil)
		if tr != nil {
			tr.Outcome = RuleMatched
			tr.Reason += "; " + outcome
		}
	}
	if ex != nil && ex.Rules == nil {
		ex.Rules = []RuleTrace{}
	}
	return v
}

// apply sets the verdict a matching rule gives. With explain it also returns a note on the
// outcome for the trace; without, it builds no strings.
func (c *compiledRule) apply(f *preparedFinding, v *Verdict, explain bool) string {
	r := c.rule
	v.RuleName = r.Name
	v.RuleAction = r.Action.Type.verdictAction()
	v.Justification = c.justification
	note := ""
	switch r.Action.Type {
	case ActionBlock:
		v.Status, note = StatusBlocked, "blocked"
	case ActionWarn:
		v.Status, note = StatusWarn, "warn"
	case ActionEscalate:
		v.Status = StatusEscalated
		if explain {
			note = fmt.Sprintf("escalated from %s to %s for the policy status", f.level, f.level.escalated())
		}
	case ActionIgnore:
		v.Status, note = StatusIgnored, "ignored"
		if r.quietRequested() {
			note = "ignored, not quieted: quieting needs a requireVex action with justifications"
		}
	case ActionRequireVex:
		switch {
		case !c.vexSatisfied(f):
			v.Status, note = StatusBlocked, "blocked: no not_affected VEX statement from an accepted vendor with an accepted justification"
		case c.quiet:
			v.Status, v.Quiet, v.QuietedBy = StatusQuieted, true, r.Name
			note = "quieted: the required VEX evidence is present"
		default:
			v.Status, note = StatusIgnored, "ignored: the required VEX evidence is present"
		}
	}
	return note
}

// applyRego folds the Rego outcome into v: deny wins over everything, warn only over Pass.
func applyRego(v *Verdict, out regoOutcome, ex *Explanation) {
	effect := "none"
	switch {
	case len(out.deny) > 0:
		effect = "blocked (a Rego deny overrides the rules)"
		v.Status, v.RuleName, v.RuleAction = StatusBlocked, "stella.policy.deny", "Block"
		v.Quiet, v.QuietedBy, v.Justification = false, "", ""
		v.Reasons = out.deny
	case len(out.warn) > 0 && v.Status == StatusPass:
		effect = "warn (a Rego warn turns a pass into a warning)"
		v.Status, v.RuleName, v.RuleAction = StatusWarn, "stella.policy.warn", "Warn"
		v.Reasons = out.warn
	case len(out.warn) > 0:
		effect = "none (warn does not override the rules' " + string(v.Status) + ")"
	}
	if ex != nil {
		ex.Rego = &RegoTrace{Deny: nonNil(out.deny), Warn: nonNil(out.warn), Effect: effect}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// decision is the verdict in one sentence.
func decision(v Verdict) string {
	if v.RuleName == "" {
		return "Pass: no rule matched"
	}
	return fmt.Sprintf("%s by %q (%s)", v.Status, v.RuleName, v.RuleAction)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
