package match

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/version"
)

// ecosystemCPE is the index ecosystem of CPE-keyed advisories.
const ecosystemCPE inventory.Ecosystem = "cpe"

// schemeFor returns the version scheme of an ecosystem, including the loose one CPE data uses.
func schemeFor(eco inventory.Ecosystem) (version.Scheme, bool) {
	if eco == ecosystemCPE {
		return looseScheme{}, true
	}
	return version.For(eco)
}

// splitCPE reads vendor, product and version from a CPE 2.3 formatted string
// ("cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*"); "*" and "-" versions come back empty.
func splitCPE(s string) (vendor, product, ver string, ok bool) {
	parts := strings.Split(s, ":")
	if len(parts) < 6 || parts[0] != "cpe" || parts[1] != "2.3" {
		return "", "", "", false
	}
	vendor, product, ver = parts[3], parts[4], parts[5]
	if ver == "*" || ver == "-" {
		ver = ""
	}
	return vendor, product, ver, vendor != "" && product != ""
}

// looseScheme compares versions segment by segment: runs of digits numerically, other runs as
// text, a missing segment before a present one. It is for CPE data, whose versions follow no
// ecosystem's rules; no package ecosystem uses it.
type looseScheme struct{}

type looseVersion struct {
	raw  string
	segs []string
}

func (looseScheme) Name() string { return "loose" }

func (looseScheme) Parse(s string) (version.Version, error) {
	if s == "" || len(s) > 256 {
		return nil, version.ErrInvalid
	}
	var segs []string
	start := -1
	digit := false
	for i := 0; i <= len(s); i++ {
		var c byte
		if i < len(s) {
			c = s[i]
		}
		isAlnum := i < len(s) && (c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
		isDigit := c >= '0' && c <= '9'
		if start >= 0 && (!isAlnum || isDigit != digit) {
			segs = append(segs, s[start:i])
			start = -1
		}
		if isAlnum && start < 0 {
			start, digit = i, isDigit
		}
	}
	return looseVersion{raw: s, segs: segs}, nil
}

func (v looseVersion) String() string { return v.raw }

func (v looseVersion) Compare(o version.Version) int {
	w := o.(looseVersion)
	for i := 0; i < max(len(v.segs), len(w.segs)); i++ {
		if i >= len(v.segs) {
			return -1
		}
		if i >= len(w.segs) {
			return 1
		}
		a, aerr := strconv.ParseUint(v.segs[i], 10, 64)
		b, berr := strconv.ParseUint(w.segs[i], 10, 64)
		var c int
		if aerr == nil && berr == nil {
			c = cmp.Compare(a, b)
		} else {
			c = cmp.Compare(strings.ToLower(v.segs[i]), strings.ToLower(w.segs[i]))
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
