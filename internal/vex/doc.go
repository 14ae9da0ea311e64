// Package vex reads VEX documents (OpenVEX, CycloneDX VEX, CSAF VEX) into claims, decides one
// status per vulnerability and product from claims that may disagree, and applies those decisions
// to findings. It never changes a finding itself and never treats silence as safety: no claim, or
// claims that cannot be told apart, give [StatusUnknown].
//
// # Claims
//
// Every parser turns a document into [Claim] values keyed by (vulnerability ID, product purl),
// with a status in the OpenVEX vocabulary (not_affected, affected, fixed, under_investigation),
// the justification normalised to the OpenVEX vocabulary where an equivalent exists (the value as
// written is kept in RawJustification, the status as written in RawStatus), impact and action
// statements, the issuer, a timestamp and where the claim came from ([Source]: format, document
// name and SHA-256 digest, statement index and ID, the product references as written). Products
// that cannot be named by a purl (CPE-only CSAF products, unresolvable CycloneDX bom-refs,
// non-purl OpenVEX IDs) give no claim; they are listed in [Document.Skipped] so nothing vanishes
// silently. Claims are sorted; equal claims from one statement are merged.
//
// Per format:
//   - OpenVEX (v0.0.1 and v0.2.0 shapes): issuer is the document author; the timestamp is the
//     statement's last_updated, else its timestamp, else the document's last_updated, else its
//     timestamp. A product with subcomponents yields claims for the subcomponents, with the
//     product kept in Claim.Within.
//   - CycloneDX: vulnerabilities[] with an analysis.state are claims for each affects[].ref. A ref
//     is resolved through the BOM's own components (bom-ref → purl); a "urn:cdx:serial/version#ref"
//     BOM-link is reduced to its bom-ref first; an unresolved ref is used only if it is itself a
//     purl. When a ref names a versionless purl and affects[].versions lists exact versions, the
//     claim is made for each listed version (ranges are not evaluated and give a skip note).
//     The per-version status in affects[].versions is not read: analysis.state is the statement.
//     States map resolved and resolved_with_pedigree → fixed, exploitable → affected, in_triage →
//     under_investigation, false_positive and not_affected → not_affected. Justifications
//     code_not_present, code_not_reachable and protected_by_compiler map to OpenVEX's
//     vulnerable_code_not_present, vulnerable_code_not_in_execute_path and
//     inline_mitigations_already_exist; the others have no OpenVEX equivalent and stay raw only.
//     analysis.detail is the impact statement of a not_affected claim; analysis.response (and
//     the detail, for other states) is the action statement. Issuer is metadata.supplier, else
//     metadata.manufacturer (1.6) or manufacture (1.5), else the first metadata author; the
//     timestamp is analysis.lastUpdated, else firstIssued, else metadata.timestamp.
//   - CSAF 2.x, any category (product_status means the same in every profile; csaf_vex and
//     csaf_security_advisory are the ones that carry it): the vulnerability ID is cve, else the
//     first ids[].text. Product IDs resolve to purls through product_identification_helper
//     (purl, or CSAF 2.1 purls) on branches and full_product_names, and through relationships
//     to the purl of their product_reference (the platform, relates_to_product_reference, goes
//     to Claim.Within). known_not_affected → not_affected, known_affected/first_affected/
//     last_affected → affected, fixed/first_fixed → fixed, under_investigation →
//     under_investigation. Flags (directly or through product groups) give the justification
//     and "impact" threats the impact statement of not-affected products only (Red Hat uses
//     "impact" threats for severity); remediations naming a product give its action statement.
//     Issuer is document.publisher.name; the timestamp is document.tracking.current_release_date.
//
// Every parser accepts gzipped input. Input is bounded ([Config]): documents over MaxDocumentBytes (after gunzip), with more than
// MaxStatements statements or producing more than MaxClaims claims are refused. Malformed input
// gives an error naming the document and the problem, wrapping [ErrMalformed], [ErrTooLarge],
// [ErrTooMany] or [ErrFormat].
//
// # Consensus
//
// [Decide] chooses among the claims about one vulnerability and product:
//
//  1. Each claim gets the weight of its issuer from the [Trust] table (issuer names compared
//     case-insensitively after trimming space; unknown issuers get the table's default).
//  2. Claims are ranked by weight (highest first), then timestamp (newest first; a claim without
//     timestamp is older than any dated one), then specificity (a claim naming a product version
//     before a versionless one, which only matters when [Apply] gathers claims about different
//     product keys), then a stable key over the claim's content and source (issuer, format,
//     document ID, digest, statement, product, status, …), then input order.
//  3. No claim: unknown. A top-ranked claim with weight ≤ 0: unknown (no trusted issuer spoke;
//     a weight ≤ 0 marks an issuer whose claims are shown but never decide).
//  4. The front is every claim equal to the top-ranked one in weight, timestamp and specificity.
//     If the front agrees on the status, that status is the decision and the top-ranked claim is
//     the decider. If it does not, the decision is unknown: equally trusted, equally recent,
//     equally specific statements disagree and nothing here can say which is right.
//  5. Every claim whose status differs from the decision is listed in Decision.Conflicts (for an
//     unknown decision, that is every claim), so overruled statements stay visible.
//
// [Consensus] groups claims by exact (vulnerability, product) and decides each group; its output
// is sorted by that key.
//
// # Applying to findings
//
// [Apply] decides each finding from the claims that match it. A claim matches when its
// vulnerability ID or one of its aliases equals (case-insensitively) the finding ID or one of
// the finding's aliases, and its product matches the finding's purl ([ProductMatches]): both are
// parsed and normalised with packageurl-go; type, namespace and name must be equal; a claim with
// a version matches only that exact version string, a claim without one matches every version; a
// qualifier (or the subpath) counts only when both sides carry it, and then the values must be
// equal (so arch=x86_64 never matches arch=src, while distro= or type=jar on one side only is
// ignored). Version strings are compared as written, not by ecosystem version rules.
//
// The package owns no global state and does no I/O beyond reading the io.Reader it is given.
package vex
