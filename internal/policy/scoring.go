package policy

import (
	"maps"
	"math"
	"strings"
)

// Scoring holds the weights a verdict's score is computed from:
//
//	baseScore = severityWeight × trustWeight × reachabilityWeight
//	score     = baseScore (rounded to 3 decimals)
//
// A source with no trust weight, or no reachability weight for the finding's reachability
// (nor an "unknown" one), counts as 1 and is not listed in the verdict's inputs: inputs show the
// factors that were applied, nothing invented.
type Scoring struct {
	SeverityWeights map[Level]float64 `json:"severityWeights,omitempty"`
	// TrustWeights are keyed by advisory source ("NVD", "GHSA"); matched case-insensitively
	// and reported in the configured spelling (trustWeight.NVD, sourceTrust "NVD").
	TrustWeights map[string]float64 `json:"trustWeights,omitempty"`
	// ReachabilityWeights are keyed by reachability kind ("runtime", "unreachable"). A finding
	// without reachability, or with a kind not listed, takes the "unknown" weight.
	ReachabilityWeights map[string]float64 `json:"reachabilityWeights,omitempty"`
}

// reachabilityUnknown is the bucket for findings whose reachability was not established.
const reachabilityUnknown = "unknown"

// DefaultScoring is the scoring the engine uses unless configured otherwise. Critical 90, NVD
// 1.0 and runtime 0.45 reproduce the spec's §2.7 report (score 40.5). The reachability weights
// grow with the strength of the evidence that the vulnerable code runs: observed at runtime
// highest, proven unreachable lowest, and "not established" between indirect and direct.
func DefaultScoring() Scoring {
	return Scoring{
		SeverityWeights: map[Level]float64{
			LevelCritical:      90,
			LevelHigh:          75,
			LevelMedium:        50,
			LevelLow:           25,
			LevelInformational: 10,
			// An unrated finding could be anything: weigh it above Medium rather than as noise.
			LevelUnknown: 60,
		},
		TrustWeights: map[string]float64{
			"NVD":  1,
			"GHSA": 1,
			"OSV":  1,
		},
		ReachabilityWeights: map[string]float64{
			"runtime":     0.45,
			"entrypoint":  0.40,
			"direct":      0.35,
			"unknown":     0.30,
			"indirect":    0.25,
			"unreachable": 0.05,
		},
	}
}

// merged returns s with over's entries replacing s's key by key (a policy's scoring section
// tunes the engine's weights; it cannot delete one).
func (s Scoring) merged(over *Scoring) Scoring {
	out := Scoring{
		SeverityWeights:     maps.Clone(s.SeverityWeights),
		TrustWeights:        maps.Clone(s.TrustWeights),
		ReachabilityWeights: maps.Clone(s.ReachabilityWeights),
	}
	if over == nil {
		return out
	}
	if out.SeverityWeights == nil {
		out.SeverityWeights = map[Level]float64{}
	}
	maps.Copy(out.SeverityWeights, over.SeverityWeights)
	out.TrustWeights = mergeFold(out.TrustWeights, over.TrustWeights)
	out.ReachabilityWeights = mergeFold(out.ReachabilityWeights, over.ReachabilityWeights)
	return out
}

// mergeFold copies over into base, replacing keys that differ only in case so that "nvd" in a
// policy overrides the default "NVD" instead of sitting beside it.
func mergeFold(base, over map[string]float64) map[string]float64 {
	if base == nil {
		base = map[string]float64{}
	}
	for k, v := range over {
		for old := range base {
			if strings.EqualFold(old, k) {
				delete(base, old)
			}
		}
		base[k] = v
	}
	return base
}

// scorer is Scoring prepared for lookups: each weight under its configured spelling and in
// lower case, and the per-key input names built once instead of per finding.
type scorer struct {
	severity     [6]float64 // by Level.rank()
	hasSeverity  [6]bool
	trust        map[string]weight
	reachability map[string]weight
}

type weight struct {
	name  string // configured spelling
	input string // "trustWeight.NVD", "reachability.runtime"
	value float64
}

func newScorer(s Scoring) *scorer {
	sc := &scorer{trust: map[string]weight{}, reachability: map[string]weight{}}
	for l, w := range s.SeverityWeights {
		sc.severity[l.rank()] = w
		sc.hasSeverity[l.rank()] = true
	}
	for k, w := range s.TrustWeights {
		sc.trust[k] = weight{name: k, input: "trustWeight." + k, value: w}
		sc.trust[strings.ToLower(k)] = sc.trust[k]
	}
	for k, w := range s.ReachabilityWeights {
		sc.reachability[k] = weight{name: k, input: "reachability." + k, value: w}
		sc.reachability[strings.ToLower(k)] = sc.reachability[k]
	}
	return sc
}

// lookup finds key as configured, else in lower case (which costs an allocation only for
// spellings the configuration does not use).
func lookup(m map[string]weight, key string) (weight, bool) {
	if key == "" {
		return weight{}, false
	}
	if w, ok := m[key]; ok {
		return w, true
	}
	w, ok := m[strings.ToLower(key)]
	return w, ok
}

// score fills v's score, inputs, sourceTrust and reachability for finding f.
func (sc *scorer) score(f *preparedFinding, v *Verdict) {
	sev := sc.severity[f.level.rank()]
	if !sc.hasSeverity[f.level.rank()] {
		// A level the configuration leaves out is weighted like Unknown, else zero.
		sev = sc.severity[LevelUnknown.rank()]
	}
	inputs := make(map[string]float64, 6)
	inputs["severityWeight"] = sev
	base := sev
	applied := false
	if w, ok := lookup(sc.trust, f.f.Source); ok {
		inputs["trustWeight"] = w.value
		inputs[w.input] = w.value
		v.SourceTrust = w.name
		base *= w.value
		applied = true
	}
	w, ok := lookup(sc.reachability, f.f.Reachability)
	if !ok {
		w, ok = sc.reachability[reachabilityUnknown]
	}
	if ok {
		inputs["reachabilityWeight"] = w.value
		inputs[w.input] = w.value
		v.Reachability = w.name
		base *= w.value
		applied = true
	}
	base = round3(base)
	if applied {
		// baseScore is only worth listing when it is a product, not the severity weight again.
		inputs["baseScore"] = base
	}
	v.Inputs = inputs
	v.Score = base
}

// round3 rounds to three decimals so scores are the same bytes on every platform (fused
// multiply-add may differ in the last bit).
func round3(x float64) float64 {
	return math.Round(x*1000) / 1000
}
