// Package trivydb owns the export of canonical advisories as a Trivy vulnerability database
// (schema 2), so stock Trivy clients in an air-gapped site can scan against StellaOps data: the
// bbolt file trivy.db in trivy-db's final (optimised) bucket layout, metadata.json, the db.tar.gz
// Trivy downloads, and an OCI image layout holding that archive as the artifact
// ghcr.io/aquasecurity/trivy-db:2 does.
//
// Output is a pure function of the advisories and Options: keys are written in sorted order, all
// times come from Options, and archives carry no clock or owner, so two exports of the same input
// are byte-identical (the bundle signs and mirrors digests).
//
// It reads the advisory model only; it does not fetch, merge or decide which advisories to ship.
// JSON shapes come from trivy-db's pkg/types, pinned in go.mod to the version Trivy v0.65.0 uses.
package trivydb

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/jsontree"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/version"
)

// SchemaVersion is the trivy-db schema written; Trivy refuses any other with --skip-db-update.
const SchemaVersion = 2

// Options fixes everything of an export that is not in the advisories.
type Options struct {
	// UpdatedAt is the build time recorded in metadata.json and the OCI manifest; required, so
	// that no wall clock leaks into the output.
	UpdatedAt time.Time
	// NextUpdate tells online Trivy clients when to look for a newer DB; zero means UpdatedAt+24h,
	// upstream's cadence.
	NextUpdate time.Time
	// DownloadedAt is normally set by the Trivy client after a download. A file-drop DB with it
	// zero is re-downloaded unless --skip-db-update is given, so zero means UpdatedAt.
	DownloadedAt time.Time
	// Tag names the manifest in the OCI layout; zero means "2" (the schema, Trivy's default tag).
	Tag string
	// Baseline is the directory of an earlier full export. With it the export is a delta (see
	// ExportMetadata), unless so much changed that ResetRatio rotates the baseline.
	Baseline string
	// ResetRatio: a delta changing or removing more than this share of the baseline's JSON files
	// becomes a full export with resetBaseline set. 0 means 0.5.
	ResetRatio float64
}

// File describes one written artefact.
type File struct {
	Path   string `json:"path"` // relative to the output directory
	Size   int64  `json:"size"`
	Digest string `json:"digest"` // "sha256:<hex>"
}

// Result reports what an export wrote.
type Result struct {
	// Vulnerabilities is the number of entries in the "vulnerability" bucket.
	Vulnerabilities int `json:"vulnerabilities"`
	// Buckets counts advisory entries (package × vulnerability) per top-level bucket.
	Buckets map[string]int `json:"buckets"`
	// Packages counts package sub-buckets per top-level bucket.
	Packages map[string]int `json:"packages"`
	// Skipped counts affected entries left out, by reason.
	Skipped map[string]int `json:"skipped,omitempty"`
	// Files are trivy.db, metadata.json, db.tar.gz, the OCI blobs, and the export's own
	// oci/tree-manifest.json and oci/metadata.json, in that order.
	Files []File `json:"files"`
	// ManifestDigest is the OCI manifest's digest, the one a registry would serve for Tag.
	ManifestDigest string `json:"manifestDigest"`
	// Metadata is what oci/metadata.json holds.
	Metadata ExportMetadata `json:"metadata"`
	// ReusedBlobs lists the OCI blobs copied from the baseline's layout rather than rebuilt.
	ReusedBlobs []string `json:"reusedBlobs,omitempty"`
}

