package vex

import (
	"fmt"
	"strings"
)

// Trust weighs claims by issuer. Weights are integers on any scale the operator picks (basis
// points work well); higher is more trusted, and a weight ≤ 0 means the issuer's claims are shown
// but never decide. The zero Trust gives every issuer weight 0, so nothing decides: use
// DefaultTrust or NewTrust.
type Trust struct {
	weights map[string]int
	def     int
}

// DefaultTrust gives every issuer weight 1, so decisions fall to recency.
func DefaultTrust() Trust {
	return Trust{def: 1}
}

// NewTrust builds a trust table. Issuer names are matched case-insensitively after trimming
// space; two names that fold to the same issuer are an error rather than a silent choice.
func NewTrust(defaultWeight int, weights map[string]int) (Trust, error) {
	t := Trust{weights: make(map[string]int, len(weights)), def: defaultWeight}
	for name, w := range weights {
		k := issuerKey(name)
		if k == "" {
			return Trust{}, fmt.Errorf("vex: trust: empty issuer name")
		}
		if old, dup := t.weights[k]; dup && old != w {
			return Trust{}, fmt.Errorf("vex: trust: issuer %q given twice with different weights", name)
		}
		t.weights[k] = w
	}
	return t, nil
}

// Weight returns the issuer's weight, or the default for an issuer not in the table (including
// the empty issuer of a document that names none).
func (t Trust) Weight(issuer string) int {
	if w, ok := t.weights[issuerKey(issuer)]; ok {
		return w
	}
	return t.def
}

func issuerKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
