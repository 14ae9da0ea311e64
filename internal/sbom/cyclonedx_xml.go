package sbom

import (
	"encoding/xml"
	"fmt"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// readXMLBOM reads the part of a CycloneDX XML document an inventory needs (bomSubset) straight
// from the token stream, into cyclonedx-go's types. encoding/xml's reflective Decode into
// cyclonedx-go's structures took more than half of an XML SBOM's decoding time (plus a custom
// licence decoder that re-tokenises), for fields we then ignore; this walks the tokens once and
// skips everything else. It keeps the rules of Decode that matter: character data of an element
// is what its value is, child elements of a text field are skipped, repeated lists append, and
// malformed XML is an error (Token checks that elements nest). TestXMLReaderMatchesDecode and
// FuzzXMLReader hold it to Decode's result on every document Decode accepts.
//
// Components nested deeper than maxDepth are not read; one empty placeholder stands for them, so
// that walkBOM reports the nesting error at the same path as before.
func readXMLBOM(dec *xml.Decoder, maxDepth int) (*bomSubset, error) {
	r := xmlReader{dec: dec, maxDepth: maxDepth}
	root, err := r.root()
	if err != nil {
		return nil, err
	}
	bom := &bomSubset{XMLName: root.Name}
	bom.XMLNS = attr(&root, "xmlns")
	err = r.children(func(se *xml.StartElement) error {
		switch se.Name.Local {
		case "metadata":
			if bom.Metadata == nil {
				bom.Metadata = &cdx.Metadata{}
			}
			return r.children(func(se *xml.StartElement) error {
				if se.Name.Local != "component" {
					return r.dec.Skip()
				}
				c, err := r.component(se, 0)
				bom.Metadata.Component = &c
				return err
			})
		case "components":
			if bom.Components == nil {
				bom.Components = &[]cdx.Component{}
			}
			return r.components(bom.Components, 1)
		}
		return r.dec.Skip()
	})
	return bom, err
}

type xmlReader struct {
	dec      *xml.Decoder
	maxDepth int
	text     []byte // reused buffer for character data
}

// root returns the document element, which must be <bom>.
func (r *xmlReader) root() (xml.StartElement, error) {
	for {
		t, err := r.dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if se, ok := t.(xml.StartElement); ok {
			if se.Name.Local != "bom" {
				return se, fmt.Errorf("expected element type <bom> but have <%s>", se.Name.Local)
			}
			return se, nil
		}
	}
}

// children calls fn for each child element of the element just opened, until its end. fn must
// consume the child whole (read it to its end or Skip it).
func (r *xmlReader) children(fn func(*xml.StartElement) error) error {
	for {
		t, err := r.dec.Token()
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.StartElement:
			if err := fn(&t); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// textOf returns the character data directly inside the element just opened, skipping child
// elements, as Decode does for a string field.
func (r *xmlReader) textOf() (string, error) {
	r.text = r.text[:0]
	for {
		t, err := r.dec.Token()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.CharData:
			r.text = append(r.text, t...)
		case xml.StartElement:
			if err := r.dec.Skip(); err != nil {
				return "", err
			}
		case xml.EndElement:
			return string(r.text), nil
		}
	}
}

// components appends the <component> children of a <components> element.
func (r *xmlReader) components(dst *[]cdx.Component, depth int) error {
	return r.children(func(se *xml.StartElement) error {
		if se.Name.Local != "component" {
			return r.dec.Skip()
		}
		c, err := r.component(se, depth)
		*dst = append(*dst, c)
		return err
	})
}

// attr returns the value of an attribute by local name, in any namespace, the last one winning:
// Decode's rule for an attribute field.
func attr(se *xml.StartElement, local string) string {
	v := ""
	for _, a := range se.Attr {
		if a.Name.Local == local {
			v = a.Value
		}
	}
	return v
}

// component reads one <component>; depth is its nesting level (1 = top-level list).
func (r *xmlReader) component(se *xml.StartElement, depth int) (cdx.Component, error) {
	c := cdx.Component{Type: cdx.ComponentType(attr(se, "type")), BOMRef: attr(se, "bom-ref")}
	err := r.children(func(se *xml.StartElement) error {
		var err error
		switch se.Name.Local {
		case "name":
			c.Name, err = r.textOf()
		case "group":
			c.Group, err = r.textOf()
		case "version":
			c.Version, err = r.textOf()
		case "description":
			c.Description, err = r.textOf()
		case "purl":
			c.PackageURL, err = r.textOf()
		case "cpe":
			c.CPE, err = r.textOf()
		case "properties":
			if c.Properties == nil {
				c.Properties = &[]cdx.Property{}
			}
			err = r.children(func(se *xml.StartElement) error {
				if se.Name.Local != "property" {
					return r.dec.Skip()
				}
				v, err := r.textOf()
				*c.Properties = append(*c.Properties, cdx.Property{Name: attr(se, "name"), Value: v})
				return err
			})
		case "hashes":
			if c.Hashes == nil {
				c.Hashes = &[]cdx.Hash{}
			}
			err = r.children(func(se *xml.StartElement) error {
				if se.Name.Local != "hash" {
					return r.dec.Skip()
				}
				v, err := r.textOf()
				*c.Hashes = append(*c.Hashes, cdx.Hash{Algorithm: cdx.HashAlgorithm(attr(se, "alg")), Value: v})
				return err
			})
		case "licenses":
			var ls cdx.Licenses
			ls, err = r.licenses()
			c.Licenses = &ls
		case "evidence":
			c.Evidence, err = r.evidence()
		case "components":
			if c.Components == nil {
				c.Components = &[]cdx.Component{}
			}
			if r.maxDepth > 0 && depth+1 > r.maxDepth {
				// Deeper than walkBOM accepts: it refuses the document at this list.
				*c.Components = append(*c.Components, cdx.Component{})
				return r.dec.Skip()
			}
			err = r.components(c.Components, depth+1)
		default:
			err = r.dec.Skip()
		}
		return err
	})
	return c, err
}

// licenses reads a <licenses> choice: <license> (id or name) or <expression> elements.
func (r *xmlReader) licenses() (cdx.Licenses, error) {
	ls := cdx.Licenses{}
	err := r.children(func(se *xml.StartElement) error {
		switch se.Name.Local {
		case "expression":
			v, err := r.textOf()
			ls = append(ls, cdx.LicenseChoice{Expression: v})
			return err
		case "expression-detailed":
			ls = append(ls, cdx.LicenseChoice{Expression: attr(se, "expression")})
			return r.dec.Skip()
		case "license":
			var l cdx.License
			err := r.children(func(se *xml.StartElement) error {
				var err error
				switch se.Name.Local {
				case "id":
					l.ID, err = r.textOf()
				case "name":
					l.Name, err = r.textOf()
				default:
					err = r.dec.Skip()
				}
				return err
			})
			ls = append(ls, cdx.LicenseChoice{License: &l})
			return err
		}
		return r.dec.Skip()
	})
	return ls, err
}

// evidence reads the occurrence locations of an <evidence> element.
func (r *xmlReader) evidence() (*cdx.Evidence, error) {
	ev := &cdx.Evidence{}
	err := r.children(func(se *xml.StartElement) error {
		if se.Name.Local != "occurrences" {
			return r.dec.Skip()
		}
		var occ []cdx.EvidenceOccurrence
		err := r.children(func(se *xml.StartElement) error {
			if se.Name.Local != "occurrence" {
				return r.dec.Skip()
			}
			var o cdx.EvidenceOccurrence
			err := r.children(func(se *xml.StartElement) error {
				if se.Name.Local != "location" {
					return r.dec.Skip()
				}
				var err error
				o.Location, err = r.textOf()
				return err
			})
			occ = append(occ, o)
			return err
		})
		if occ != nil {
			ev.Occurrences = &occ
		}
		return err
	})
	return ev, err
}