// Export writes advs as a Trivy DB into outDir (created if needed):
//
//	trivy.db, metadata.json     the database as Trivy reads it from <cache-dir>/db
//	db.tar.gz                   both, packed as Trivy downloads them
//	oci/                        an OCI image layout holding db.tar.gz as trivy-db's artifact
//	oci/tree-manifest.json      the JSON tree (see jsontree) the database was built from
//	oci/metadata.json           the export's metadata (ExportMetadata), written last
//
// Existing files of those names are replaced. With Options.Baseline the export is planned as a
// delta: when the tree is unchanged the baseline's database and archive are copied rather than
// rebuilt, and every OCI blob the baseline already has is copied from it.
func Export(ctx context.Context, advs []*advisory.Advisory, outDir string, opts Options) (Result, error) {
	if opts.UpdatedAt.IsZero() {
		return Result{}, errors.New("trivydb: Options.UpdatedAt is required")
	}
	opts.UpdatedAt = opts.UpdatedAt.UTC()
	if opts.NextUpdate.IsZero() {
		opts.NextUpdate = opts.UpdatedAt.Add(24 * time.Hour)
	}
	if opts.DownloadedAt.IsZero() {
		opts.DownloadedAt = opts.UpdatedAt
	}
	opts.Tag = cmp.Or(opts.Tag, "2")

	if opts.Baseline != "" {
		a, errA := filepath.Abs(opts.Baseline)
		b, errB := filepath.Abs(outDir)
		if errA == nil && errB == nil && a == b {
			return Result{}, errors.New("trivydb: a delta export cannot be written over its own baseline")
		}
	}
	tree, err := jsontree.Build(ctx, advs)
	if err != nil {
		return Result{}, fmt.Errorf("trivydb: %w", err)
	}
	md, base, err := plan(tree, opts)
	if err != nil {
		return Result{}, fmt.Errorf("trivydb: %w", err)
	}
	db, res, err := build(ctx, advs)
	if err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("trivydb: %w", err)
	}
	// A marker of completion from an earlier export in the same place must not survive a
	// failure of this one.
	if err := os.Remove(filepath.Join(outDir, "oci", "metadata.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Result{}, fmt.Errorf("trivydb: %w", err)
	}
	unchanged := md.Mode == "delta" && len(md.Delta.ChangedFiles) == 0 && len(md.Delta.RemovedPaths) == 0
	if unchanged {
		// Same tree, same database: take the baseline's bytes, so consumers that cached its
		// layer fetch only the new manifest and metadata.
		for _, name := range []string{"trivy.db", "metadata.json", "db.tar.gz"} {
			if err := copyFile(filepath.Join(opts.Baseline, name), filepath.Join(outDir, name)); err != nil {
				return Result{}, fmt.Errorf("trivydb: baseline: %w", err)
			}
		}
	} else {
		dbPath := filepath.Join(outDir, "trivy.db")
		if err := db.write(ctx, dbPath); err != nil {
			return Result{}, fmt.Errorf("trivydb: write %s: %w", dbPath, err)
		}
		meta, err := json.Marshal(metadata{Version: SchemaVersion, NextUpdate: opts.NextUpdate.UTC(), UpdatedAt: opts.UpdatedAt, DownloadedAt: opts.DownloadedAt.UTC()})
		if err != nil {
			return Result{}, fmt.Errorf("trivydb: metadata: %w", err)
		}
		if err := os.WriteFile(filepath.Join(outDir, "metadata.json"), meta, 0o644); err != nil {
			return Result{}, fmt.Errorf("trivydb: %w", err)
		}
	}
	files, manifest, reused, err := writeArtifacts(ctx, outDir, base, !unchanged, opts)
	if err != nil {
		return Result{}, fmt.Errorf("trivydb: %w", err)
	}
	res.Files, res.ManifestDigest, res.ReusedBlobs = files, manifest, reused
	builder, err := os.ReadFile(filepath.Join(outDir, "metadata.json"))
	if err != nil {
		return Result{}, fmt.Errorf("trivydb: %w", err)
	}
	md.Builder = builder
	md.AdvisoryCount = len(tree.Files)
	md.ExportID = exportID(manifest)
	own, err := writeOwn(outDir, tree, md)
	if err != nil {
		return Result{}, fmt.Errorf("trivydb: %w", err)
	}
	res.Files = append(res.Files, own...)
	res.Metadata = md
	return res, nil
}

// metadata is trivy-db's pkg/metadata.Metadata, field for field (that package is not imported
// because it drags in its error library for a four-field struct).
type metadata struct {
	Version      int `json:",omitempty"`
	NextUpdate   time.Time
	UpdatedAt    time.Time
	DownloadedAt time.Time
}

// database is the whole DB in memory: top-level bucket → package → vulnerability ID → entry, the
// vulnerability details, and the data source of each advisory bucket.
type database struct {
	advisories map[string]map[string]map[string]*dbtypes.Advisory
	vulns      map[string]*dbtypes.Vulnerability
	sources    map[string]dbtypes.DataSource
	// ratingRank remembers, per vulnerability and source, which kind of rating the vendor
	// severity came from (see addRating).
	ratingRank map[string]map[dbtypes.SourceID]int
}

