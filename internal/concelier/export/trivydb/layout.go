package trivydb

import (
	"fmt"
	"strings"

	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/version"
)

// Fixed bucket names of schema 2.
const (
	bucketVulnerability = "vulnerability"
	bucketDataSource    = "data-source"
)

// Trivy's source IDs (trivy-db pkg/vulnsrc/vulnerability). They are repeated here rather than
// imported because that package pulls in trivy-db's global DB handle; VendorSeverity and CVSS are
// keyed by them and Trivy picks a finding's severity by the bucket's DataSource.ID.
const (
	srcOSV      dbtypes.SourceID = "osv"
	srcGoVulnDB dbtypes.SourceID = "govulndb"
	srcGHSA     dbtypes.SourceID = "ghsa"
)

// langPrefix is Trivy's bucket prefix per language ecosystem (trivy-db's vulnerability.Npm, Pip,
// …); Trivy scans every top-level bucket starting with "<prefix>::" for a package.
var langPrefix = map[inventory.Ecosystem]string{
	inventory.EcosystemGo:       "go",
	inventory.EcosystemPyPI:     "pip",
	inventory.EcosystemCargo:    "cargo",
	inventory.EcosystemNPM:      "npm",
	inventory.EcosystemMaven:    "maven",
	inventory.EcosystemGem:      "rubygems",
	inventory.EcosystemNuGet:    "nuget",
	inventory.EcosystemComposer: "composer",
	inventory.EcosystemHex:      "erlang",
	inventory.EcosystemPub:      "pub",
}

// ghsaEcosystem is how trivy-db names GitHub's ecosystems in GHSA bucket names.
var ghsaEcosystem = map[inventory.Ecosystem]string{
	inventory.EcosystemGo: "Go", inventory.EcosystemPyPI: "pip", inventory.EcosystemCargo: "Rust",
	inventory.EcosystemNPM: "npm", inventory.EcosystemMaven: "Maven", inventory.EcosystemGem: "RubyGems",
	inventory.EcosystemNuGet: "NuGet", inventory.EcosystemComposer: "Composer", inventory.EcosystemHex: "Erlang",
	inventory.EcosystemPub: "Pub",
}

// osDistro says how one distro's releases are filed in Trivy: the bucket name for a release and
// the data source Trivy's own builder records for it (so the severity Trivy picks, keyed by
// DataSource.ID, is the vendor's).
type osDistro struct {
	bucket func(release string) string
	source dbtypes.DataSource
}

func prefixed(p string) func(string) string { return func(r string) string { return p + r } }

