package redhat

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// The CSAF 2.0 subset Red Hat's VEX and advisory documents use and we map. It is parsed with
// encoding/json rather than a CSAF library: the maintained Go implementation (gocsaf/csaf) is a
// provider/aggregator/checker toolchain whose module pulls in far more than a feed reader needs,
// and the fields below are all mapping looks at.

// Document is a CSAF document.
type Document struct {
	Document        Meta            `json:"document"`
	ProductTree     ProductTree     `json:"product_tree"`
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
}

// Meta is the document section.
type Meta struct {
	Category          string `json:"category"`
	CSAFVersion       string `json:"csaf_version"`
	Title             string `json:"title"`
	AggregateSeverity *struct {
		Text string `json:"text"`
	} `json:"aggregate_severity"`
	Tracking struct {
		ID                 string `json:"id"`
		CurrentReleaseDate string `json:"current_release_date"`
		InitialReleaseDate string `json:"initial_release_date"`
		Status             string `json:"status"`
	} `json:"tracking"`
}

// ProductTree is the product_tree section.
type ProductTree struct {
	Branches      []Branch       `json:"branches"`
	Relationships []Relationship `json:"relationships"`
}

// Branch is one node of the product tree.
type Branch struct {
	Category string   `json:"category"`
	Name     string   `json:"name"`
	Product  *Product `json:"product"`
	Branches []Branch `json:"branches"`
}

// Product is a full product name.
type Product struct {
	Name   string `json:"name"`
	ID     string `json:"product_id"`
	Helper *struct {
		CPE  string `json:"cpe"`
		PURL string `json:"purl"`
	} `json:"product_identification_helper"`
}

// Relationship combines a component with the platform it ships in.
type Relationship struct {
	Category        string  `json:"category"`
	FullProductName Product `json:"full_product_name"`
	ProductRef      string  `json:"product_reference"`
	RelatesTo       string  `json:"relates_to_product_reference"`
}

// Vulnerability is one entry of vulnerabilities[].
type Vulnerability struct {
	CVE string `json:"cve"`
	CWE *struct {
		ID string `json:"id"`
	} `json:"cwe"`
	Title       string `json:"title"`
	ReleaseDate string `json:"release_date"`
	Notes       []struct {
		Category string `json:"category"`
		Text     string `json:"text"`
	} `json:"notes"`
	ProductStatus struct {
		Fixed              []string `json:"fixed"`
		KnownAffected      []string `json:"known_affected"`
		KnownNotAffected   []string `json:"known_not_affected"`
		UnderInvestigation []string `json:"under_investigation"`
	} `json:"product_status"`
	Remediations []struct {
		Category   string   `json:"category"`
		Details    string   `json:"details"`
		ProductIDs []string `json:"product_ids"`
	} `json:"remediations"`
	Threats []struct {
		Category   string   `json:"category"`
		Details    string   `json:"details"`
		ProductIDs []string `json:"product_ids"`
	} `json:"threats"`
	Scores []struct {
		CVSSv3 *struct {
			VectorString string `json:"vectorString"`
		} `json:"cvss_v3"`
		Products []string `json:"products"`
	} `json:"scores"`
	References []struct {
		Category string `json:"category"`
		URL      string `json:"url"`
	} `json:"references"`
}

// ErrNotCSAF is wrapped by Parse for documents that are not CSAF 2.0 VEX or advisories.
var ErrNotCSAF = errors.New("not a CSAF 2.0 document")

// maxDocument bounds what Parse accepts; the largest Red Hat VEX files (kernel CVEs) are a few
// tens of MiB.
const maxDocument = 64 << 20

var cveRE = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// Parse reads and checks a CSAF document: the category is a VEX or security advisory, the
// version 2.0, it has a tracking ID, and every vulnerability names a CVE.
func Parse(b []byte) (*Document, error) {
	if len(b) > maxDocument {
		return nil, fmt.Errorf("%w: %d bytes, over the %d limit", ErrNotCSAF, len(b), maxDocument)
	}
	var d Document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotCSAF, err)
	}
	switch {
	case d.Document.CSAFVersion != "2.0":
		return nil, fmt.Errorf("%w: csaf_version %q", ErrNotCSAF, d.Document.CSAFVersion)
	case d.Document.Category != "csaf_vex" && d.Document.Category != "csaf_security_advisory":
		return nil, fmt.Errorf("%w: category %q", ErrNotCSAF, d.Document.Category)
	case d.Document.Tracking.ID == "":
		return nil, fmt.Errorf("%w: no document.tracking.id", ErrNotCSAF)
	}
	for i, v := range d.Vulnerabilities {
		if !cveRE.MatchString(v.CVE) {
			return nil, fmt.Errorf("%w: vulnerabilities[%d].cve %q is not a CVE ID", ErrNotCSAF, i, v.CVE)
		}
	}
	return &d, nil
}