// build maps the advisories into the Trivy layout.
//
// Keys: language buckets key entries by our advisory ID (the CVE when there is one), with the
// other identifiers in VendorIDs. OS buckets follow Trivy's own distro builders and key entries
// by CVE: an erratum such as ALSA-2023:1234 becomes one entry per CVE it fixes, with the erratum
// in VendorIDs, so Trivy reports CVE IDs as it does with upstream data; an erratum naming no CVE
// (bug-fix and enhancement errata, ALBA/ALEA) is not a vulnerability and is skipped, as Trivy's
// AlmaLinux builder skips it. When several errata fix one CVE in one package the lowest fixed
// version wins (the first release carrying the fix), as in trivy-db.
//
// Skipped: withdrawn advisories (Trivy has no notion of withdrawal, so exporting them yields
// false positives); affected entries of distros Trivy files differently (Red Hat's CPE-indexed
// bucket) or not at all; RPM fixes built in module streams (see modular); language entries
// left with no version constraint (only GIT ranges and no versions list, e.g. the PSF CPython
// feed, whose packages are not registry packages Trivy matches anyway).
func build(ctx context.Context, advs []*advisory.Advisory) (*database, Result, error) {
	db := &database{
		advisories: map[string]map[string]map[string]*dbtypes.Advisory{},
		vulns:      map[string]*dbtypes.Vulnerability{},
		sources:    map[string]dbtypes.DataSource{},
		ratingRank: map[string]map[dbtypes.SourceID]int{},
	}
	res := Result{Buckets: map[string]int{}, Packages: map[string]int{}, Skipped: map[string]int{}}
	sorted := slices.Clone(advs)
	slices.SortStableFunc(sorted, func(a, b *advisory.Advisory) int { return cmp.Compare(a.ID, b.ID) })

	// Details come from an advisory's own record first; errata only fill what is missing, so a
	// CVE's text is the CVE record's wherever one exists, independent of processing order.
	type contribution struct {
		id      string
		adv     *advisory.Advisory
		erratum bool
	}
	var contribs []contribution
	for i, a := range sorted {
		if i%512 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, Result{}, err
			}
		}
		if !a.Withdrawn.IsZero() {
			res.Skipped["withdrawn"] += len(a.Affected)
			continue
		}
		cves := cveIDs(a)
		ownUsed := false
		erratumFor := map[string]bool{}
		for j := range a.Affected {
			af := &a.Affected[j]
			if af.Distro != "" {
				ids, reason := db.addOS(a, af, cves)
				if reason != "" {
					res.Skipped[reason]++
				}
				for _, id := range ids {
					if id == a.ID {
						ownUsed = true
					} else {
						erratumFor[id] = true
					}
				}
				continue
			}
			if reason := db.addLang(a, af); reason != "" {
				res.Skipped[reason]++
				continue
			}
			ownUsed = true
		}
		if ownUsed {
			contribs = append(contribs, contribution{a.ID, a, false})
		}
		for _, id := range sortedKeys(erratumFor) {
			contribs = append(contribs, contribution{id, a, true})
		}
	}
	slices.SortStableFunc(contribs, func(x, y contribution) int {
		return cmp.Or(cmp.Compare(x.id, y.id), compareBool(x.erratum, y.erratum))
	})
	for _, c := range contribs {
		db.addVulnerability(c.id, c.adv)
	}

	for b, pkgs := range db.advisories {
		res.Packages[b] = len(pkgs)
		for _, vs := range pkgs {
			res.Buckets[b] += len(vs)
		}
	}
	res.Vulnerabilities = len(db.vulns)
	if len(res.Skipped) == 0 {
		res.Skipped = nil
	}
	return db, res, nil
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// cveIDs are the CVEs an advisory is about: its ID or CVE aliases, else the CVEs it relates to
// (an erratum lists the CVEs it fixes as related).
func cveIDs(a *advisory.Advisory) []string {
	var own, rel []string
	for _, id := range a.IDs() {
		if strings.HasPrefix(id, "CVE-") {
			own = append(own, id)
		}
	}
	if len(own) > 0 {
		slices.Sort(own)
		return slices.Compact(own)
	}
	for _, id := range a.Related {
		if strings.HasPrefix(id, "CVE-") {
			rel = append(rel, id)
		}
	}
	slices.Sort(rel)
	return slices.Compact(rel)
}

func (db *database) entries(bucket, pkg string) map[string]*dbtypes.Advisory {
	pkgs := db.advisories[bucket]
	if pkgs == nil {
		pkgs = map[string]map[string]*dbtypes.Advisory{}
		db.advisories[bucket] = pkgs
	}
	vs := pkgs[pkg]
	if vs == nil {
		vs = map[string]*dbtypes.Advisory{}
		pkgs[pkg] = vs
	}
	return vs
}

