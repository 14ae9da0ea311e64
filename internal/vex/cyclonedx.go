package vex

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// The CycloneDX structs decode only the VEX-relevant fields, so an unrelated field a library
// would validate (licences, tools' shape across spec versions) cannot make a VEX unreadable.
type cdxBOM struct {
	BOMFormat       string             `json:"bomFormat"`
	SerialNumber    string             `json:"serialNumber"`
	Metadata        *cdxMetadata       `json:"metadata"`
	Components      []cdxComponent     `json:"components"`
	Vulnerabilities []cdxVulnerability `json:"vulnerabilities"`
}

type cdxMetadata struct {
	Timestamp    string        `json:"timestamp"`
	Authors      []cdxNamed    `json:"authors"`
	Supplier     *cdxNamed     `json:"supplier"`
	Manufacturer *cdxNamed     `json:"manufacturer"`
	Manufacture  *cdxNamed     `json:"manufacture"`
	Component    *cdxComponent `json:"component"`
}

type cdxNamed struct {
	Name string `json:"name"`
}

type cdxComponent struct {
	BOMRef     string         `json:"bom-ref"`
	PURL       string         `json:"purl"`
	Components []cdxComponent `json:"components"`
}

type cdxVulnerability struct {
	BOMRef     string `json:"bom-ref"`
	ID         string `json:"id"`
	References []struct {
		ID string `json:"id"`
	} `json:"references"`
	Analysis *struct {
		State         string   `json:"state"`
		Justification string   `json:"justification"`
		Response      []string `json:"response"`
		Detail        string   `json:"detail"`
		FirstIssued   string   `json:"firstIssued"`
		LastUpdated   string   `json:"lastUpdated"`
	} `json:"analysis"`
	Affects []struct {
		Ref      string `json:"ref"`
		Versions []struct {
			Version string `json:"version"`
			Range   string `json:"range"`
		} `json:"versions"`
	} `json:"affects"`
}

func parseCycloneDX(b *builder, data []byte) error {
	var bom cdxBOM
	if err := json.Unmarshal(data, &bom); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, jsonError(err))
	}
	if bom.BOMFormat != "CycloneDX" {
		return fmt.Errorf("%w: bomFormat is %q, not \"CycloneDX\"", ErrFormat, bom.BOMFormat)
	}
	if err := b.statements(len(bom.Vulnerabilities)); err != nil {
		return err
	}
	b.doc.ID = strings.TrimSpace(bom.SerialNumber)
	b.doc.Issuer = cdxIssuer(bom.Metadata)
	var metaTime string
	if bom.Metadata != nil {
		metaTime = bom.Metadata.Timestamp
	}
	docTime, err := parseTime("metadata.timestamp", metaTime)
	if err != nil {
		return err
	}
	b.doc.Timestamp = docTime
	refs := map[string]string{}
	if bom.Metadata != nil && bom.Metadata.Component != nil {
		collectRefs(refs, []cdxComponent{*bom.Metadata.Component})
	}
	collectRefs(refs, bom.Components)
	for i := range bom.Vulnerabilities {
		if err := b.next(); err != nil {
			return err
		}
		if err := cdxVuln(b, i, &bom.Vulnerabilities[i], refs, metaTime); err != nil {
			return fmt.Errorf("vulnerabilities[%d]: %w", i, err)
		}
	}
	return nil
}

// cdxIssuer names who made the BOM's statements, in the order of how specific the field is.
func cdxIssuer(m *cdxMetadata) string {
	if m == nil {
		return ""
	}
	for _, n := range []*cdxNamed{m.Supplier, m.Manufacturer, m.Manufacture} {
		if n != nil && strings.TrimSpace(n.Name) != "" {
			return strings.TrimSpace(n.Name)
		}
	}
	for _, a := range m.Authors {
		if s := strings.TrimSpace(a.Name); s != "" {
			return s
		}
	}
	return ""
}

// collectRefs maps every (nested) component's bom-ref to its purl; the first wins, as bom-refs
// must be unique and a duplicate is the document's error, not a reason to refuse it.
func collectRefs(refs map[string]string, cs []cdxComponent) {
	for i := range cs {
		c := &cs[i]
		if c.BOMRef != "" && c.PURL != "" {
			if _, dup := refs[c.BOMRef]; !dup {
				refs[c.BOMRef] = c.PURL
			}
		}
		collectRefs(refs, c.Components)
	}
}

