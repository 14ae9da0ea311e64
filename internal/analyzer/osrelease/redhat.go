package osrelease

import (
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// redHatVendor maps the product names that start etc/redhat-release, etc/centos-release and
// etc/system-release lines onto os-release IDs, longest first where one name extends another.
// An unknown vendor names no distro: a wrong ID would match the wrong advisories.
func redHatVendor(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasPrefix(n, "red hat enterprise linux"):
		return "rhel"
	case strings.HasPrefix(n, "centos"):
		return "centos"
	case strings.HasPrefix(n, "rocky linux"):
		return "rocky"
	case strings.HasPrefix(n, "almalinux"):
		return "almalinux"
	case strings.HasPrefix(n, "fedora"):
		return "fedora"
	case strings.HasPrefix(n, "oracle linux"):
		return "ol"
	case strings.HasPrefix(n, "amazon linux"):
		return "amzn"
	case strings.HasPrefix(n, "scientific linux"):
		return "scientific"
	}
	return ""
}

// parseRedHatRelease reads the one-line release files of the Red Hat family:
// "CentOS Linux release 7.9.2009 (Core)", "Red Hat Enterprise Linux release 8.10 (Ootpa)",
// "Amazon Linux release 2 (Karoo)", "CentOS release 5.7 (Final)". The whole line is the pretty
// name; the word after "release" the version.
func parseRedHatRelease(data []byte) inventory.Distro {
	line, _, _ := strings.Cut(string(data), "\n")
	line = printable(line)
	name, rest, ok := strings.Cut(line, " release ")
	if !ok {
		return inventory.Distro{}
	}
	id := redHatVendor(strings.TrimSpace(name))
	f := strings.Fields(rest)
	if id == "" || len(f) == 0 || f[0][0] < '0' || f[0][0] > '9' {
		return inventory.Distro{}
	}
	return inventory.Distro{ID: id, VersionID: f[0], PrettyName: line}
}