// addOS files one distro statement; it returns the vulnerability IDs used, or why it was skipped.
func (db *database) addOS(a *advisory.Advisory, af *advisory.Affected, cves []string) ([]string, string) {
	bucket, src, ok := osBucket(af.Distro)
	if !ok {
		return nil, "unsupported distro " + strings.SplitN(af.Distro, ":", 2)[0]
	}
	fixed, status := osFix(af)
	if modular(af, fixed) {
		return nil, "rpm module stream"
	}
	ids := cves
	if len(ids) == 0 {
		if !strings.HasPrefix(a.ID, "CVE-") && isErratum(a.ID) {
			return nil, "erratum without CVE"
		}
		ids = []string{a.ID}
	}
	var sev dbtypes.Severity
	if af.Severity != nil {
		sev = severityOf(af.Severity.Level)
	}
	var vendor []string
	if len(cves) > 0 && !slices.Contains(cves, a.ID) {
		vendor = []string{a.ID}
	}
	db.sources[bucket] = src
	vs := db.entries(bucket, af.Package)
	for _, id := range ids {
		e := &dbtypes.Advisory{FixedVersion: fixed, Severity: sev, VendorIDs: slices.Clone(vendor)}
		if fixed == "" {
			e.Status = status // Trivy omits the status of fixed entries: a fixed version says it.
		}
		if old, ok := vs[id]; ok {
			e = mergeOS(af.Ecosystem, old, e)
		}
		vs[id] = e
	}
	return ids, ""
}

// isErratum reports an erratum ID (ALSA-, ALBA-, RHSA-, RLSA-, …) rather than a vulnerability ID.
func isErratum(id string) bool {
	p, _, ok := strings.Cut(id, "-")
	return ok && len(p) == 4 && (strings.HasSuffix(p, "SA") || strings.HasSuffix(p, "BA") || strings.HasSuffix(p, "EA"))
}

// mergeOS combines two statements about one CVE in one package of one release: a fix wins over
// no fix, the lower fix over the higher, and vendor IDs are united.
func mergeOS(eco inventory.Ecosystem, old, nu *dbtypes.Advisory) *dbtypes.Advisory {
	keep, other := old, nu
	switch {
	case old.FixedVersion == "" && nu.FixedVersion != "":
		keep, other = nu, old
	case old.FixedVersion != "" && nu.FixedVersion != "" && lessVersion(eco, nu.FixedVersion, old.FixedVersion):
		keep, other = nu, old
	}
	out := *keep
	out.VendorIDs = uniqSorted(append(slices.Clone(keep.VendorIDs), other.VendorIDs...))
	out.Severity = max(keep.Severity, other.Severity)
	return &out
}

func lessVersion(eco inventory.Ecosystem, a, b string) bool {
	if s, ok := version.For(eco); ok {
		va, errA := s.Parse(a)
		vb, errB := s.Parse(b)
		if errA == nil && errB == nil {
			return va.Compare(vb) < 0
		}
	}
	return a < b // unparsable: any fixed order will do, as long as it is deterministic
}

// addLang files one language-ecosystem statement, or says why it was skipped.
func (db *database) addLang(a *advisory.Advisory, af *advisory.Affected) string {
	prefix, ok := langPrefix[af.Ecosystem]
	if !ok {
		return "unsupported ecosystem " + string(af.Ecosystem)
	}
	vulnerable, patched := langConstraints(af)
	if len(vulnerable) == 0 {
		return "no version constraint"
	}
	src := langSource(af.Ecosystem, af.Source)
	bucket := bucketName(prefix, src.Name)
	db.sources[bucket] = src
	vs := db.entries(bucket, pkgKey(af.Ecosystem, af.Package))
	var vendor []string
	for _, id := range a.Aliases {
		if !strings.HasPrefix(id, "CVE-") {
			vendor = append(vendor, id)
		}
	}
	if old, ok := vs[a.ID]; ok {
		// The same package listed twice (several affected entries, or two merged records of
		// one vulnerability): Trivy reads the constraint lists as alternatives, so unite them.
		old.VulnerableVersions = appendNew(old.VulnerableVersions, vulnerable...)
		old.PatchedVersions = appendNew(old.PatchedVersions, patched...)
		old.VendorIDs = uniqSorted(append(old.VendorIDs, vendor...))
		dropPatchedIfOpen(old)
		return ""
	}
	adv := &dbtypes.Advisory{VendorIDs: vendor, VulnerableVersions: appendNew(nil, vulnerable...), PatchedVersions: appendNew(nil, patched...)}
	dropPatchedIfOpen(adv)
	vs[a.ID] = adv
	return ""
}

// dropPatchedIfOpen empties PatchedVersions when a vulnerable range has no upper bound. Trivy
// treats a version listed as patched as safe before it looks at the ranges, so GO-2025-3648
// (rancher/steve: one entry "every version", another fixed at 0.5.13) would hide 0.5.13's open
// range; OSV says any entry containing the version makes it affected.
func dropPatchedIfOpen(a *dbtypes.Advisory) {
	for _, c := range a.VulnerableVersions {
		if !strings.HasPrefix(c, "=") && !strings.Contains(c, "<") {
			a.PatchedVersions = nil
			return
		}
	}
}

