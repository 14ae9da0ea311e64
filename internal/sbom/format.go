package sbom

import (
	"errors"
	"fmt"
	"strings"
)

// Format names an SBOM document format. cyclonedx-json, spdx-json and trivy-json-v2 are the
// API's names for the X-Stella-Sbom-Type header and the CLI's --sbom-type flag.
type Format string

// Formats the package reads; FormatAuto asks for detection. CycloneDX and SPDX can also be
// written (see [Encode]).
const (
	FormatAuto          Format = ""
	FormatCycloneDXJSON Format = "cyclonedx-json"
	FormatSPDXJSON      Format = "spdx-json"
	FormatTrivyJSON     Format = "trivy-json-v2"
	FormatCycloneDXXML  Format = "cyclonedx-xml"
	FormatSPDXTagValue  Format = "spdx-tag-value"
)

// Formats lists every format Decode accepts, in the API's order.
func Formats() []Format {
	return []Format{FormatCycloneDXJSON, FormatSPDXJSON, FormatTrivyJSON, FormatCycloneDXXML, FormatSPDXTagValue}
}

// ParseFormat reads a format name as a user gives it. "" and "auto" mean auto-detection; the
// names are matched case-insensitively.
func ParseFormat(s string) (Format, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || s == "auto" {
		return FormatAuto, nil
	}
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown SBOM format %q (want one of cyclonedx-json, spdx-json, trivy-json-v2, cyclonedx-xml, spdx-tag-value, or auto)", s)
}

// foundBy is the Component.FoundBy value for components of the format.
func (f Format) foundBy() string {
	switch f {
	case FormatCycloneDXJSON, FormatCycloneDXXML:
		return "sbom/cyclonedx"
	case FormatSPDXJSON, FormatSPDXTagValue:
		return "sbom/spdx"
	case FormatTrivyJSON:
		return "sbom/trivy"
	}
	return "sbom"
}

// Sentinel errors. Every error about the document itself (as opposed to reading it or a
// cancelled context) matches ErrInvalid as well.
var (
	// ErrInvalid matches every error caused by the document's content.
	ErrInvalid = errors.New("invalid SBOM")
	// ErrUnrecognised means the document is none of the formats this package reads.
	ErrUnrecognised = errors.New("unrecognised SBOM: not CycloneDX (JSON/XML), SPDX (JSON/tag-value) or Trivy JSON (SchemaVersion 2)")
	// ErrFormatMismatch means the document is not in the format the caller declared.
	ErrFormatMismatch = errors.New("SBOM format mismatch")
	// ErrTooLarge means the document is bigger than Config.MaxBytes.
	ErrTooLarge = errors.New("SBOM too large")
	// ErrTooDeep means a JSON document, or the components of an XML one, nest deeper than
	// Config.MaxDepth.
	ErrTooDeep = errors.New("SBOM nests too deep")
	// ErrUnsupportedVersion means the format is known but its version is not supported.
	ErrUnsupportedVersion = errors.New("unsupported SBOM version")
)

// Error is a problem with a document: which format, where in it, and what.
type Error struct {
	// Format is the format being decoded ("" while detecting).
	Format Format
	// Where locates the problem: "line 3, column 7", "byte 1234", "components[3]", a JSON
	// pointer such as "/components/0/type". Empty when the problem concerns the whole document.
	Where string
	// Err is the problem itself.
	Err error
}

// Error renders "format: where: problem".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Format != "" {
		b.WriteString(string(e.Format))
		b.WriteString(": ")
	}
	if e.Where != "" {
		b.WriteString(e.Where)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the problem and ErrInvalid, so that errors.Is matches both.
func (e *Error) Unwrap() []error { return []error{e.Err, ErrInvalid} }

func invalidf(f Format, where, format string, args ...any) *Error {
	return &Error{Format: f, Where: where, Err: fmt.Errorf(format, args...)}
}

// guard runs a third-party parser, turning a panic on a malformed document into an error
// instead of a crashed server. Our own code does not rely on it.
func guard(f Format, parse func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Format: f, Err: fmt.Errorf("the parser failed on this document: %v", r)}
		}
	}()
	return parse()
}
