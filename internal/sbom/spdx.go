package sbom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"
	"github.com/spdx/tools-golang/tagvalue"

	"github.com/stellaops/stellaops/internal/inventory"
)

// decodeSPDX parses an SPDX 2.x document (JSON or tag-value) and collects its packages.
func decodeSPDX(ctx context.Context, f Format, data []byte) (*builder, error) {
	var (
		doc *spdx.Document
		err error
	)
	if f == FormatSPDXJSON {
		// tools-golang reports JSON syntax errors without a location; find it first.
		if !json.Valid(data) {
			var v any
			return nil, jsonError(f, data, json.Unmarshal(data, &v))
		}
		err = guard(f, func() (err error) { doc, err = spdxjson.Read(bytes.NewReader(data)); return err })
	} else {
		err = guard(f, func() (err error) { doc, err = tagvalue.Read(bytes.NewReader(data)); return err })
	}
	var guarded *Error
	if errors.As(err, &guarded) {
		return nil, err
	}
	if err != nil {
		return nil, &Error{Format: f, Err: fmt.Errorf("reading SPDX document: %w", err)}
	}
	if doc == nil {
		return nil, invalidf(f, "", "empty SPDX document")
	}
	return walkSPDX(ctx, f, doc)
}

// skipPurpose reports whether a package purpose never describes a matchable package on its own.
func skipPurpose(p string) bool {
	switch p {
	case "CONTAINER", "FILE", "SOURCE", "ARCHIVE", "INSTALL", "OPERATING-SYSTEM", "OPERATING_SYSTEM":
		return true
	}
	return false
}

func walkSPDX(ctx context.Context, f Format, doc *spdx.Document) (*builder, error) {
	b := newBuilder(f)
	b.inv.Target.Name = doc.DocumentName
	described := map[common.ElementID]bool{}
	for _, r := range doc.Relationships {
		if r == nil {
			continue
		}
		switch strings.ToUpper(r.Relationship) {
		case common.TypeRelationshipDescribe:
			described[r.RefB.ElementRefID] = true
		case common.TypeRelationshipDescribeBy:
			described[r.RefA.ElementRefID] = true
		}
	}
	refs := map[string]string{}
	for _, o := range doc.OtherLicenses {
		if o != nil && o.LicenseName != "" && o.LicenseName != noAssertion {
			refs[o.LicenseIdentifier] = o.LicenseName
		}
	}
	docAnnotations := map[common.ElementID][]prop{}
	for _, a := range doc.Annotations {
		if a != nil {
			docAnnotations[a.AnnotationSPDXIdentifier.ElementRefID] = append(docAnnotations[a.AnnotationSPDXIdentifier.ElementRefID], annotationProps(a.AnnotationComment)...)
		}
	}
	for i, p := range doc.Packages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if p == nil {
			continue
		}
		where := "packages[" + strconv.Itoa(i) + "]"
		props := spdxProps(p, docAnnotations[p.PackageSPDXIdentifier])
		purpose := strings.ToUpper(p.PrimaryPackagePurpose)
		isRoot := described[p.PackageSPDXIdentifier]
		if purpose == "OPERATING-SYSTEM" || purpose == "OPERATING_SYSTEM" ||
			strings.HasPrefix(string(p.PackageSPDXIdentifier), "OperatingSystem-") {
			d := distroFromOS(p.PackageName, p.PackageVersion)
			m := indexProps(props)
			if cn := m.first(propDistroCodename); cn != "" {
				d.Codename = cn
			}
			d.PrettyName = m.first(propDistroPretty)
			b.setOSDistro(d)
			continue
		}
		if isRoot && len(b.inv.Layers) == 0 {
			b.inv.Layers = targetLayers(props)
		}
		e := spdxEntry(where, p, props, refs)
		e.keepUnknown = !isRoot && !skipPurpose(purpose) && !strings.HasPrefix(string(p.PackageSPDXIdentifier), "ContainerImage-")
		if e.purl == "" && !e.keepUnknown {
			continue
		}
		b.add(e)
	}
	return b, nil
}

