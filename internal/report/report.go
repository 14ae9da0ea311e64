// Package report writes scan results for people and tools: a table, JSON (the result document
// itself), SARIF 2.1.0 for code-scanning dashboards, and CycloneDX 1.6 with a vulnerabilities
// section whose affects point at the BOM's components. Every format is deterministic: the same
// result gives the same bytes.
//
// It formats; it does not scan, match or decide policy.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/stellaops/stellaops/internal/scan"
)

// Formats are the output formats, in help order.
var Formats = []string{"table", "json", "sarif", "cyclonedx-json"}

// Options carry what formats need beyond the result.
type Options struct {
	ToolVersion string
}

// Write renders res in format.
func Write(w io.Writer, res *scan.Result, format string, opts Options) error {
	switch format {
	case "table":
		return writeTable(w, res)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(res)
	case "sarif":
		return writeSARIF(w, res, opts)
	case "cyclonedx-json":
		return writeCycloneDX(w, res, opts)
	}
	return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

// Known reports whether format is one Write accepts.
func Known(format string) bool { return slices.Contains(Formats, format) }
