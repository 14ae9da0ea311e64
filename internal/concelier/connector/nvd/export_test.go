package nvd

import "github.com/stellaops/stellaops/internal/advisory"

// MapPage parses a page and maps its CVEs, for tests and the fuzz target.
func MapPage(b []byte) ([]*advisory.Advisory, error) {
	p, err := parsePage(b)
	if err != nil {
		return nil, err
	}
	out := make([]*advisory.Advisory, 0, len(p.Vulnerabilities))
	for _, v := range p.Vulnerabilities {
		out = append(out, toAdvisory(v.CVE, "test", "sha256:test"))
	}
	return out, nil
}

// NVDTime is the lastMod bound format.
var NVDTime = nvdTime
