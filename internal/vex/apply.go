package vex

import (
	packageurl "github.com/package-url/packageurl-go"
)

// Finding is what Apply needs of a scanner finding: the vulnerability ID, its aliases and the
// affected component's purl. (It mirrors match.Finding's ID, Aliases and Component.PURL without
// importing the matcher.)
type Finding struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
	PURL    string   `json:"purl"`
}

// Apply decides every finding from the claims that match it (vulnerability ID or alias, and
// product, as the package documentation says). The result is index-aligned with findings; each
// Decision's Vulnerability and Product are the finding's ID and (normalised) purl, and its Decider
// names the statement that decided.
func Apply(findings []Finding, claims []Claim, trust Trust) []Decision {
	idx := newClaimIndex(claims, trust)
	out := make([]Decision, len(findings))
	for i := range findings {
		out[i] = idx.decide(&findings[i])
	}
	return out
}

// claimIndex finds candidate claims by folded vulnerability ID and package (type, namespace,
// name), so a finding only compares versions and qualifiers with claims about its own package;
// each claim's purl is parsed once.
type claimIndex struct {
	claims []Ranked
	purls  []packageurl.PackageURL
	byKey  map[indexKey][]int
}

type indexKey struct {
	vuln, typ, namespace, name string
}

func newClaimIndex(claims []Claim, trust Trust) *claimIndex {
	x := &claimIndex{
		claims: make([]Ranked, len(claims)),
		purls:  make([]packageurl.PackageURL, len(claims)),
		byKey:  map[indexKey][]int{},
	}
	for i := range claims {
		p, err := parsePURL(claims[i].Product)
		if err != nil {
			continue // never matches; parsers only produce valid purls
		}
		x.claims[i] = rankClaim(claims[i], trust)
		x.purls[i] = p
		seen := map[string]bool{}
		for _, id := range append([]string{claims[i].Vulnerability}, claims[i].Aliases...) {
			if v := vulnKey(id); v != "" && !seen[v] {
				seen[v] = true
				k := indexKey{v, p.Type, p.Namespace, p.Name}
				x.byKey[k] = append(x.byKey[k], i)
			}
		}
	}
	return x
}

func (x *claimIndex) decide(f *Finding) Decision {
	comp, err := parsePURL(f.PURL)
	if err != nil {
		d := decide(f.ID, f.PURL, nil)
		d.Reason = "finding has no valid purl, so no VEX statement can apply"
		return d
	}
	seen := map[int]bool{}
	var matched []Ranked
	for _, id := range append([]string{f.ID}, f.Aliases...) {
		for _, ci := range x.byKey[indexKey{vulnKey(id), comp.Type, comp.Namespace, comp.Name}] {
			if !seen[ci] && purlMatches(&x.purls[ci], &comp) {
				seen[ci] = true
				matched = append(matched, x.claims[ci])
			}
		}
	}
	return decide(f.ID, comp.ToString(), matched)
}
