// Package sbom owns the SBOM formats: it detects and decodes CycloneDX (JSON and XML, 1.2–1.6),
// SPDX (2.2/2.3, JSON and tag-value) and Trivy JSON reports (SchemaVersion 2) into an
// [inventory.Inventory], optionally unwrapping an in-toto Statement or a DSSE envelope around
// the SBOM, and it encodes inventories as CycloneDX 1.6 (JSON, XML) and SPDX 2.3 (JSON,
// tag-value), byte for byte deterministically.
//
// It must not verify signatures (a DSSE envelope is only unwrapped), fetch anything, read the
// environment or the clock, or start goroutines. Matching, policy and storage live elsewhere.
//
// # Decoding
//
// A [Decoder] is built from a [Config] (size and JSON depth limits, schema validation) and may be
// shared: [Decoder.Decode] is safe for concurrent use. The CycloneDX JSON schemas are compiled
// once per Decoder, on first use. Bad documents give an [*Error] naming the format and the place
// (a JSON pointer, a line and column, or a component index); every such error matches
// [ErrInvalid] with errors.Is. Problems confined to one component (an unparsable purl, say) do not
// fail the document: the component is dropped and an [inventory.Diagnostic] names it, so the
// inventory says it is incomplete.
//
// Other tools' conventions are read so that matching keeps what it needs: Syft's purl qualifiers
// (upstream=, distro=) and its syft:metadata:source, syft:metadata:sourceVersion,
// syft:metadata:originPackage, syft:location:N:path, syft:location:N:layerID and syft:distro:*
// properties; Trivy's aquasecurity:trivy:SrcName, SrcVersion, SrcRelease, SrcEpoch, LayerDiffID,
// FilePath and PkgType properties (CycloneDX), attribution texts and annotations (SPDX) and the
// "built package from: NAME VERSION" source info; osv-scalibr's source=, sourceversion= and
// origin= purl qualifiers; and the pre-2022 Syft purl type "alpine" (read as apk).
//
// # Validation
//
// CycloneDX JSON is validated against the official JSON schema of its specVersion (1.2 to 1.6,
// embedded, see schema/PROVENANCE), with formats asserted; the specification's 1.6 test suite
// passes in full. One deliberate tolerance: an empty subject ({"type": "", "name": ""}, as
// osv-scalibr writes) is ignored instead of failing the enum. Go has no XSD validator, so
// CycloneDX XML is checked for what matching relies on (component types, hash algorithms and
// digests, namespace version) after a strict XML parse. SPDX documents must parse with
// spdx/tools-golang (2.1 to 2.3); Trivy reports must say SchemaVersion 2. CycloneDX 1.7 and
// Trivy SchemaVersion 1 are refused with [ErrUnsupportedVersion].
//
// # Properties written by our encoders
//
// Our encoders add these properties (CycloneDX component properties; SPDX annotations of type
// OTHER whose comment is "name=value"), and the decoder reads them back first, so that
// decode(encode(inv)) gives back everything matching needs:
//
//	stellaops:source:name       source package name (dpkg Source, apk origin, rpm source rpm name)
//	stellaops:source:version    source package version, with epoch where it has one
//	stellaops:layer             diff ID of the layer that introduced the component
//	stellaops:location          a path the component was found in (one property per path)
//	stellaops:distro            the component's distro release as "id-version" (purl qualifier form)
//	stellaops:direct            "true" for a component the project declares itself
//	stellaops:cpe               a CPE 2.3 name beyond the one in the CycloneDX cpe field
//	stellaops:hash              "ALG:value" for a hash the CycloneDX schema cannot hold
//	stellaops:distro:codename   on the operating-system component: VERSION_CODENAME
//	stellaops:distro:prettyName on the operating-system component: PRETTY_NAME
//	stellaops:layer:N:diffID    on the metadata component: image layer N (base first), and
//	stellaops:layer:N:digest      its blob digest, size in bytes and history command
//	stellaops:layer:N:size
//	stellaops:layer:N:createdBy
//
// # Choices
//
//   - The subject of the document (CycloneDX metadata.component, SPDX packages the document
//     DESCRIBES that have no purl) is the target, not a component. Operating-system and file
//     entries are never components; the operating system gives the inventory distro.
//   - Entries with no purl are kept, with an unknown ecosystem, only when they have a name and a
//     version (they can still be matched by CPE); SPDX packages whose purpose is CONTAINER,
//     FILE, SOURCE, ARCHIVE, INSTALL or OPERATING-SYSTEM never are.
//   - When no operating-system entry names the distro, the most common distro= qualifier of the
//     OS packages does. OS components whose purl carries no release get the inventory's.
//   - A Trivy report holding only Vulnerabilities (no Packages) lists only vulnerable packages;
//     the inventory carries a diagnostic saying so.
//   - SPDX licence expressions are split on top-level AND into separate licences.
package sbom