// spdxEntry turns an SPDX package into an entry.
func spdxEntry(where string, p *spdx.Package, props []prop, refs map[string]string) *entry {
	e := &entry{
		where:      where + " (" + string(p.PackageSPDXIdentifier) + ")",
		name:       p.PackageName,
		version:    p.PackageVersion,
		props:      props,
		sourceInfo: p.PackageSourceInfo,
	}
	for _, r := range p.PackageExternalReferences {
		if r == nil {
			continue
		}
		cat := strings.ToUpper(strings.ReplaceAll(r.Category, "_", "-"))
		switch {
		case cat == "PACKAGE-MANAGER" && r.RefType == "purl" && e.purl == "":
			e.purl = strings.TrimSpace(r.Locator)
		case cat == "SECURITY" && (r.RefType == "cpe23Type" || r.RefType == "cpe22Type"):
			e.cpes = append(e.cpes, r.Locator)
		}
	}
	for _, c := range p.PackageChecksums {
		if c.Value != "" {
			e.hashes = append(e.hashes, inventory.Hash{Algorithm: cdxHashAlgorithm(string(c.Algorithm)), Value: c.Value})
		}
	}
	lic := p.PackageLicenseDeclared
	if noLicense(lic) {
		lic = p.PackageLicenseConcluded
	}
	if !noLicense(lic) {
		e.licenses = splitAnd(lic)
		for i, l := range e.licenses {
			if name, ok := refs[l]; ok {
				e.licenses[i] = name
			}
		}
	}
	return e
}

// spdxProps gathers a package's name/value pairs: our annotations ("stellaops:…=value"),
// Trivy's annotations and attribution texts ("SrcName: bash", read as aquasecurity:trivy:SrcName).
func spdxProps(p *spdx.Package, docLevel []prop) []prop {
	var ps []prop
	for _, a := range p.Annotations {
		ps = append(ps, annotationProps(a.AnnotationComment)...)
	}
	ps = append(ps, docLevel...)
	for _, t := range p.PackageAttributionTexts {
		ps = append(ps, annotationProps(t)...)
	}
	return ps
}

// annotationProps reads one annotation comment or attribution text.
func annotationProps(s string) []prop {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "stellaops:") {
		if n, v, ok := strings.Cut(s, "="); ok {
			return []prop{{name: n, value: v}}
		}
		return nil
	}
	if n, v, ok := strings.Cut(s, ": "); ok && isTrivyAnnotationKey(n) {
		return []prop{{name: trivyPrefix + n, value: strings.TrimSpace(v)}}
	}
	return nil
}

// isTrivyAnnotationKey reports whether a "Key: value" text Trivy writes on SPDX packages matters here.
func isTrivyAnnotationKey(k string) bool {
	switch k {
	case "SrcName", "SrcVersion", "SrcRelease", "SrcEpoch", "LayerDiffID", "FilePath", "PkgType", "DiffID":
		return true
	}
	return false
}

func noLicense(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || s == "NOASSERTION" || s == "NONE"
}

// splitAnd splits a licence expression on its top-level AND operators: "MIT AND (GPL-2.0 OR
// BSD-3-Clause)" gives "MIT" and "GPL-2.0 OR BSD-3-Clause"; both licences apply.
func splitAnd(expr string) []string {
	var out []string
	depth, start := 0, 0
	fields := strings.Fields(expr)
	for i, w := range fields {
		depth += strings.Count(w, "(") - strings.Count(w, ")")
		if depth == 0 && strings.EqualFold(w, "AND") {
			out = append(out, trimParens(strings.Join(fields[start:i], " ")))
			start = i + 1
		}
	}
	out = append(out, trimParens(strings.Join(fields[start:], " ")))
	return out
}

// trimParens removes parentheses that enclose a whole expression.
func trimParens(s string) string {
	for len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' {
		depth := 0
		closesEarly := false
		for i := 0; i < len(s)-1; i++ {
			switch s[i] {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 {
				closesEarly = true
				break
			}
		}
		if closesEarly {
			return s
		}
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// cdxHashAlgorithm maps SPDX checksum algorithm names onto the CycloneDX spelling inventory uses.
func cdxHashAlgorithm(a string) string {
	switch strings.ToUpper(a) {
	case "SHA1":
		return "SHA-1"
	case "SHA224":
		return "SHA-224"
	case "SHA256":
		return "SHA-256"
	case "SHA384":
		return "SHA-384"
	case "SHA512":
		return "SHA-512"
	}
	return a
}
