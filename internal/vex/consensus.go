package vex

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/canonjson"
)

// Ranked is a claim with the trust weight it was given.
type Ranked struct {
	Claim
	Weight int `json:"weight"`
	// specific is whether the claim names a product version; it ranks after recency.
	specific bool
}

// Decision is the consensus about one vulnerability in one product.
type Decision struct {
	Vulnerability string `json:"vulnerability"`
	Product       string `json:"product"`
	// Status is StatusUnknown when no claim exists or the best claims cannot be told apart.
	Status        Status        `json:"status"`
	Justification Justification `json:"justification,omitempty"`
	// Reason says in one line which rule decided.
	Reason string `json:"reason"`
	// Decider is the claim that decided; nil when Status is unknown.
	Decider *Ranked `json:"decider,omitempty"`
	// Claims are every claim considered, best first.
	Claims []Ranked `json:"claims,omitempty"`
	// Conflicts are the claims whose status differs from Status, best first.
	Conflicts []Ranked `json:"conflicts,omitempty"`
}

// Digest returns "sha256:" and the hex SHA-256 of the decision's RFC 8785 canonical JSON, an
// identifier that changes whenever the decision or any claim behind it does.
func (d Decision) Digest() (string, error) {
	return canonjson.Digest(d)
}

// Decide applies the consensus rule of the package documentation to claims about vuln in
// product. The claims are not modified.
func Decide(vuln, product string, claims []Claim, trust Trust) Decision {
	ranked := make([]Ranked, len(claims))
	for i := range claims {
		ranked[i] = rankClaim(claims[i], trust)
	}
	return decide(vuln, product, ranked)
}

func rankClaim(c Claim, trust Trust) Ranked {
	specific := false
	if p, err := parsePURL(c.Product); err == nil {
		specific = p.Version != ""
	}
	return Ranked{Claim: c, Weight: trust.Weight(c.Issuer), specific: specific}
}

// compareRank orders best first: weight, recency, specificity; then the stable content key.
func compareRank(a, b *Ranked) int {
	return cmp.Or(
		cmp.Compare(b.Weight, a.Weight),
		b.Timestamp.Compare(a.Timestamp),
		compareBool(b.specific, a.specific),
		compareClaims(&a.Claim, &b.Claim),
	)
}

// sameTier is whether two claims are equal in everything the rule ranks on.
func sameTier(a, b *Ranked) bool {
	return a.Weight == b.Weight && a.Timestamp.Equal(b.Timestamp) && a.specific == b.specific
}

// validStatus is whether s is one of the four statuses a claim can carry; claims built by callers
// could carry anything, and "unknown" or garbage must not become a decision with a decider.
func validStatus(s Status) bool {
	switch s {
	case StatusNotAffected, StatusAffected, StatusFixed, StatusUnderInvestigation:
		return true
	}
	return false
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func decide(vuln, product string, ranked []Ranked) Decision {
	d := Decision{Vulnerability: vuln, Product: product, Status: StatusUnknown}
	if len(ranked) == 0 {
		d.Reason = "no VEX statement"
		return d
	}
	slices.SortStableFunc(ranked, func(a, b Ranked) int { return compareRank(&a, &b) })
	d.Claims = ranked
	top := &ranked[0]
	switch {
	case top.Weight <= 0:
		d.Reason = fmt.Sprintf("no statement from a trusted issuer (%d from issuers with weight <= 0)", len(ranked))
	default:
		counts := map[Status]int{}
		front := 0
		for front < len(ranked) && sameTier(&ranked[front], top) {
			counts[ranked[front].Status]++
			front++
		}
		switch {
		case len(counts) == 1 && !validStatus(top.Status):
			d.Reason = fmt.Sprintf("undecidable: the best statements give no valid status (%q)", top.Status)
		case len(counts) == 1:
			decider := *top
			d.Status = top.Status
			d.Justification = top.Justification
			d.Decider = &decider
		default:
			d.Reason = fmt.Sprintf("undecidable: %d statements of equal weight %d, time %s and specificity disagree (%s)",
				front, top.Weight, timeString(top.Timestamp), statusCounts(counts))
		}
	}
	for i := range ranked {
		if ranked[i].Status != d.Status {
			d.Conflicts = append(d.Conflicts, ranked[i])
		}
	}
	if d.Decider != nil {
		d.Reason = decidedReason(d.Decider, d.Conflicts)
	}
	return d
}

// decidedReason names the decider and, for each overruled claim, the rule that overruled it.
func decidedReason(top *Ranked, conflicts []Ranked) string {
	var byTrust, byTime, bySpecificity int
	for i := range conflicts {
		c := &conflicts[i]
		switch {
		case c.Weight < top.Weight:
			byTrust++
		case c.Timestamp.Before(top.Timestamp):
			byTime++
		default:
			bySpecificity++
		}
	}
	issuer := top.Issuer
	if issuer == "" {
		issuer = "unnamed issuer"
	}
	s := fmt.Sprintf("%s by %q (weight %d, %s) in %s statement %d", top.Status, issuer, top.Weight,
		timeString(top.Timestamp), top.Source.Document, top.Source.Statement)
	var over []string
	for _, o := range []struct {
		n    int
		rule string
	}{{byTrust, "trust"}, {byTime, "recency"}, {bySpecificity, "specificity"}} {
		if o.n > 0 {
			over = append(over, fmt.Sprintf("%d by %s", o.n, o.rule))
		}
	}
	if len(over) > 0 {
		s += "; overrules " + strings.Join(over, ", ")
	}
	return s
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return "undated"
	}
	return t.UTC().Format(time.RFC3339)
}

func statusCounts(m map[Status]int) string {
	keys := make([]string, 0, len(m))
	for s := range m {
		keys = append(keys, string(s))
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[Status(k)])
	}
	return strings.Join(parts, ", ")
}

// Consensus groups claims by exact (vulnerability, product) and decides each group. The result is
// sorted by vulnerability, then product. Claims about the same vulnerability under different IDs
// (a CVE and its GHSA) stay in separate groups here; Apply joins them through finding aliases.
func Consensus(claims []Claim, trust Trust) []Decision {
	type key struct{ vuln, product string }
	groups := map[key][]Ranked{}
	for i := range claims {
		k := key{claims[i].Vulnerability, claims[i].Product}
		groups[k] = append(groups[k], rankClaim(claims[i], trust))
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(strings.Compare(a.vuln, b.vuln), strings.Compare(a.product, b.product))
	})
	out := make([]Decision, 0, len(keys))
	for _, k := range keys {
		out = append(out, decide(k.vuln, k.product, groups[k]))
	}
	return out
}