func cdxVuln(b *builder, i int, v *cdxVulnerability, refs map[string]string, metaTime string) error {
	vuln := normalizeVulnID(v.ID)
	if v.Analysis == nil || strings.TrimSpace(v.Analysis.State) == "" {
		// A vulnerability without analysis is a plain finding listing, not a VEX statement.
		b.skip(i, vuln, "no analysis.state")
		return nil
	}
	if vuln == "" {
		return fmt.Errorf("%w: no id", ErrMalformed)
	}
	a := v.Analysis
	status, ok := cycloneDXStatus(strings.TrimSpace(a.State))
	if !ok {
		return fmt.Errorf("%w: unknown analysis.state %q", ErrMalformed, a.State)
	}
	ts, err := firstTime("analysis.lastUpdated", a.LastUpdated, "analysis.firstIssued", a.FirstIssued,
		"metadata.timestamp", metaTime)
	if err != nil {
		return err
	}
	var ids []string
	for _, r := range v.References {
		ids = append(ids, r.ID)
	}
	c := Claim{
		Vulnerability:    vuln,
		Aliases:          aliases(vuln, ids),
		Status:           status,
		RawStatus:        a.State,
		Justification:    cycloneDXJustification(a.Justification),
		RawJustification: strings.TrimSpace(a.Justification),
		Timestamp:        ts,
		Source:           Source{Statement: i, StatementID: strings.TrimSpace(v.BOMRef)},
	}
	c.ImpactStatement, c.ActionStatement = cdxStatements(status, a.Response, a.Detail)
	if len(v.Affects) == 0 {
		b.skip(i, vuln, "no affects[]")
		return nil
	}
	for _, af := range v.Affects {
		purl, ok := resolveRef(af.Ref, refs)
		if !ok {
			b.skip(i, af.Ref, "affects ref resolves to no purl")
			continue
		}
		p, err := parsePURL(purl)
		if err != nil {
			b.skip(i, af.Ref, fmt.Sprintf("product is not a valid purl: %v", err))
			continue
		}
		if p.Version != "" || len(af.Versions) == 0 {
			if err := b.addPURL(c, purl, af.Ref); err != nil {
				return err
			}
			continue
		}
		// A versionless ref with a version list: the statement is about those versions only,
		// so it must not become a claim about every version.
		for _, ver := range af.Versions {
			if ver.Version == "" {
				b.skip(i, af.Ref, fmt.Sprintf("version range %q not evaluated", ver.Range))
				continue
			}
			vp := p
			vp.Version = ver.Version
			if err := b.addPURL(c, vp.ToString(), af.Ref); err != nil {
				return err
			}
		}
	}
	return nil
}

// cdxStatements splits analysis.detail and response into OpenVEX's impact statement (why not
// affected) and action statement (what to do).
func cdxStatements(s Status, response []string, detail string) (impact, action string) {
	detail = strings.TrimSpace(detail)
	var resp []string
	for _, r := range response {
		if r = strings.TrimSpace(r); r != "" {
			resp = append(resp, r)
		}
	}
	if len(resp) > 0 {
		action = "response: " + strings.Join(slices.Compact(resp), ", ")
	}
	switch {
	case detail == "":
	case s == StatusNotAffected:
		impact = detail
	case action == "":
		action = detail
	default:
		action += "; " + detail
	}
	return impact, action
}

// resolveRef turns an affects ref into a purl: a BOM-link ("urn:cdx:serial/version#bom-ref") is
// reduced to its bom-ref, which is looked up among the BOM's components; a ref not found there
// is used only if it is a purl itself (tools commonly use purls as bom-refs).
func resolveRef(ref string, refs map[string]string) (string, bool) {
	ref = strings.TrimSpace(ref)
	if strings.HasPrefix(ref, "urn:cdx:") {
		_, frag, ok := strings.Cut(ref, "#")
		if !ok {
			return "", false
		}
		ref = frag
	}
	if p, ok := refs[ref]; ok {
		return p, true
	}
	// BOM-Link percent-encodes the bom-ref; look the decoded form up too.
	if dec, err := url.PathUnescape(ref); err == nil && dec != ref {
		if p, ok := refs[dec]; ok {
			return p, true
		}
	}
	if strings.HasPrefix(ref, "pkg:") {
		return ref, true
	}
	return "", false
}
