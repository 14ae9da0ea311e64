package connector_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/concelier/connector"
)

func TestParseMode(t *testing.T) {
	for in, want := range map[string]connector.Mode{"": connector.ModeCursor, "init": connector.ModeInit, "resume": connector.ModeResume, "cursor": connector.ModeCursor} {
		if got, err := connector.ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := connector.ParseMode("sideways"); err == nil {
		t.Error("an unknown mode was accepted")
	}
}

func TestHostOf(t *testing.T) {
	for in, want := range map[string]string{
		"https://osv-vulnerabilities.storage.googleapis.com": "osv-vulnerabilities.storage.googleapis.com",
		"http://127.0.0.1:41234/base/":                       "127.0.0.1",
		"https://[::1]:8443":                                 "::1",
	} {
		if got, err := connector.HostOf(in); err != nil || got != want {
			t.Errorf("HostOf(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"file:///etc", "ftp://x", "not a url", "https://"} {
		if _, err := connector.HostOf(bad); err == nil {
			t.Errorf("HostOf(%q) accepted", bad)
		}
	}
}
