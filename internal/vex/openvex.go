package vex

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// openVEXContext prefixes every OpenVEX @context ("https://openvex.dev/ns/v0.2.0", and the bare
// namespace used by v0.0.1 documents).
const openVEXContext = "https://openvex.dev/ns"

// The OpenVEX structs decode only what claims need, and accept both the v0.0.1 shapes
// (vulnerability and products as strings, statement-level subcomponents) and the v0.2.0 ones.
// They are ours rather than github.com/openvex/go-vex's: its types read one shape, its package
// brings go-sarif, protobuf and a second YAML library for a document of a dozen fields, and a
// decoder of our own keeps the size and count limits and the error positions of the other two
// formats.
type ovDocument struct {
	Context     json.RawMessage `json:"@context"`
	ID          string          `json:"@id"`
	Author      string          `json:"author"`
	Timestamp   string          `json:"timestamp"`
	LastUpdated string          `json:"last_updated"`
	Statements  []ovStatement   `json:"statements"`
}

type ovStatement struct {
	ID              string          `json:"@id"`
	Vulnerability   ovVulnerability `json:"vulnerability"`
	Timestamp       string          `json:"timestamp"`
	LastUpdated     string          `json:"last_updated"`
	Products        []ovProduct     `json:"products"`
	Subcomponents   []ovProduct     `json:"subcomponents"`
	Status          string          `json:"status"`
	Justification   string          `json:"justification"`
	ImpactStatement string          `json:"impact_statement"`
	ActionStatement string          `json:"action_statement"`
}

type ovVulnerability struct {
	ID      string
	Name    string
	Aliases []string
}

