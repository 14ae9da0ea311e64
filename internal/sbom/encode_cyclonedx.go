package sbom

import (
	"io"
	"strconv"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/stellaops/stellaops/internal/inventory"
)

// writeCycloneDX writes a CycloneDX 1.6 BOM, pretty-printed, HTML characters unescaped.
func (e *encoding) writeCycloneDX(w io.Writer, asXML bool) error {
	bom, _ := e.cycloneDX()
	return WriteCycloneDX(w, bom, asXML)
}

func (e *encoding) cycloneDX() (*cdx.BOM, map[string]string) {
	bom := &cdx.BOM{
		JSONSchema:   "http://cyclonedx.org/schema/bom-1.6.schema.json",
		XMLNS:        "http://cyclonedx.org/schema/bom/1.6",
		BOMFormat:    cdx.BOMFormat,
		SpecVersion:  cdx.SpecVersion1_6,
		SerialNumber: "urn:uuid:" + e.id.String(),
		Version:      1,
	}
	subject := cdx.Component{
		BOMRef:     "stellaops:target",
		Type:       cdx.ComponentTypeApplication,
		Name:       e.targetName(),
		Version:    e.inv.Target.Digest,
		Properties: cdxProperties(e.targetProps()),
	}
	if e.inv.Target.Kind == inventory.TargetImage || e.inv.Target.Kind == inventory.TargetRootfs {
		subject.Type = cdx.ComponentTypeContainer
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp: e.now.Format("2006-01-02T15:04:05.000Z"),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: toolName, Version: e.opts.ToolVersion,
		}}},
		Component: &subject,
	}
	seen := map[string]bool{subject.BOMRef: true}
	comps := make([]cdx.Component, 0, len(e.inv.Components)+1)
	if d := e.inv.Distro; !d.IsZero() {
		comps = append(comps, cdx.Component{
			BOMRef:     uniqueRef(seen, "stellaops:os:"+d.String()),
			Type:       cdx.ComponentTypeOS,
			Name:       d.ID,
			Version:    d.VersionID,
			Properties: cdxProperties(e.distroProps()),
		})
	}
	refs := make(map[string]string, len(e.inv.Components))
	for i := range e.inv.Components {
		c := e.cdxComponent(&e.inv.Components[i], i, seen)
		refs[e.inv.Components[i].Key()] = c.BOMRef
		comps = append(comps, c)
	}
	bom.Components = &comps
	return bom, refs
}

func (e *encoding) cdxComponent(c *inventory.Component, i int, seen map[string]bool) cdx.Component {
	purl := c.PackageURL()
	ref := purl
	if ref == "" {
		ref = "stellaops:component:" + strconv.Itoa(i)
	}
	out := cdx.Component{
		BOMRef:     uniqueRef(seen, ref),
		Type:       cdx.ComponentTypeLibrary,
		Name:       c.Name,
		Version:    c.Version,
		PackageURL: purl,
	}
	var extraCPEs []string
	if len(c.CPEs) > 0 {
		out.CPE, extraCPEs = c.CPEs[0], c.CPEs[1:]
	}
	var hashes []cdx.Hash
	var extraHashes []inventory.Hash
	for _, h := range c.Hashes {
		if cdxHashOK(h) {
			hashes = append(hashes, cdx.Hash{Algorithm: cdx.HashAlgorithm(h.Algorithm), Value: h.Value})
		} else {
			extraHashes = append(extraHashes, h)
		}
	}
	if len(hashes) > 0 {
		out.Hashes = &hashes
	}
	if len(c.Licenses) > 0 {
		// Names are always schema-valid; ids would need the SPDX list, and a licence list may
		// not mix expressions with licences.
		ls := make(cdx.Licenses, len(c.Licenses))
		for j, l := range c.Licenses {
			ls[j] = cdx.LicenseChoice{License: &cdx.License{Name: l}}
		}
		out.Licenses = &ls
	}
	out.Properties = cdxProperties(e.componentProps(c, extraCPEs, extraHashes))
	return out
}

// cdxHashOK reports whether the CycloneDX 1.6 schema accepts the hash.
func cdxHashOK(h inventory.Hash) bool {
	switch cdx.HashAlgorithm(h.Algorithm) {
	case cdx.HashAlgoMD5, cdx.HashAlgoSHA1, cdx.HashAlgoSHA256, cdx.HashAlgoSHA384, cdx.HashAlgoSHA512,
		cdx.HashAlgoSHA3_256, cdx.HashAlgoSHA3_384, cdx.HashAlgoSHA3_512, cdx.HashAlgoBlake2b_256,
		cdx.HashAlgoBlake2b_384, cdx.HashAlgoBlake2b_512, cdx.HashAlgoBlake3:
		return isHexDigest(h.Value)
	}
	return false
}

// isHexDigest matches the schema's hash content: 32, 40, 64, 96 or 128 hex digits.
func isHexDigest(s string) bool {
	switch len(s) {
	case 32, 40, 64, 96, 128:
	default:
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func cdxProperties(ps []prop) *[]cdx.Property {
	if len(ps) == 0 {
		return nil
	}
	out := make([]cdx.Property, len(ps))
	for i, p := range ps {
		out[i] = cdx.Property{Name: p.name, Value: p.value}
	}
	return &out
}

// CycloneDX builds the CycloneDX 1.6 BOM that Encode writes for inv, for callers that add to it
// (the scan report adds a vulnerabilities section). refs maps each component's key
// (inventory.Component.Key) to its bom-ref.
func CycloneDX(inv *inventory.Inventory, opts EncodeOptions) (bom *cdx.BOM, refs map[string]string) {
	return newEncoding(inv, opts).cycloneDX()
}

// WriteCycloneDX encodes bom the way Encode does: pretty-printed, HTML characters unescaped.
func WriteCycloneDX(w io.Writer, bom *cdx.BOM, asXML bool) error {
	ff := cdx.BOMFileFormatJSON
	if asXML {
		ff = cdx.BOMFileFormatXML
	}
	return cdx.NewBOMEncoder(w, ff).SetPretty(true).SetEscapeHTML(false).Encode(bom)
}
