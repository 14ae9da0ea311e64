package sbom

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/stellaops/stellaops/internal/inventory"
)

// decodeCycloneDXJSON parses and (unless disabled) schema-validates a CycloneDX JSON document.
func (d *Decoder) decodeCycloneDXJSON(ctx context.Context, data []byte, h head) (*builder, error) {
	const f = FormatCycloneDXJSON
	if h.values["bomFormat"] != "CycloneDX" {
		return nil, invalidf(f, "/bomFormat", "want \"CycloneDX\", got %q", h.values["bomFormat"])
	}
	sv := h.values["specVersion"]
	if !d.cfg.NoSchemaValidation {
		if err := d.validateCycloneDX(data, sv); err != nil {
			return nil, err
		}
	}
	var bom bomSubset
	if err := guard(f, func() error { return json.Unmarshal(data, &bom) }); err != nil {
		if errors.Is(err, cdx.ErrInvalidSpecVersion) {
			return nil, unsupportedCycloneDX(f, sv)
		}
		return nil, jsonError(f, data, err)
	}
	if bom.SpecVersion < cdx.SpecVersion1_2 || bom.SpecVersion > cdx.SpecVersion1_6 {
		return nil, unsupportedCycloneDX(f, sv)
	}
	return walkBOM(ctx, f, &bom, d.cfg.MaxDepth)
}

func unsupportedCycloneDX(f Format, sv string) error {
	return &Error{Format: f, Where: "/specVersion", Err: fmt.Errorf("%w: CycloneDX %q (supported: 1.2 to 1.6)", ErrUnsupportedVersion, sv)}
}

// decodeCycloneDXXML parses a CycloneDX XML document. There is no XSD validation: the walk checks
// what matching relies on (names and component types) instead.
func decodeCycloneDXXML(ctx context.Context, data []byte, maxDepth int) (*builder, error) {
	const f = FormatCycloneDXXML
	var bom *bomSubset
	dec := xml.NewDecoder(bytes.NewReader(data))
	if err := guard(f, func() (err error) { bom, err = readXMLBOM(dec, maxDepth); return err }); err != nil {
		var guarded *Error
		if errors.As(err, &guarded) {
			return nil, err
		}
		var syn *xml.SyntaxError
		if errors.As(err, &syn) {
			return nil, &Error{Format: f, Where: fmt.Sprintf("line %d", syn.Line), Err: fmt.Errorf("XML syntax: %s", syn.Msg)}
		}
		return nil, &Error{Format: f, Where: position(data, dec.InputOffset()), Err: err}
	}
	sv, ok := xmlSpecVersion(bom.XMLNS)
	if !ok {
		return nil, &Error{Format: f, Where: "bom/@xmlns", Err: fmt.Errorf("%w: CycloneDX namespace %q (supported: 1.2 to 1.6)", ErrUnsupportedVersion, bom.XMLNS)}
	}
	bom.SpecVersion = sv
	return walkBOM(ctx, f, bom, maxDepth)
}

// xmlSpecVersion maps a CycloneDX XML namespace to its version; only 1.2 to 1.6 are accepted.
func xmlSpecVersion(ns string) (cdx.SpecVersion, bool) {
	v, ok := strings.CutPrefix(ns, "http://cyclonedx.org/schema/bom/")
	if !ok {
		return 0, false
	}
	switch v {
	case "1.2":
		return cdx.SpecVersion1_2, true
	case "1.3":
		return cdx.SpecVersion1_3, true
	case "1.4":
		return cdx.SpecVersion1_4, true
	case "1.5":
		return cdx.SpecVersion1_5, true
	case "1.6":
		return cdx.SpecVersion1_6, true
	}
	return 0, false
}

