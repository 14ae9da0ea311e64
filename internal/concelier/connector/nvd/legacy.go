package nvd

import (
	"encoding/json"
	"strings"
)

// NVD's JSON 1.1 data feeds (nvdcve-1.1-<year>.json, retired in December 2023) are still what
// many offline mirrors hold; parsePage reads them into the 2.0 shape so they map the same way.

type legacyFeed struct {
	Items []legacyItem `json:"CVE_Items"`
}

type legacyItem struct {
	CVE struct {
		Meta struct {
			ID       string `json:"ID"`
			Assigner string `json:"ASSIGNER"`
		} `json:"CVE_data_meta"`
		ProblemType struct {
			Data []struct {
				Description []langString `json:"description"`
			} `json:"problemtype_data"`
		} `json:"problemtype"`
		References struct {
			Data []struct {
				URL  string   `json:"url"`
				Tags []string `json:"tags"`
			} `json:"reference_data"`
		} `json:"references"`
		Description struct {
			Data []langString `json:"description_data"`
		} `json:"description"`
	} `json:"cve"`
	Configurations struct {
		Nodes []legacyNode `json:"nodes"`
	} `json:"configurations"`
	Impact struct {
		V3 *struct {
			CVSS legacyCVSS `json:"cvssV3"`
		} `json:"baseMetricV3"`
		V2 *struct {
			CVSS legacyCVSS `json:"cvssV2"`
		} `json:"baseMetricV2"`
	} `json:"impact"`
	Published    string `json:"publishedDate"`
	LastModified string `json:"lastModifiedDate"`
}

type legacyCVSS struct {
	Version      string  `json:"version"`
	VectorString string  `json:"vectorString"`
	BaseScore    float64 `json:"baseScore"`
}

type legacyNode struct {
	Operator string       `json:"operator"`
	Negate   bool         `json:"negate"`
	Children []legacyNode `json:"children"`
	CPEMatch []struct {
		Vulnerable            bool   `json:"vulnerable"`
		CPE23URI              string `json:"cpe23Uri"`
		VersionStartIncluding string `json:"versionStartIncluding"`
		VersionStartExcluding string `json:"versionStartExcluding"`
		VersionEndIncluding   string `json:"versionEndIncluding"`
		VersionEndExcluding   string `json:"versionEndExcluding"`
	} `json:"cpe_match"`
}

// legacyPage converts a 1.1 feed; ok is false when b is not one.
func legacyPage(b []byte) (*page, bool) {
	var f legacyFeed
	if json.Unmarshal(b, &f) != nil || f.Items == nil {
		return nil, false
	}
	p := &page{TotalResults: len(f.Items), ResultsPerPage: len(f.Items), Format: "NVD_CVE", Version: "1.1",
		Vulnerabilities: make([]vulnW, 0, len(f.Items))}
	for _, it := range f.Items {
		c := cve{
			ID:               it.CVE.Meta.ID,
			SourceIdentifier: it.CVE.Meta.Assigner,
			Published:        it.Published,
			LastModified:     it.LastModified,
			Descriptions:     it.CVE.Description.Data,
		}
		// 1.1 has no status; a rejected CVE's description says so.
		if strings.HasPrefix(english(c.Descriptions), "** REJECT **") {
			c.VulnStatus = "Rejected"
		}
		// 1.1 carries only NVD's own ratings.
		if v := it.Impact.V3; v != nil {
			m := metric{Source: "nvd@nist.gov", Type: "Primary"}
			m.CVSSData.Version, m.CVSSData.VectorString, m.CVSSData.BaseScore = v.CVSS.Version, v.CVSS.VectorString, v.CVSS.BaseScore
			c.Metrics.V31 = append(c.Metrics.V31, m)
		}
		if v := it.Impact.V2; v != nil {
			m := metric{Source: "nvd@nist.gov", Type: "Primary"}
			m.CVSSData.Version, m.CVSSData.VectorString, m.CVSSData.BaseScore = v.CVSS.Version, v.CVSS.VectorString, v.CVSS.BaseScore
			c.Metrics.V2 = append(c.Metrics.V2, m)
		}
		for _, pt := range it.CVE.ProblemType.Data {
			c.Weaknesses = append(c.Weaknesses, weakness{Source: "nvd@nist.gov", Type: "Primary", Description: pt.Description})
		}
		for _, r := range it.CVE.References.Data {
			c.References = append(c.References, reference{URL: r.URL, Tags: r.Tags})
		}
		// 1.1 nests AND nodes as children; their leaves become one 2.0 configuration each, which
		// affectedOf reads the same way (vulnerable matches of non-negated nodes).
		for _, n := range it.Configurations.Nodes {
			c.Configurations = append(c.Configurations, configuration{Operator: n.Operator, Nodes: flattenLegacy(n, nil, 0)})
		}
		p.Vulnerabilities = append(p.Vulnerabilities, vulnW{CVE: c})
	}
	return p, true
}

// flattenLegacy lists a node and its children as 2.0 nodes; depth bounds hostile nesting.
func flattenLegacy(n legacyNode, out []node, depth int) []node {
	if depth > 8 {
		return out
	}
	nn := node{Operator: n.Operator, Negate: n.Negate}
	for _, m := range n.CPEMatch {
		nn.CPEMatch = append(nn.CPEMatch, cpeMatch{Vulnerable: m.Vulnerable, Criteria: m.CPE23URI,
			VersionStartIncluding: m.VersionStartIncluding, VersionStartExcluding: m.VersionStartExcluding,
			VersionEndIncluding: m.VersionEndIncluding, VersionEndExcluding: m.VersionEndExcluding})
	}
	if len(nn.CPEMatch) > 0 {
		out = append(out, nn)
	}
	for _, ch := range n.Children {
		if n.Negate {
			ch.Negate = !ch.Negate // a negated parent negates its children
		}
		out = flattenLegacy(ch, out, depth+1)
	}
	return out
}
