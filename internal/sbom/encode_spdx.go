package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"
	"github.com/spdx/tools-golang/tagvalue"

	"github.com/stellaops/stellaops/internal/inventory"
)

const noAssertion = "NOASSERTION"

// writeSPDX writes an SPDX 2.3 document: the target package, which the document DESCRIBES and
// which CONTAINS the operating system and every component.
func (e *encoding) writeSPDX(w io.Writer, tagValue bool) error {
	doc := e.spdx()
	if tagValue {
		// Tag-value has no package-level annotations: they follow the document, naming the package.
		for _, p := range doc.Packages {
			for i := range p.Annotations {
				a := p.Annotations[i]
				a.AnnotationSPDXIdentifier = common.MakeDocElementID("", string(p.PackageSPDXIdentifier))
				doc.Annotations = append(doc.Annotations, &a)
			}
			p.Annotations = nil
		}
		return tagvalue.Write(doc, w)
	}
	return spdxjson.Write(doc, w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false))
}

func (e *encoding) spdx() *spdx.Document {
	created := e.now.Format("2006-01-02T15:04:05Z")
	tool := toolName
	if e.opts.ToolVersion != "" {
		tool += "-" + e.opts.ToolVersion
	}
	annotate := func(ps []prop) []spdx.Annotation {
		out := make([]spdx.Annotation, 0, len(ps))
		for _, p := range ps {
			out = append(out, spdx.Annotation{
				Annotator:         common.Annotator{Annotator: tool, AnnotatorType: "Tool"},
				AnnotationDate:    created,
				AnnotationType:    "OTHER",
				AnnotationComment: p.name + "=" + p.value,
			})
		}
		return out
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      e.targetName(),
		DocumentNamespace: "urn:uuid:" + e.id.String(),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{Creator: tool, CreatorType: "Tool"}},
			Created:  created,
		},
	}
	purpose := "APPLICATION"
	if e.inv.Target.Kind == inventory.TargetImage || e.inv.Target.Kind == inventory.TargetRootfs {
		purpose = "CONTAINER"
	}
	target := &spdx.Package{
		PackageName:             e.targetName(),
		PackageSPDXIdentifier:   "Target",
		PackageVersion:          e.inv.Target.Digest,
		PackageDownloadLocation: noAssertion,
		PrimaryPackagePurpose:   purpose,
		Annotations:             annotate(e.targetProps()),
	}
	doc.Packages = append(doc.Packages, target)
	rel := func(a common.ElementID, kind string, b common.ElementID) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(a)), RefB: common.MakeDocElementID("", string(b)), Relationship: kind,
		})
	}
	rel("DOCUMENT", common.TypeRelationshipDescribe, "Target")
	if d := e.inv.Distro; !d.IsZero() {
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName:             d.ID,
			PackageSPDXIdentifier:   "OperatingSystem",
			PackageVersion:          d.VersionID,
			PackageDownloadLocation: noAssertion,
			PrimaryPackagePurpose:   "OPERATING-SYSTEM",
			Annotations:             annotate(e.distroProps()),
		})
		rel("Target", common.TypeRelationshipContains, "OperatingSystem")
	}
	licences := newLicenceRefs()
	seen := map[string]bool{}
	for i := range e.inv.Components {
		c := &e.inv.Components[i]
		p := e.spdxPackage(c, licences)
		p.PackageSPDXIdentifier = common.ElementID(uniqueSPDXID(seen, c))
		var extraHashes []inventory.Hash
		for _, h := range c.Hashes {
			if alg, ok := spdxChecksumAlgorithm(h.Algorithm); ok && isLowerHex(h.Value) {
				p.PackageChecksums = append(p.PackageChecksums, common.Checksum{Algorithm: alg, Value: h.Value})
			} else {
				extraHashes = append(extraHashes, h)
			}
		}
		p.Annotations = annotate(e.componentProps(c, nil, extraHashes))
		doc.Packages = append(doc.Packages, p)
		rel("Target", common.TypeRelationshipContains, p.PackageSPDXIdentifier)
	}
	doc.OtherLicenses = licences.others
	return doc
}