func (v *ovVulnerability) UnmarshalJSON(b []byte) error {
	if isJSONString(b) {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = ovVulnerability{Name: s}
		return nil
	}
	var o struct {
		ID      string   `json:"@id"`
		Name    string   `json:"name"`
		Aliases []string `json:"aliases"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("vulnerability is neither a string nor an object: %w", err)
	}
	*v = ovVulnerability(o)
	return nil
}

type ovProduct struct {
	ID            string
	PURL          string
	Subcomponents []ovProduct
}

// ovComponent is a product or subcomponent as written: a string, or an object. Subcomponents
// decode as ovSubcomponent, which ignores deeper nesting (the spec has none), so a hostile
// document cannot make each nesting level re-decode everything below it.
type ovComponent struct {
	ID          string `json:"@id"`
	Identifiers struct {
		PURL string `json:"purl"`
	} `json:"identifiers"`
}

func (c *ovComponent) decode(b []byte, what string) error {
	if isJSONString(b) {
		return json.Unmarshal(b, &c.ID)
	}
	if err := json.Unmarshal(b, c); err != nil {
		return fmt.Errorf("%s is neither a string nor an object: %w", what, err)
	}
	return nil
}

type ovSubcomponent struct {
	ovComponent
}

func (s *ovSubcomponent) UnmarshalJSON(b []byte) error {
	return s.decode(b, "subcomponent")
}

func (p *ovProduct) UnmarshalJSON(b []byte) error {
	var o struct {
		ovComponent
		Subcomponents []ovSubcomponent `json:"subcomponents"`
	}
	if isJSONString(b) {
		if err := json.Unmarshal(b, &o.ID); err != nil {
			return err
		}
	} else if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("product is neither a string nor an object: %w", err)
	}
	*p = ovProduct{ID: o.ID, PURL: o.Identifiers.PURL}
	for _, sc := range o.Subcomponents {
		p.Subcomponents = append(p.Subcomponents, ovProduct{ID: sc.ID, PURL: sc.Identifiers.PURL})
	}
	return nil
}

// isJSONString reports whether a JSON value (as handed to UnmarshalJSON, so already valid) is a
// string, without a failed decode that would scan the whole value.
func isJSONString(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '"'
}

// ref is how the document names the product: its @id, else its purl identifier.
func (p *ovProduct) ref() string {
	if p.ID != "" {
		return p.ID
	}
	return p.PURL
}

// purl is the product's package URL: the purl identifier, else an @id that is a purl.
func (p *ovProduct) purl() string {
	if p.PURL != "" {
		return p.PURL
	}
	if strings.HasPrefix(strings.TrimSpace(p.ID), "pkg:") {
		return p.ID
	}
	return ""
}

func parseOpenVEX(b *builder, data []byte) error {
	var d ovDocument
	if err := json.Unmarshal(data, &d); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, jsonError(err))
	}
	if !isOpenVEXContext(d.Context) {
		return fmt.Errorf("%w: @context is not %s…", ErrFormat, openVEXContext)
	}
	if err := b.statements(len(d.Statements)); err != nil {
		return err
	}
	b.doc.ID = strings.TrimSpace(d.ID)
	b.doc.Issuer = strings.TrimSpace(d.Author)
	docTime, err := firstTime("last_updated", d.LastUpdated, "timestamp", d.Timestamp)
	if err != nil {
		return err
	}
	b.doc.Timestamp = docTime
	for i := range d.Statements {
		if err := b.next(); err != nil {
			return err
		}
		if err := openVEXStatement(b, i, &d.Statements[i], &d); err != nil {
			return fmt.Errorf("statements[%d]: %w", i, err)
		}
	}
	return nil
}

func openVEXStatement(b *builder, i int, s *ovStatement, d *ovDocument) error {
	vuln := normalizeVulnID(s.Vulnerability.Name)
	if vuln == "" {
		vuln = normalizeVulnID(s.Vulnerability.ID)
	}
	if vuln == "" {
		return fmt.Errorf("%w: no vulnerability name", ErrMalformed)
	}
	status, ok := openVEXStatus(strings.TrimSpace(s.Status))
	if !ok {
		return fmt.Errorf("%w: unknown status %q", ErrMalformed, s.Status)
	}
	ts, err := firstTime("last_updated", s.LastUpdated, "timestamp", s.Timestamp,
		"document last_updated", d.LastUpdated, "document timestamp", d.Timestamp)
	if err != nil {
		return err
	}
	base := Claim{
		Vulnerability:    vuln,
		Aliases:          aliases(vuln, s.Vulnerability.Aliases),
		Status:           status,
		RawStatus:        s.Status,
		Justification:    openVEXJustification(s.Justification),
		RawJustification: strings.TrimSpace(s.Justification),
		ImpactStatement:  strings.TrimSpace(s.ImpactStatement),
		ActionStatement:  strings.TrimSpace(s.ActionStatement),
		Timestamp:        ts,
		Source:           Source{Statement: i, StatementID: strings.TrimSpace(s.ID)},
	}
	if len(s.Products) == 0 {
		b.skip(i, "", "statement names no product")
		return nil
	}
	for pi := range s.Products {
		p := &s.Products[pi]
		// Subcomponents narrow the statement to parts of the product: the claim is about them.
		subs := append(slices.Clip(p.Subcomponents), s.Subcomponents...)
		if len(subs) == 0 {
			if err := openVEXProduct(b, base, p, ""); err != nil {
				return err
			}
			continue
		}
		for si := range subs {
			if err := openVEXProduct(b, base, &subs[si], p.ref()); err != nil {
				return err
			}
		}
	}
	return nil
}

func openVEXProduct(b *builder, c Claim, p *ovProduct, within string) error {
	purl := p.purl()
	if purl == "" {
		b.skip(c.Source.Statement, p.ref(), "product has no purl")
		return nil
	}
	c.Within = within
	return b.addPURL(c, purl, p.ref())
}

// aliases returns the distinct other IDs, normalised and sorted.
func aliases(id string, in []string) []string {
	var out []string
	for _, a := range in {
		if a = normalizeVulnID(a); a != "" && vulnKey(a) != vulnKey(id) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