// osDistros maps the os-release ID of our distro keys to Trivy's OS buckets (trivy-db
// pkg/vulnsrc/<distro>). Red Hat and CentOS are absent on purpose: Trivy files them in a "Red Hat"
// bucket keyed by CPE indices of content sets, which our records do not carry. Wolfi and
// Chainguard have one rolling bucket with no release.
var osDistros = map[string]osDistro{
	"debian":        {prefixed("debian "), dbtypes.DataSource{ID: "debian", Name: "Debian Security Tracker", URL: "https://salsa.debian.org/security-tracker-team/security-tracker"}},
	"ubuntu":        {prefixed("ubuntu "), dbtypes.DataSource{ID: "ubuntu", Name: "Ubuntu CVE Tracker", URL: "https://git.launchpad.net/ubuntu-cve-tracker"}},
	"alpine":        {prefixed("alpine "), dbtypes.DataSource{ID: "alpine", Name: "Alpine Secdb", URL: "https://secdb.alpinelinux.org/"}},
	"almalinux":     {prefixed("alma "), dbtypes.DataSource{ID: "alma", Name: "AlmaLinux Product Errata", URL: "https://errata.almalinux.org/"}},
	"rocky":         {prefixed("rocky "), dbtypes.DataSource{ID: "rocky", Name: "Rocky Linux updateinfo", URL: "https://download.rockylinux.org/pub/rocky/"}},
	"amzn":          {prefixed("amazon linux "), dbtypes.DataSource{ID: "amazon", Name: "Amazon Linux Security Center", URL: "https://alas.aws.amazon.com/"}},
	"ol":            {prefixed("Oracle Linux "), dbtypes.DataSource{ID: "oracle-oval", Name: "Oracle Linux OVAL definitions", URL: "https://linux.oracle.com/security/oval/"}},
	"photon":        {prefixed("Photon OS "), dbtypes.DataSource{ID: "photon", Name: "Photon OS CVE metadata", URL: "https://packages.vmware.com/photon/photon_cve_metadata/"}},
	"azurelinux":    {prefixed("Azure Linux "), dbtypes.DataSource{ID: "azure", Name: "Azure Linux Vulnerability Data", URL: "https://github.com/microsoft/AzureLinuxVulnerabilityData"}},
	"mariner":       {prefixed("CBL-Mariner "), dbtypes.DataSource{ID: "cbl-mariner", Name: "CBL-Mariner Vulnerability Data", URL: "https://github.com/microsoft/AzureLinuxVulnerabilityData"}},
	"opensuse-leap": {prefixed("openSUSE Leap "), dbtypes.DataSource{ID: "suse-cvrf", Name: "SUSE CVRF", URL: "https://ftp.suse.com/pub/projects/security/cvrf/"}},
	"sles":          {prefixed("SUSE Linux Enterprise "), dbtypes.DataSource{ID: "suse-cvrf", Name: "SUSE CVRF", URL: "https://ftp.suse.com/pub/projects/security/cvrf/"}},
	"wolfi":         {func(string) string { return "wolfi" }, dbtypes.DataSource{ID: "wolfi", Name: "Wolfi Secdb", URL: "https://packages.wolfi.dev/os/security.json"}},
	"chainguard":    {func(string) string { return "chainguard" }, dbtypes.DataSource{ID: "chainguard", Name: "Chainguard Security Data", URL: "https://packages.cgr.dev/chainguard/security.json"}},
}

// osvDistroIDs maps the distro part of an OSV feed name ("osv:AlmaLinux") to the os-release ID,
// so a severity from that feed is filed under the distro's source ID.
var osvDistroIDs = map[string]string{
	"Debian": "debian", "Ubuntu": "ubuntu", "Alpine": "alpine", "AlmaLinux": "almalinux", "Rocky Linux": "rocky",
	"Photon OS": "photon", "Azure Linux": "azurelinux", "SUSE": "sles", "openSUSE": "opensuse-leap",
	"Wolfi": "wolfi", "Chainguard": "chainguard",
}

// sourceID is the Trivy source ID a feed's ratings are filed under.
func sourceID(feed string) dbtypes.SourceID {
	name, ok := strings.CutPrefix(feed, "osv:")
	if !ok {
		return dbtypes.SourceID(feed) // "nvd", "ghsa", "debian": already Trivy's IDs
	}
	if name == "Go" {
		return srcGoVulnDB
	}
	if id, ok := osvDistroIDs[name]; ok {
		return osDistros[id].source.ID
	}
	return srcOSV
}

// langSource is the data source of a language bucket fed by feed. The Go feed is the Go
// vulnerability database verbatim, so it takes trivy-db's name for it; GHSA takes trivy-db's GHSA
// names; other OSV feeds are named after the osv.dev ecosystem export they came from.
func langSource(eco inventory.Ecosystem, feed string) dbtypes.DataSource {
	if name, ok := strings.CutPrefix(feed, "osv:"); ok {
		if name == "Go" {
			return dbtypes.DataSource{ID: srcGoVulnDB, Name: "The Go Vulnerability Database", URL: "https://pkg.go.dev/vuln/"}
		}
		return dbtypes.DataSource{ID: srcOSV, Name: "Open Source Vulnerabilities " + name, URL: "https://osv.dev/list?ecosystem=" + name}
	}
	if feed == string(srcGHSA) {
		g := ghsaEcosystem[eco]
		return dbtypes.DataSource{ID: srcGHSA, Name: "GitHub Security Advisory " + g,
			URL: "https://github.com/advisories?query=type%3Areviewed+ecosystem%3A" + strings.ToLower(g)}
	}
	return dbtypes.DataSource{ID: dbtypes.SourceID(feed), Name: feed}
}