func (e *encoding) spdxPackage(c *inventory.Component, licences *licenceRefs) *spdx.Package {
	p := &spdx.Package{
		PackageName:             c.Name,
		PackageVersion:          c.Version,
		PackageDownloadLocation: noAssertion,
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
		PackageCopyrightText:    noAssertion,
		PrimaryPackagePurpose:   "LIBRARY",
	}
	if purl := c.PackageURL(); purl != "" {
		p.PackageExternalReferences = append(p.PackageExternalReferences, &spdx.PackageExternalReference{
			Category: "PACKAGE-MANAGER", RefType: "purl", Locator: purl,
		})
	}
	for _, cpe := range c.CPEs {
		p.PackageExternalReferences = append(p.PackageExternalReferences, &spdx.PackageExternalReference{
			Category: "SECURITY", RefType: "cpe23Type", Locator: cpe,
		})
	}
	if len(c.Licenses) > 0 {
		terms := make([]string, len(c.Licenses))
		for i, l := range c.Licenses {
			terms[i] = licences.expression(l)
		}
		p.PackageLicenseDeclared = strings.Join(terms, " AND ")
	}
	if c.Ecosystem.IsOS() && c.Source.Name != "" {
		p.PackageSourceInfo = "built package from: " + strings.TrimSpace(c.Source.Name+" "+c.Source.Version)
	}
	return p
}

// uniqueSPDXID derives a package's SPDX ID from its purl (or name and version).
func uniqueSPDXID(seen map[string]bool, c *inventory.Component) string {
	key := c.PackageURL()
	if key == "" {
		key = c.Name + "@" + c.Version
	}
	sum := sha256.Sum256([]byte(key))
	id := uniqueRef(seen, "Package-"+hex.EncodeToString(sum[:8]))
	return strings.ReplaceAll(id, "#", "-")
}

// spdxChecksumAlgorithm maps an inventory (CycloneDX-spelt) hash algorithm to SPDX's.
func spdxChecksumAlgorithm(a string) (common.ChecksumAlgorithm, bool) {
	switch a {
	case "MD5":
		return common.MD5, true
	case "SHA-1":
		return common.SHA1, true
	case "SHA-224":
		return common.SHA224, true
	case "SHA-256":
		return common.SHA256, true
	case "SHA-384":
		return common.SHA384, true
	case "SHA-512":
		return common.SHA512, true
	case "SHA3-256", "SHA3-384", "SHA3-512", "BLAKE2b-256", "BLAKE2b-384", "BLAKE2b-512", "BLAKE3":
		return common.ChecksumAlgorithm(a), true
	}
	return "", false
}

// licenceRefs turns licence strings into SPDX expressions: SPDX identifiers and expressions made
// of them stay as they are; anything else becomes a LicenseRef- with the original text kept as
// an extracted licence, which the decoder maps back.
type licenceRefs struct {
	byText map[string]string
	others []*spdx.OtherLicense
}

func newLicenceRefs() *licenceRefs { return &licenceRefs{byText: map[string]string{}} }

func (r *licenceRefs) expression(l string) string {
	if isSPDXExpression(l) {
		if strings.Contains(l, " OR ") {
			return "(" + l + ")"
		}
		return l
	}
	if ref, ok := r.byText[l]; ok {
		return ref
	}
	sum := sha256.Sum256([]byte(l))
	ref := "LicenseRef-" + sanitizeRef(l) + "-" + hex.EncodeToString(sum[:4])
	r.byText[l] = ref
	r.others = append(r.others, &spdx.OtherLicense{LicenseIdentifier: ref, ExtractedText: l, LicenseName: l})
	return ref
}

// isSPDXExpression reports whether s is an SPDX licence expression made only of listed
// identifiers, LicenseRef-s, operators and parentheses.
func isSPDXExpression(s string) bool {
	fields := strings.Fields(strings.NewReplacer("(", " ( ", ")", " ) ").Replace(s))
	if len(fields) == 0 {
		return false
	}
	depth := 0
	for _, f := range fields {
		switch f {
		case "(":
			depth++
		case ")":
			depth--
			if depth < 0 {
				return false
			}
		case "AND", "OR", "WITH":
		default:
			id := strings.TrimSuffix(f, "+")
			if !isSPDXLicenseID(id) && !strings.HasPrefix(id, "LicenseRef-") {
				return false
			}
		}
	}
	return depth == 0
}

// sanitizeRef keeps the characters an SPDX idstring allows (letters, digits, '.', '-').
func sanitizeRef(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return strings.Trim(b.String(), "-.")
}

// isLowerHex reports whether s is what SPDX accepts as a checksum value: lower-case hex digits.
func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}