// appendNew appends the values of add not yet in s, keeping first-seen order (the order of the
// source's events, which reads naturally and is deterministic).
func appendNew(s []string, add ...string) []string {
	for _, v := range add {
		if !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	return s
}

func uniqSorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// addVulnerability adds a's details under id. The first contribution (the record of id itself,
// see build) sets the text and dates; later ones (errata fixing id) only fill gaps and add their
// sources' ratings.
func (db *database) addVulnerability(id string, a *advisory.Advisory) {
	v := db.vulns[id]
	if v == nil {
		v = &dbtypes.Vulnerability{}
		db.vulns[id] = v
	}
	v.Title = cmp.Or(v.Title, a.Summary)
	v.Description = cmp.Or(v.Description, a.Details)
	if len(v.CweIDs) == 0 {
		v.CweIDs = slices.Clone(a.CWEs)
	}
	for _, r := range a.References {
		if !slices.Contains(v.References, r.URL) {
			v.References = append(v.References, r.URL)
		}
	}
	if v.PublishedDate == nil && !a.Published.IsZero() {
		t := a.Published.UTC()
		v.PublishedDate = &t
	}
	if v.LastModifiedDate == nil && !a.Modified.IsZero() {
		t := a.Modified.UTC()
		v.LastModifiedDate = &t
	}
	sevs := a.Severities
	if len(sevs) == 0 {
		sevs = summarySeverity(a)
	}
	for _, s := range sevs {
		db.addRating(id, v, s)
	}
	v.Severity = topSeverity(v)
}

// summarySeverity reads the rating errata carry only in their title ("Important: openssl
// security update"), as Trivy's AlmaLinux and Rocky builders take it from the erratum's severity.
func summarySeverity(a *advisory.Advisory) []advisory.Severity {
	word, _, ok := strings.Cut(a.Summary, ":")
	if !ok || !isErratum(a.ID) || len(a.Sources) == 0 {
		return nil
	}
	lvl := advisory.ParseLevel(word)
	if lvl == advisory.LevelUnknown {
		return nil
	}
	return []advisory.Severity{{Source: a.Sources[0].Source, Level: lvl}}
}

// addRating files one rating under its source's Trivy ID. Per source the qualitative rating
// (GHSA's database_specific, a distro's) wins, then CVSS v3, v4, v2: the order in which Trivy's
// own builders fill VendorSeverity; within one kind the higher level wins, so the result does
// not depend on the order ratings arrive in.
func (db *database) addRating(vulnID string, v *dbtypes.Vulnerability, s advisory.Severity) {
	id := sourceID(s.Source)
	c := v.CVSS[id]
	switch s.Type {
	case "CVSS_V2":
		if c.V2Vector == "" {
			c.V2Vector, c.V2Score = s.Vector, s.Score
		}
	case "CVSS_V3":
		if c.V3Vector == "" {
			c.V3Vector, c.V3Score = s.Vector, s.Score
		}
	case "CVSS_V4":
		if c.V40Vector == "" {
			c.V40Vector, c.V40Score = s.Vector, s.Score
		}
	}
	if c != (dbtypes.CVSS{}) {
		if v.CVSS == nil {
			v.CVSS = dbtypes.VendorCVSS{}
		}
		v.CVSS[id] = c
	}
	if s.Level == advisory.LevelUnknown {
		return
	}
	r := map[string]int{"": 0, "CVSS_V3": 1, "CVSS_V4": 2, "CVSS_V2": 3}[s.Type]
	ranks := db.ratingRank[vulnID]
	if ranks == nil {
		ranks = map[dbtypes.SourceID]int{}
		db.ratingRank[vulnID] = ranks
	}
	prev, had := ranks[id]
	if !had || r < prev || (r == prev && severityOf(s.Level) > v.VendorSeverity[id]) {
		if v.VendorSeverity == nil {
			v.VendorSeverity = dbtypes.VendorSeverity{}
		}
		v.VendorSeverity[id] = severityOf(s.Level)
		ranks[id] = r
	}
}

// topSeverity is the deprecated Vulnerability.Severity string, which Trivy falls back to when
// no rating of the finding's own source exists: the highest vendor rating.
func topSeverity(v *dbtypes.Vulnerability) string {
	var top dbtypes.Severity
	for _, s := range v.VendorSeverity {
		top = max(top, s)
	}
	if top == dbtypes.SeverityUnknown {
		return ""
	}
	return top.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
