package list_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/list"
)

func TestDefault(t *testing.T) {
	as := list.Default()
	seen := map[string]bool{}
	for _, a := range as {
		if a.Name() == "" || a.Version() < 1 {
			t.Errorf("analyzer %T: name %q, version %d", a, a.Name(), a.Version())
		}
		if seen[a.Name()] {
			t.Errorf("analyzer %s listed twice", a.Name())
		}
		seen[a.Name()] = true
	}
	for _, name := range []string{"osrelease", "os/dpkg", "os/apk", "os/rpm"} {
		if !seen[name] {
			t.Errorf("%s missing from Default", name)
		}
	}
	if analyzer.Fingerprint(as) != analyzer.Fingerprint(list.Default()) {
		t.Error("fingerprint differs between two calls")
	}
}

// TestOneOwnerPerDatabase checks that each OS database path is wanted by exactly one analyzer,
// so no file is parsed twice into duplicate components.
func TestOneOwnerPerDatabase(t *testing.T) {
	for _, p := range []string{
		"var/lib/dpkg/status", "var/lib/dpkg/status.d/libssl3", "var/lib/dpkg/info/bash.list",
		"lib/apk/db/installed", "var/lib/rpm/Packages", "usr/lib/sysimage/rpm/rpmdb.sqlite",
		"etc/os-release", "etc/debian_version",
	} {
		var by []string
		for _, a := range list.Default() {
			if a.Required(p, nil) {
				by = append(by, a.Name())
			}
		}
		if len(by) != 1 {
			t.Errorf("%s is wanted by %v", p, by)
		}
	}
}
