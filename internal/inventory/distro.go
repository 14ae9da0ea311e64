package inventory

import (
	"strings"
)

// Distro identifies an operating-system release, as os-release names it: ID "debian", VersionID
// "12"; ID "alpine", VersionID "3.19.1". Advisories are per release, so it is part of every OS
// component.
type Distro struct {
	// ID is the os-release ID, lower case: debian, ubuntu, alpine, rhel, centos, almalinux, rocky,
	// ol, amzn, fedora, sles, opensuse-leap, wolfi, chainguard, photon, mariner, azurelinux, …
	ID string `json:"id,omitempty"`
	// VersionID is the os-release VERSION_ID ("12", "22.04", "3.10.4", "8.9"); for Debian testing
	// or sid it may be empty while Codename is set.
	VersionID string `json:"versionId,omitempty"`
	// Codename is VERSION_CODENAME where given (bookworm, jammy).
	Codename string `json:"codename,omitempty"`
	// PrettyName is PRETTY_NAME, for display only.
	PrettyName string `json:"prettyName,omitempty"`
}

// IsZero reports whether no distro is known.
func (d Distro) IsZero() bool { return d.ID == "" && d.VersionID == "" && d.Codename == "" }

// String renders the distro as "id-version" (the purl `distro=` qualifier form Syft writes), or the
// ID alone when the version is unknown.
func (d Distro) String() string {
	switch {
	case d.ID == "" && d.VersionID != "":
		// A release without a known distribution (an rpm purl's bare distro=8): kept, so that
		// writing and reading it back loses nothing.
		return d.VersionID
	case d.ID == "":
		return d.Codename
	case d.VersionID != "":
		return d.ID + "-" + d.VersionID
	case d.Codename != "":
		return d.ID + "-" + d.Codename
	}
	return d.ID
}

// Release returns the part of the version that advisories are keyed by: the major version for
// Debian and RPM distros ("12", "8"), major.minor for Alpine ("3.19") and the full version for
// Ubuntu ("22.04"). It is "" when unknown.
func (d Distro) Release() string {
	v := d.VersionID
	switch d.ID {
	case "alpine", "postmarketos":
		parts := strings.SplitN(v, ".", 3)
		if len(parts) >= 2 {
			return parts[0] + "." + parts[1]
		}
		return v
	case "ubuntu", "opensuse-leap", "sles", "photon", "mariner", "azurelinux", "wolfi", "chainguard":
		return v
	case "amzn":
		// Amazon Linux: "2", "2023"; older "2018.03".
		return v
	}
	if i := strings.IndexByte(v, '.'); i > 0 {
		return v[:i]
	}
	return v
}

// ParseDistroQualifier reads a purl `distro=` qualifier in the forms tools write: Syft
// "debian-12", "alpine-3.17.2", "ubuntu-22.04"; Trivy "debian-12.5" or "alpine-3.10.4"; and the
// older "bookworm". The ecosystem's namespace (purl namespace such as "debian") is used when the
// qualifier holds only a version or codename.
func ParseDistroQualifier(q, namespace string) Distro {
	q = strings.TrimSpace(strings.ToLower(q))
	namespace = strings.ToLower(namespace)
	if q == "" {
		if namespace == "" {
			return Distro{}
		}
		return Distro{ID: normalizeDistroID(namespace)}
	}
	// Find the boundary between ID and version: the first '-' followed by a digit. IDs may hold
	// dashes themselves ("opensuse-leap-15.5", "rhel-8.9").
	for i := 0; i < len(q); i++ {
		if q[i] == '-' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' {
			return Distro{ID: normalizeDistroID(q[:i]), VersionID: q[i+1:]}
		}
	}
	if q[0] >= '0' && q[0] <= '9' {
		return Distro{ID: normalizeDistroID(namespace), VersionID: q}
	}
	if i := strings.IndexByte(q, '-'); i > 0 && isKnownDistroID(q[:i]) {
		return Distro{ID: normalizeDistroID(q[:i]), Codename: q[i+1:]}
	}
	if isKnownDistroID(q) {
		return Distro{ID: normalizeDistroID(q)}
	}
	return Distro{ID: normalizeDistroID(namespace), Codename: q}
}

// normalizeDistroID maps the purl namespaces and names tools use onto os-release IDs.
func normalizeDistroID(id string) string {
	switch id {
	case "redhat", "red hat", "rhel":
		return "rhel"
	case "amazon", "amazonlinux", "amazon linux":
		return "amzn"
	case "oracle", "oraclelinux", "oracle linux":
		return "ol"
	case "suse":
		return "sles"
	case "opensuse":
		return "opensuse-leap"
	case "alma":
		return "almalinux"
	case "rocky", "rockylinux":
		return "rocky"
	case "cbl-mariner":
		return "mariner"
	}
	return id
}

func isKnownDistroID(id string) bool {
	switch normalizeDistroID(id) {
	case "debian", "ubuntu", "alpine", "rhel", "centos", "almalinux", "rocky", "ol", "amzn",
		"fedora", "sles", "opensuse-leap", "wolfi", "chainguard", "photon", "mariner", "azurelinux":
		return true
	}
	return false
}
