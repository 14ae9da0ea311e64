package sbom

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Detect names the format of an SBOM document from its content. An in-toto statement or a DSSE
// envelope is looked into: the format of the SBOM it carries is returned. A document that is none
// of the formats gives an error matching [ErrUnrecognised].
func Detect(data []byte) (Format, error) {
	s, err := sniff(data, DefaultConfig().MaxDepth)
	if err != nil {
		return "", err
	}
	return s.format, nil
}

// sniffed is what detection found: the format, the SBOM bytes (the predicate, for
// attestations), the top-level keys of JSON SBOMs, and the attestation wrapping, if any.
type sniffed struct {
	format Format
	data   []byte
	head   head
	att    *Attestation
}

const utf8BOM = "\xef\xbb\xbf"

func sniff(data []byte, maxDepth int) (sniffed, error) {
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte(utf8BOM)), " \t\r\n")
	if len(trimmed) == 0 {
		return sniffed{}, &Error{Err: fmt.Errorf("%w: the document is empty", ErrUnrecognised)}
	}
	switch trimmed[0] {
	case '{':
		return sniffJSON(trimmed, maxDepth, 0)
	case '<':
		return sniffXML(trimmed)
	case '[':
		return sniffed{}, &Error{Err: fmt.Errorf("%w: a JSON array (Trivy SchemaVersion 1 reports are not supported)", ErrUnrecognised)}
	}
	if isTagValue(trimmed) {
		return sniffed{format: FormatSPDXTagValue, data: trimmed}, nil
	}
	return sniffed{}, &Error{Err: ErrUnrecognised}
}

// sniffJSON classifies a JSON object; level counts the wrappers already opened (envelope,
// statement), which may not nest further.
func sniffJSON(data []byte, maxDepth, level int) (sniffed, error) {
	h, err := scanJSON(data, maxDepth)
	if err != nil {
		return sniffed{}, err
	}
	v, has := h.values, h.present
	switch {
	case has["payloadType"] && has["payload"] && level == 0:
		payload, att, err := openEnvelope(data)
		if err != nil {
			return sniffed{}, err
		}
		payload = bytes.TrimSpace(payload)
		if len(payload) == 0 || payload[0] != '{' {
			return sniffed{}, &Error{Where: "/payload", Err: errors.New("DSSE payload is not a JSON in-toto statement")}
		}
		s, err := sniffJSON(payload, maxDepth, 1)
		if err != nil {
			return sniffed{}, fmt.Errorf("DSSE payload: %w", err)
		}
		if s.att == nil {
			return sniffed{}, &Error{Where: "/payload", Err: errors.New("DSSE payload is not an in-toto statement")}
		}
		s.att.Envelope, s.att.PayloadType, s.att.Signatures = true, att.PayloadType, att.Signatures
		return s, nil
	case isStatement(v["_type"]) && level <= 1:
		pred, att, err := openStatement(data, nil)
		if err != nil {
			return sniffed{}, err
		}
		if pred[0] != '{' {
			return sniffed{}, &Error{Where: "/predicate", Err: fmt.Errorf("%w: in-toto predicate %q is not a JSON SBOM", ErrUnrecognised, att.PredicateType)}
		}
		s, err := sniffJSON(pred, maxDepth, 2)
		if err != nil {
			if errors.Is(err, ErrUnrecognised) {
				return sniffed{}, &Error{Where: "/predicate", Err: fmt.Errorf("%w: in-toto predicate of type %q is not a CycloneDX or SPDX SBOM", ErrUnrecognised, att.PredicateType)}
			}
			return sniffed{}, fmt.Errorf("in-toto predicate: %w", err)
		}
		if s.format != FormatCycloneDXJSON && s.format != FormatSPDXJSON {
			return sniffed{}, &Error{Where: "/predicate", Err: fmt.Errorf("%w: in-toto predicate is %s, not CycloneDX or SPDX", ErrUnrecognised, s.format)}
		}
		s.att = att
		return s, nil
	case v["bomFormat"] == "CycloneDX":
		return sniffed{format: FormatCycloneDXJSON, data: data, head: h}, nil
	case has["bomFormat"]:
		return sniffed{}, &Error{Where: "/bomFormat", Err: fmt.Errorf("%w: bomFormat %q is not \"CycloneDX\"", ErrUnrecognised, v["bomFormat"])}
	case has["spdxVersion"], v["SPDXID"] == "SPDXRef-DOCUMENT":
		return sniffed{format: FormatSPDXJSON, data: data, head: h}, nil
	case has["SchemaVersion"] && v["SchemaVersion"] == "2":
		return sniffed{format: FormatTrivyJSON, data: data, head: h}, nil
	case has["SchemaVersion"] && (has["Results"] || has["ArtifactName"]):
		return sniffed{}, &Error{Where: "/SchemaVersion", Err: fmt.Errorf("%w: Trivy JSON SchemaVersion %s (only 2 is supported)", ErrUnsupportedVersion, v["SchemaVersion"])}
	case has["specVersion"] && has["components"]:
		// CycloneDX without bomFormat: say what is missing rather than "unrecognised".
		return sniffed{}, &Error{Format: FormatCycloneDXJSON, Where: "/bomFormat", Err: fmt.Errorf("%w: required property bomFormat is missing", ErrUnrecognised)}
	}
	return sniffed{}, &Error{Err: ErrUnrecognised}
}

// sniffXML reads up to the root element: a CycloneDX <bom> in a CycloneDX namespace.
func sniffXML(data []byte) (sniffed, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	for range 64 {
		tok, err := dec.RawToken()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return sniffed{}, &Error{Where: position(data, dec.InputOffset()), Err: fmt.Errorf("%w: XML syntax: %v", ErrUnrecognised, err)}
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		ns := ""
		for _, a := range se.Attr {
			if a.Name.Space == "" && a.Name.Local == "xmlns" {
				ns = a.Value
			}
		}
		if se.Name.Local == "bom" && strings.HasPrefix(ns, "http://cyclonedx.org/schema/bom/") {
			return sniffed{format: FormatCycloneDXXML, data: data}, nil
		}
		if se.Name.Local == "RDF" {
			return sniffed{}, &Error{Err: fmt.Errorf("%w: SPDX RDF/XML is not supported", ErrUnrecognised)}
		}
		return sniffed{}, &Error{Err: fmt.Errorf("%w: XML root element <%s xmlns=%q> is not a CycloneDX bom", ErrUnrecognised, se.Name.Local, ns)}
	}
	return sniffed{}, &Error{Err: fmt.Errorf("%w: XML document has no root element", ErrUnrecognised)}
}

// isTagValue reports whether a text document is SPDX tag-value: an "SPDXVersion:" tag among its
// first lines.
func isTagValue(data []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 0; n < 200 && sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "SPDXVersion:") {
			return true
		}
	}
	return false
}
