package osrelease

import (
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// Resolve picks the distro of a root filesystem from what each of its release files said, keyed
// by path (the Result.Distro of every file this analyzer read in the final image; later layers
// having replaced earlier ones). The first file in the order etc/os-release, usr/lib/os-release,
// etc/alpine-release, etc/centos-release, etc/redhat-release, etc/system-release,
// etc/debian_version that names a distro wins. The other files of the same distro then add
// what it lacks: a version or codename it leaves out (distroless and Debian testing/sid
// os-release files have no VERSION_ID), and a point release that refines its version without
// changing the release advisories are keyed by (debian_version "12.11" for VERSION_ID "12",
// centos-release "7.9.2009" for "7"; not Amazon Linux "2023.6.20241010" for "2023"). The
// result is the zero Distro when no file names one.
func Resolve(found map[string]inventory.Distro) inventory.Distro {
	// From the most to the least authoritative.
	precedence := [...]string{PathOSRelease, PathUsrOSRelease, PathAlpine, PathCentOS, PathRedHat, PathSystem, PathDebian}
	var d inventory.Distro
	for _, p := range precedence {
		if c := found[p]; c.ID != "" {
			d = c
			break
		}
	}
	if d.ID == "" {
		return d
	}
	for _, p := range precedence {
		c := found[p]
		if c.ID != d.ID {
			continue
		}
		switch {
		case d.VersionID == "":
			d.VersionID = c.VersionID
		case strings.HasPrefix(c.VersionID, d.VersionID+"."):
			refined := inventory.Distro{ID: d.ID, VersionID: c.VersionID}
			if refined.Release() == d.Release() {
				d.VersionID = c.VersionID
			}
		}
		if d.Codename == "" {
			d.Codename = c.Codename
		}
		if d.PrettyName == "" {
			d.PrettyName = c.PrettyName
		}
	}
	return d
}