// osBucket returns the bucket and data source for a distro key ("almalinux:9").
func osBucket(distro string) (string, dbtypes.DataSource, bool) {
	id, release, _ := strings.Cut(distro, ":")
	d, ok := osDistros[id]
	if !ok {
		return "", dbtypes.DataSource{}, false
	}
	return d.bucket(release), d.source, true
}

// pkgKey is the package name as Trivy's client looks it up (trivy-db
// vulnerability.NormalizePkgName): PyPI lower-cased with "_" read as "-" (dots are kept, unlike
// PEP 503), Go and NuGet as given, every other language lower-cased.
func pkgKey(eco inventory.Ecosystem, name string) string {
	switch eco {
	case inventory.EcosystemPyPI:
		return strings.ReplaceAll(strings.ToLower(name), "_", "-")
	case inventory.EcosystemGo, inventory.EcosystemNuGet:
		return name
	}
	return strings.ToLower(name)
}

// interval is one affected interval of an OSV range: from (inclusive, "0" for the beginning) to
// to (exclusive, or inclusive when incl), to "" meaning unbounded.
type interval struct {
	from, to string
	incl     bool
}

// String writes the interval in the constraint syntax trivy-db stores for OSV-fed sources:
// "=v" for a single version, ">=a" open-ended, "<b" / "<=b" from the beginning, ">=a, <b".
func (r interval) String() string {
	if r.incl && r.from == r.to {
		return "=" + r.from
	}
	if r.to == "" {
		return ">=" + r.from
	}
	op := "<"
	if r.incl {
		op = "<="
	}
	if r.from == "0" {
		return op + r.to
	}
	return ">=" + r.from + ", " + op + r.to
}

// intervals reads the ECOSYSTEM and SEMVER ranges of af. GIT ranges name commits, which Trivy
// never compares with package versions, so they are dropped. Each "introduced" opens an interval;
// "fixed" closes it exclusively (and is a patched version), "last_affected" inclusively, "limit"
// exclusively without claiming a fix. A closing event with no interval open starts from "0".
func intervals(af *advisory.Affected) (out []interval, patched []string, hadGit bool) {
	for _, rg := range af.Ranges {
		if rg.Type == advisory.RangeGit {
			hadGit = true
			continue
		}
		open := -1
		closeWith := func(to string, incl bool) {
			if open < 0 {
				out = append(out, interval{from: "0"})
				open = len(out) - 1
			}
			out[open].to, out[open].incl = to, incl
			open = -1
		}
		for _, ev := range rg.Events {
			switch {
			case ev.Introduced != "":
				out = append(out, interval{from: ev.Introduced})
				open = len(out) - 1
			case ev.Fixed != "":
				closeWith(ev.Fixed, false)
				patched = append(patched, ev.Fixed)
			case ev.LastAffected != "":
				closeWith(ev.LastAffected, true)
			case ev.Limit != "":
				closeWith(ev.Limit, false)
			}
		}
	}
	return out, patched, hadGit
}

// langConstraints turns af into Trivy's VulnerableVersions and PatchedVersions. Explicit
// `versions` that no range already covers are added as "=v" (as trivy-db does), which is how
// records with only GIT ranges plus a version list (many PYSEC records) stay matchable; a version
// we cannot parse is kept as "=v" too, since dropping it would lose a statement of the source.
func langConstraints(af *advisory.Affected) (vulnerable, patched []string) {
	ivs, patched, _ := intervals(af)
	for _, iv := range ivs {
		vulnerable = append(vulnerable, iv.String())
	}
	if len(af.Versions) == 0 {
		return vulnerable, patched
	}
	scheme, ok := version.For(af.Ecosystem)
	for _, v := range af.Versions {
		if ok && covered(scheme, ivs, v) {
			continue
		}
		vulnerable = append(vulnerable, "="+v)
	}
	return vulnerable, patched
}

