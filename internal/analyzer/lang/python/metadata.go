package python

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/stellaops/stellaops/internal/inventory"
)

// maxLicenseField is the longest License field taken as a licence name; longer values are
// licence texts pasted into the field.
const maxLicenseField = 100

// ParseMetadata reads Python core metadata (METADATA, PKG-INFO): RFC 822-style headers up to the
// first empty line, where a line starting with white space continues the previous header.
// Metadata without a name or version, or an empty file, yields nothing; a non-empty file with
// no header at all is an error.
func ParseMetadata(b []byte, location string) ([]inventory.Component, error) {
	var name, version, expr string
	var license []string // the lines of the License field
	var classifiers []string
	field, headers := "", 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break // the body (long description) starts here
		}
		if line[0] == ' ' || line[0] == '\t' {
			if field == "license" {
				license = append(license, strings.TrimSpace(line))
			}
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			field = ""
			continue
		}
		headers++
		val = strings.TrimSpace(val)
		field = strings.ToLower(strings.TrimSpace(key))
		switch field {
		case "name":
			name = val
		case "version":
			version = val
		case "license-expression":
			expr = val
		case "license":
			license = []string{val}
		case "classifier":
			classifiers = append(classifiers, val)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse %s: %w", location, err)
	}
	if headers == 0 && len(bytes.TrimSpace(b)) == 0 {
		return nil, nil // an empty file: nothing here
	}
	if headers == 0 {
		return nil, fmt.Errorf("parse %s: no metadata headers", location)
	}
	if name == "" || version == "" {
		return nil, nil
	}
	c := component(name, version, location)
	c.Licenses = metadataLicenses(expr, license, classifiers)
	return []inventory.Component{c}, nil
}

// metadataLicenses applies the precedence in the package comment.
func metadataLicenses(expr string, license, classifiers []string) []string {
	if expr != "" {
		return []string{expr}
	}
	if l := strings.TrimSpace(strings.Join(license, "\n")); len(license) == 1 && usableLicense(l) {
		return []string{l}
	}
	var out []string
	for _, c := range classifiers {
		if l, ok := classifierLicense(c); ok {
			out = append(out, l)
		}
	}
	return out
}

func usableLicense(l string) bool {
	switch strings.ToUpper(l) {
	case "", "UNKNOWN", "NONE", "OTHER", "LICENSE", "LICENSE.TXT":
		return false
	}
	return len(l) <= maxLicenseField && utf8.ValidString(l)
}