// bomSubset is the part of a CycloneDX BOM an inventory needs, in cyclonedx-go's types (read by
// cyclonedx-go's JSON decoding, and by readXMLBOM for XML). Reading only this part is faster, and keeps cyclonedx-go's decoding of sections we do not use (it
// rejects some valid 1.6 declarations, for one) from failing valid documents.
type bomSubset struct {
	XMLName     xml.Name         `json:"-" xml:"bom"`
	XMLNS       string           `json:"-" xml:"xmlns,attr"`
	SpecVersion cdx.SpecVersion  `json:"specVersion" xml:"-"`
	Metadata    *cdx.Metadata    `json:"metadata,omitempty" xml:"metadata,omitempty"`
	Components  *[]cdx.Component `json:"components,omitempty" xml:"components>component,omitempty"`
}

// walkBOM collects the components of a decoded BOM, nested ones included, refusing components
// nested more than maxDepth levels (JSON documents were already bounded by the scan; this bounds
// XML ones).
func walkBOM(ctx context.Context, f Format, bom *bomSubset, maxDepth int) (*builder, error) {
	b := newBuilder(f)
	w := walker{b: b, f: f, maxDepth: maxDepth}
	if md := bom.Metadata; md != nil && md.Component != nil && (md.Component.Type != "" || md.Component.Name != "") {
		mc := md.Component
		b.inv.Target.Name = mc.Name
		ps := cdxProps(mc.Properties)
		b.inv.Layers = targetLayers(ps)
		if mc.Type == cdx.ComponentTypeOS {
			b.setOSDistro(cdxDistro(mc, ps))
		}
		if mc.Components != nil {
			if err := w.walk(ctx, "metadata.component.components", *mc.Components, 1); err != nil {
				return nil, err
			}
		}
	}
	if bom.Components != nil {
		if err := w.walk(ctx, "components", *bom.Components, 1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// walker walks nested CycloneDX components into a builder.
type walker struct {
	b        *builder
	f        Format
	maxDepth int
}

func (w *walker) walk(ctx context.Context, path string, cs []cdx.Component, depth int) error {
	b, f := w.b, w.f
	if w.maxDepth > 0 && depth > w.maxDepth {
		return &Error{Format: f, Where: path, Err: fmt.Errorf("%w: components nested more than %d levels", ErrTooDeep, w.maxDepth)}
	}
	for i := range cs {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := &cs[i]
		where := path + "[" + strconv.Itoa(i) + "]"
		if f == FormatCycloneDXXML {
			if err := checkXMLComponent(f, where, c); err != nil {
				return err
			}
		}
		switch c.Type {
		case cdx.ComponentTypeOS:
			b.setOSDistro(cdxDistro(c, cdxProps(c.Properties)))
		case cdx.ComponentTypeFile, cdx.ComponentTypeData, cdx.ComponentTypeMachineLearningModel,
			cdx.ComponentTypeCryptographicAsset:
		default:
			b.add(cdxEntry(where, c))
		}
		if c.Components != nil {
			if err := w.walk(ctx, where+".components", *c.Components, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkXMLComponent stands in for the schema checks the JSON path gets: the component type and
// the hashes.
// (The schema allows an empty name, and so do we: the purl names the package.)
func checkXMLComponent(f Format, where string, c *cdx.Component) error {
	switch c.Type {
	case cdx.ComponentTypeApplication, cdx.ComponentTypeContainer, cdx.ComponentTypeDevice,
		cdx.ComponentTypeFile, cdx.ComponentTypeFirmware, cdx.ComponentTypeFramework,
		cdx.ComponentTypeLibrary, cdx.ComponentTypeOS, cdx.ComponentTypePlatform,
		cdx.ComponentTypeData, cdx.ComponentTypeDeviceDriver, cdx.ComponentTypeMachineLearningModel,
		cdx.ComponentTypeCryptographicAsset:
	default:
		return invalidf(f, where, "unknown component type %q", c.Type)
	}
	if c.Hashes != nil {
		for i, h := range *c.Hashes {
			if !cdxHashOK(inventory.Hash{Algorithm: string(h.Algorithm), Value: h.Value}) {
				return invalidf(f, fmt.Sprintf("%s.hashes[%d]", where, i), "hash %s %q is not a known algorithm with a hex digest of the right length", h.Algorithm, h.Value)
			}
		}
	}
	return nil
}

func cdxProps(ps *[]cdx.Property) []prop {
	if ps == nil {
		return nil
	}
	out := make([]prop, len(*ps))
	for i, p := range *ps {
		out[i] = prop{name: p.Name, value: p.Value}
	}
	return out
}

// cdxEntry turns a CycloneDX component into an entry.
func cdxEntry(where string, c *cdx.Component) *entry {
	e := &entry{
		where:       where,
		name:        c.Name,
		group:       c.Group,
		version:     c.Version,
		purl:        strings.TrimSpace(c.PackageURL),
		props:       cdxProps(c.Properties),
		keepUnknown: true,
	}
	if c.CPE != "" {
		e.cpes = append(e.cpes, c.CPE)
	}
	if c.Hashes != nil {
		for _, h := range *c.Hashes {
			if h.Value != "" {
				e.hashes = append(e.hashes, inventory.Hash{Algorithm: string(h.Algorithm), Value: h.Value})
			}
		}
	}
	e.licenses = cdxLicenses(c.Licenses)
	if ev := c.Evidence; ev != nil && ev.Occurrences != nil {
		for _, o := range *ev.Occurrences {
			e.locations = append(e.locations, o.Location)
		}
	}
	return e
}

func cdxLicenses(ls *cdx.Licenses) []string {
	if ls == nil {
		return nil
	}
	var out []string
	for _, l := range *ls {
		switch {
		case l.Expression != "":
			out = append(out, l.Expression)
		case l.License != nil && l.License.ID != "":
			out = append(out, l.License.ID)
		case l.License != nil && l.License.Name != "":
			out = append(out, l.License.Name)
		}
	}
	return out
}

// cdxDistro reads an operating-system component: Syft's syft:distro:* properties, ours, or the
// name and version Trivy writes.
func cdxDistro(c *cdx.Component, ps []prop) inventory.Distro {
	m := indexProps(ps)
	if id := m.first("syft:distro:id"); id != "" {
		d := distroFromOS(id, m.first("syft:distro:versionID"))
		d.Codename = m.first("syft:distro:versionCodename")
		d.PrettyName = m.first("syft:distro:prettyName")
		return d
	}
	d := distroFromOS(c.Name, c.Version)
	if cn := m.first(propDistroCodename); cn != "" {
		d.Codename = cn
	}
	if pn := m.first(propDistroPretty); pn != "" {
		d.PrettyName = pn
	} else if c.Description != "" && m.first("aquasecurity:trivy:Type") == "" {
		d.PrettyName = c.Description
	}
	return d
}

// targetLayers reads the image layers from the subject's properties: ours (indexed, with digest,
// size and history) or Trivy's aquasecurity:trivy:DiffID list.
func targetLayers(ps []prop) []inventory.Layer {
	var ours []inventory.Layer
	var trivy []inventory.Layer
	for _, p := range ps {
		if p.name == trivyDiffID && p.value != "" {
			trivy = append(trivy, inventory.Layer{DiffID: p.value})
			continue
		}
		rest, ok := strings.CutPrefix(p.name, propTargetLayerBase)
		if !ok {
			continue
		}
		idx, field, ok := strings.Cut(rest, ":")
		n, err := strconv.Atoi(idx)
		if !ok || err != nil || n < 0 || n >= len(ps) {
			continue
		}
		for len(ours) <= n {
			ours = append(ours, inventory.Layer{})
		}
		l := &ours[n]
		switch field {
		case "diffID":
			l.DiffID = p.value
		case "digest":
			l.Digest = p.value
		case "size":
			l.Size, _ = strconv.ParseInt(p.value, 10, 64)
		case "createdBy":
			l.CreatedBy = p.value
		}
	}
	if len(ours) > 0 {
		return ours
	}
	return trivy
}