// covered reports whether v lies in one of ivs under scheme.
func covered(s version.Scheme, ivs []interval, v string) bool {
	pv, err := s.Parse(v)
	if err != nil {
		return false
	}
	for _, iv := range ivs {
		if iv.from != "0" {
			from, err := s.Parse(iv.from)
			if err != nil || pv.Compare(from) < 0 {
				continue
			}
		}
		if iv.to == "" {
			return true
		}
		to, err := s.Parse(iv.to)
		if err != nil {
			continue
		}
		if c := pv.Compare(to); c < 0 || (c == 0 && iv.incl) {
			return true
		}
	}
	return false
}

// osFix is what an OS bucket stores for af: a single fixed version, or none with a status.
// Distro feeds file one fix per package and release; when a range has several intervals (rare),
// the last fix is taken, since every version below it may still be affected. "0:" epochs are
// dropped for RPM, as trivy-db writes versions (utils.ConstructVersion).
func osFix(af *advisory.Affected) (fixed string, status dbtypes.Status) {
	ivs, _, _ := intervals(af)
	for _, iv := range ivs {
		if iv.to != "" && !iv.incl {
			fixed = iv.to
		}
	}
	if fixed != "" {
		if af.Ecosystem == inventory.EcosystemRPM {
			fixed = strings.TrimPrefix(fixed, "0:")
		}
		return fixed, dbtypes.StatusFixed
	}
	if af.Status != "" {
		return "", statusOf(af.Status)
	}
	return "", dbtypes.StatusAffected
}

// statusOf maps our status (whose values follow Trivy's order) to Trivy's integer.
func statusOf(s advisory.Status) dbtypes.Status {
	switch s {
	case advisory.StatusNotAffected:
		return dbtypes.StatusNotAffected
	case advisory.StatusAffected:
		return dbtypes.StatusAffected
	case advisory.StatusFixed:
		return dbtypes.StatusFixed
	case advisory.StatusUnderInvestigation:
		return dbtypes.StatusUnderInvestigation
	case advisory.StatusWillNotFix:
		return dbtypes.StatusWillNotFix
	case advisory.StatusFixDeferred:
		return dbtypes.StatusFixDeferred
	case advisory.StatusEndOfLife:
		return dbtypes.StatusEndOfLife
	}
	return dbtypes.StatusUnknown
}

// severityOf maps a level to Trivy's integer. Trivy has no "None"; a CVSS 0.0 rating says "no
// more than low", so it is stored as LOW rather than as UNKNOWN ("not rated").
func severityOf(l advisory.Level) dbtypes.Severity {
	switch l {
	case advisory.LevelCritical:
		return dbtypes.SeverityCritical
	case advisory.LevelHigh:
		return dbtypes.SeverityHigh
	case advisory.LevelMedium:
		return dbtypes.SeverityMedium
	case advisory.LevelLow, advisory.LevelNone:
		return dbtypes.SeverityLow
	}
	return dbtypes.SeverityUnknown
}

// modular reports an RPM fix built in a module stream ("…module_el8.9.0+3627+…"). Trivy files
// those under "<module>:<stream>::<name>" keys, and our OSV-fed records do not name the stream.
func modular(af *advisory.Affected, fixed string) bool {
	return af.Ecosystem == inventory.EcosystemRPM && (strings.Contains(fixed, ".module_el") || strings.Contains(fixed, ".module+el"))
}

// bucketName joins a language prefix and a data source name as trivy-db's bucket.Name does.
func bucketName(prefix, source string) string { return fmt.Sprintf("%s::%s", prefix, source) }
