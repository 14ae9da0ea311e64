package policy_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/policy"
)

func TestLevels(t *testing.T) {
	for in, want := range map[string]policy.Level{
		"Critical": policy.LevelCritical, "CRITICAL": policy.LevelCritical, " high ": policy.LevelHigh,
		"important": policy.LevelHigh, "moderate": policy.LevelMedium, "negligible": policy.LevelLow,
		"None": policy.LevelInformational, "info": policy.LevelInformational, "": policy.LevelUnknown, "severe": policy.LevelUnknown,
	} {
		if got := policy.NormalizeSeverity(in); got != want {
			t.Errorf("NormalizeSeverity(%q) = %s, want %s", in, got, want)
		}
	}
	// Policies spell levels exactly.
	for in, ok := range map[string]bool{"Critical": true, "Informational": true, "Unknown": true, "critical": false, "None": false, "Info": false} {
		if _, got := policy.ParseLevel(in); got != ok {
			t.Errorf("ParseLevel(%q) ok = %v", in, got)
		}
	}
	for in, want := range map[string]policy.Level{"critical": policy.LevelCritical, "High": policy.LevelHigh, "low": policy.LevelLow, "informational": policy.LevelInformational} {
		if got, err := policy.ParseThreshold(in); err != nil || got != want {
			t.Errorf("ParseThreshold(%q) = %s, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "unknown", "none", "severe"} {
		if _, err := policy.ParseThreshold(in); err == nil {
			t.Errorf("ParseThreshold(%q) accepted", in)
		}
	}
	if got := policy.Levels(); len(got) != 6 || got[0] != policy.LevelCritical || got[5] != policy.LevelUnknown {
		t.Errorf("Levels() = %v", got)
	}
}
