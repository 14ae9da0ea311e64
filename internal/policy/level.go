package policy

import (
	"fmt"
	"strings"
)

// Level is a qualitative severity in policy-schema@1 spelling.
type Level string

// The policy-schema@1 levels. Policies must spell them exactly so ("None", which scanners emit
// for CVSS 0.0, is not a policy level: NormalizeSeverity maps it to Informational for findings).
const (
	LevelCritical      Level = "Critical"
	LevelHigh          Level = "High"
	LevelMedium        Level = "Medium"
	LevelLow           Level = "Low"
	LevelInformational Level = "Informational"
	LevelUnknown       Level = "Unknown"
)

// Levels lists every level, highest first, in the order schema enums and defaults use.
func Levels() []Level {
	return []Level{LevelCritical, LevelHigh, LevelMedium, LevelLow, LevelInformational, LevelUnknown}
}

// ParseLevel accepts a policy level spelled exactly as in policy-schema@1. Policies are
// reviewed documents, so "critical" or "None" is an error rather than a silent guess.
func ParseLevel(s string) (Level, bool) {
	switch l := Level(s); l {
	case LevelCritical, LevelHigh, LevelMedium, LevelLow, LevelInformational, LevelUnknown:
		return l, true
	}
	return "", false
}

// NormalizeSeverity reads a finding's severity as scanners and feeds write it ("CRITICAL",
// "moderate", "important", "None", "info"). Words it does not know give LevelUnknown: a
// finding is never dropped for an odd severity.
func NormalizeSeverity(s string) Level {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return LevelCritical
	case "high", "important":
		return LevelHigh
	case "medium", "moderate":
		return LevelMedium
	case "low", "negligible", "unimportant":
		return LevelLow
	case "informational", "info", "none":
		return LevelInformational
	}
	return LevelUnknown
}

// ParseThreshold reads the spec's ?threshold / --threshold value (low, medium, high,
// critical, and informational; case-insensitive). Unknown is not ordered, and "none" is no
// threshold at all, so both are errors.
func ParseThreshold(s string) (Level, error) {
	l := NormalizeSeverity(s)
	if l == LevelUnknown || strings.EqualFold(strings.TrimSpace(s), "none") {
		return "", fmt.Errorf("invalid threshold %q (want low, medium, high or critical)", s)
	}
	return l, nil
}

// rank orders levels for thresholds: Critical 5 … Informational 1. Unknown is 0, below every
// threshold, because an unrated finding cannot be said to reach one.
func (l Level) rank() int {
	switch l {
	case LevelCritical:
		return 5
	case LevelHigh:
		return 4
	case LevelMedium:
		return 3
	case LevelLow:
		return 2
	case LevelInformational:
		return 1
	}
	return 0
}

// bit is the level's bit in a rule's severity mask.
func (l Level) bit() uint8 {
	return 1 << l.rank()
}

// escalated is the level an escalate action raises a finding to: one step up, Critical stays,
// and Unknown becomes High (an unrated finding someone chose to escalate is treated as serious).
func (l Level) escalated() Level {
	switch l {
	case LevelCritical, LevelHigh:
		return LevelCritical
	case LevelMedium:
		return LevelHigh
	case LevelLow:
		return LevelMedium
	case LevelInformational:
		return LevelLow
	}
	return LevelHigh
}
