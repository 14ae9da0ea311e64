package advisory

import (
	"cmp"
	"fmt"
	"math"
	"strings"

	cvss20 "github.com/pandatix/go-cvss/20"
	cvss30 "github.com/pandatix/go-cvss/30"
	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"
)

// Level is a qualitative severity, in the spec's spelling.
type Level string

// Levels, highest first. Unknown means no source rated it.
const (
	LevelCritical Level = "Critical"
	LevelHigh     Level = "High"
	LevelMedium   Level = "Medium"
	LevelLow      Level = "Low"
	LevelNone     Level = "None"
	LevelUnknown  Level = "Unknown"
)

// Rank orders levels: Critical 5 … None 1, Unknown 0.
func (l Level) Rank() int {
	switch l {
	case LevelCritical:
		return 5
	case LevelHigh:
		return 4
	case LevelMedium:
		return 3
	case LevelLow:
		return 2
	case LevelNone:
		return 1
	}
	return 0
}

// ParseLevel reads a qualitative rating as feeds write it ("HIGH", "moderate", "important",
// "negligible", "unimportant"); unknown words give LevelUnknown.
func ParseLevel(s string) Level {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return LevelCritical
	case "high", "important":
		return LevelHigh
	case "medium", "moderate":
		return LevelMedium
	case "low", "negligible", "unimportant":
		return LevelLow
	case "none":
		return LevelNone
	}
	return LevelUnknown
}

// Severity is one rating of a vulnerability: a CVSS vector with its computed base score, or a
// qualitative level alone.
type Severity struct {
	// Source is the feed that gave the rating ("osv:crates.io", "debian", "nvd", "ghsa").
	Source string `json:"source"`
	// Type is "CVSS_V2", "CVSS_V3" or "CVSS_V4" for vectors, empty for qualitative ratings.
	Type   string  `json:"type,omitempty"`
	Vector string  `json:"vector,omitempty"`
	Score  float64 `json:"score,omitempty"`
	Level  Level   `json:"level"`
}

func compareSeverity(a, b Severity) int {
	return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Vector, b.Vector), cmp.Compare(a.Level, b.Level))
}

// ParseCVSS scores a CVSS vector (v2 "AV:N/AC:L/…", v3.0/v3.1 "CVSS:3.1/…", v4.0 "CVSS:4.0/…").
// The type is taken from the vector; typ ("CVSS_V3" …) is only a hint for v2 vectors, which carry
// no prefix.
func ParseCVSS(source, typ, vector string) (Severity, error) {
	s := Severity{Source: source, Vector: vector}
	switch {
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		v, err := cvss40.ParseVector(vector)
		if err != nil {
			return s, fmt.Errorf("cvss 4.0 vector %q: %w", vector, err)
		}
		s.Type, s.Score = "CVSS_V4", v.Score()
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		v, err := cvss31.ParseVector(vector)
		if err != nil {
			return s, fmt.Errorf("cvss 3.1 vector %q: %w", vector, err)
		}
		s.Type, s.Score = "CVSS_V3", v.BaseScore()
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		v, err := cvss30.ParseVector(vector)
		if err != nil {
			return s, fmt.Errorf("cvss 3.0 vector %q: %w", vector, err)
		}
		s.Type, s.Score = "CVSS_V3", v.BaseScore()
	case typ == "" || typ == "CVSS_V2":
		v, err := cvss20.ParseVector(vector)
		if err != nil {
			return s, fmt.Errorf("cvss 2.0 vector %q: %w", vector, err)
		}
		s.Type, s.Score = "CVSS_V2", v.BaseScore()
	default:
		return s, fmt.Errorf("%s vector %q: unrecognised", typ, vector)
	}
	s.Score = math.Round(s.Score*10) / 10
	s.Level = LevelFromScore(s.Type, s.Score)
	return s, nil
}

// LevelFromScore maps a base score to a level: the CVSS v3/v4 bands (None 0, Low 0.1–3.9,
// Medium 4.0–6.9, High 7.0–8.9, Critical 9.0–10.0), and NVD's v2 bands (Low < 4, Medium < 7, High).
func LevelFromScore(typ string, score float64) Level {
	if typ == "CVSS_V2" {
		switch {
		case score >= 7:
			return LevelHigh
		case score >= 4:
			return LevelMedium
		}
		return LevelLow
	}
	switch {
	case score >= 9:
		return LevelCritical
	case score >= 7:
		return LevelHigh
	case score >= 4:
		return LevelMedium
	case score > 0:
		return LevelLow
	}
	return LevelNone
}