// Component is what a product ID of a status list stands for.
type Component struct {
	// CPE is the platform's CPE ("cpe:/a:redhat:enterprise_linux:9::appstream").
	CPE string
	// Name is the RPM name ("openssl"); empty for a bare platform.
	Name string
	// EVR is epoch:version-release ("1:3.0.7-27.el9"); empty for unversioned components (how
	// VEX names packages that have no fix yet).
	EVR string
	// Arch is the RPM architecture ("src", "x86_64", "noarch"); empty when unknown.
	Arch string
}

// Products resolves product IDs: branches give products (platforms with CPEs, packages with
// purls), relationships give "<platform>:<package>" IDs joining the two.
func (d *Document) Products() map[string]Component {
	leaves := map[string]Product{}
	var walk func([]Branch, int)
	walk = func(bs []Branch, depth int) {
		if depth > 32 { // product trees are a few levels deep; stop a hostile one
			return
		}
		for _, b := range bs {
			if b.Product != nil && b.Product.ID != "" {
				leaves[b.Product.ID] = *b.Product
			}
			walk(b.Branches, depth+1)
		}
	}
	walk(d.ProductTree.Branches, 0)
	out := make(map[string]Component, len(leaves)+len(d.ProductTree.Relationships))
	for id, p := range leaves {
		if c := component(p); c.CPE != "" || c.Name != "" {
			out[id] = c
		}
	}
	// A relationship may build on another: a module-stream package is a component of the module,
	// itself a component of the platform. Resolve in passes until nothing new resolves.
	rels := d.ProductTree.Relationships
	for pass := 0; pass < 8; pass++ {
		progress := false
		for _, r := range rels {
			id := r.FullProductName.ID
			if id == "" {
				continue
			}
			if _, done := out[id]; done {
				continue
			}
			plat, ok := out[r.RelatesTo]
			pkg, ok2 := out[r.ProductRef]
			if l, leaf := leaves[r.ProductRef]; !ok2 && leaf {
				pkg, ok2 = component(l), true // a module: no CPE or RPM name of its own
			}
			if !ok || !ok2 || plat.CPE == "" {
				continue
			}
			c := pkg
			c.CPE = plat.CPE
			out[id] = c
			progress = true
		}
		if !progress {
			break
		}
	}
	return out
}

// nevraRE reads Red Hat's product_version names, "openssl-1:3.0.7-27.el9.x86_64".
var nevraRE = regexp.MustCompile(`^(.+)-(\d+):([^-:]+)-([^-:]+)\.([A-Za-z0-9_]+)$`)

func component(p Product) Component {
	var c Component
	if p.Helper != nil {
		c.CPE = p.Helper.CPE
		if p.Helper.PURL != "" {
			c.Name, c.EVR, c.Arch = fromPURL(p.Helper.PURL)
		}
	}
	// The name carries the epoch explicitly (purls omit epoch=0), so it wins when it parses.
	if m := nevraRE.FindStringSubmatch(p.Name); m != nil && (c.Name == "" || c.Name == m[1]) {
		c.Name, c.EVR, c.Arch = m[1], m[2]+":"+m[3]+"-"+m[4], m[5]
	}
	return c
}

// fromPURL reads pkg:rpm/redhat/<name>@<version>-<release>?arch=…&epoch=….
func fromPURL(p string) (name, evr, arch string) {
	rest, ok := strings.CutPrefix(p, "pkg:rpm/")
	if !ok {
		return "", "", ""
	}
	rest, query, _ := strings.Cut(rest, "?")
	rest, _, _ = strings.Cut(rest, "#")
	_, nv, ok := strings.Cut(rest, "/") // namespace
	if !ok {
		return "", "", ""
	}
	name, version, _ := strings.Cut(nv, "@")
	name, _ = url.PathUnescape(name)
	version, _ = url.PathUnescape(version)
	q, _ := url.ParseQuery(query)
	arch = q.Get("arch")
	if version != "" {
		epoch := q.Get("epoch")
		if epoch == "" {
			epoch = "0"
		}
		evr = epoch + ":" + version
	}
	return name, evr, arch
}

// sortedUnique is a helper for deterministic product lists.
func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
