// Package alpine is the Concelier connector for Alpine's security database (secdb): per release
// and repository, the list of CVEs each package version fixes, as published at
// https://secdb.alpinelinux.org/<release>/<repo>.json (and, in the retired alpine-secdb
// repository and older mirrors, the same data as YAML: "v3.10-main.yaml").
//
// It owns reading secdb documents and mapping them to the canonical model; it does not merge.
//
//   - fetch: without configured releases, read the index page to find the "v3.x/" releases and
//     each release page to find its repositories' JSON files; store each file, as fetched, as one
//     raw document (conditional requests from the cursor). A mirror is a directory with
//     "v3.10/main.json" (or "v3.10/main.yaml", or the old flat "v3.10-main.yaml").
//   - parse: check each pending document is a secdb file; a malformed one is marked failed with
//     its reason and the run goes on.
//   - map: one advisory per CVE per document: for every package (origin) that fixes it, an
//     ECOSYSTEM range introduced "0" / fixed <version> in "alpine:<release>"; the "0" version key
//     (never vulnerable in this release) gives Status not_affected.
package alpine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/connector"
	"github.com/stellaops/stellaops/internal/concelier/fetch"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// SourceID is the source's name in the store and in job kinds (source:alpine:fetch).
const SourceID = "alpine"

// ProvenanceSource is the provenance name of mapped records; merge precedence knows it as a
// distro source.
const ProvenanceSource = "alpine-secdb"

// DefaultBaseURL is where Alpine publishes secdb.
const DefaultBaseURL = "https://secdb.alpinelinux.org"

// defaultRepos are the repositories fetched per configured release when none are named.
var defaultRepos = []string{"main", "community"}

// Mode is how a fetch treats the cursor; the modes are every connector's (connector.Mode).
type Mode = connector.Mode

// Modes, as the spec's `db fetch --mode` names them.
const (
	ModeInit   = connector.ModeInit
	ModeResume = connector.ModeResume
	ModeCursor = connector.ModeCursor
)

// ParseMode checks a mode name; empty means cursor.
func ParseMode(s string) (Mode, error) { return connector.ParseMode(s) }

// Config configures the connector.
type Config struct {
	// Releases to fetch, as secdb names them ("v3.19", "edge"; "3.19" is accepted). Empty means
	// every "v3.x" release the index (or the mirror) lists.
	Releases []string
	// Repos to fetch per configured release; default main and community. With discovery, the
	// release page's list is used instead.
	Repos   []string
	BaseURL string // default DefaultBaseURL
	// Mirror is a local directory of secdb files to read instead of the network.
	Mirror string
	// Fetch configures the HTTP client; its AllowedHosts default to BaseURL's host.
	Fetch fetch.Config
	Now   func() time.Time
}

// Store is what the connector needs of Concelier's store.
type Store interface {
	store.Documents
	store.Cursors
	store.Mapped
}

// Connector runs the Alpine source's stages.
type Connector struct {
	cfg  Config
	st   Store
	http *fetch.Client
}

// New returns a connector over st.
func New(st Store, cfg Config) (*Connector, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.Repos) == 0 {
		cfg.Repos = defaultRepos
	}
	rels := make([]string, 0, len(cfg.Releases))
	for _, r := range cfg.Releases {
		r = normRelease(r)
		if !releaseRE.MatchString(r) {
			return nil, fmt.Errorf("alpine: release %q is not v<major>.<minor> or edge", r)
		}
		rels = append(rels, r)
	}
	cfg.Releases = rels
	c := &Connector{cfg: cfg, st: st}
	if cfg.Mirror == "" {
		var err error
		if c.http, err = connector.NewClient(cfg.Fetch, cfg.BaseURL, cfg.Now); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// normRelease writes a release as secdb's directory name: "3.19" → "v3.19".
func normRelease(r string) string {
	r = strings.TrimSuffix(strings.TrimSpace(r), "/")
	if r != "" && r[0] >= '0' && r[0] <= '9' {
		return "v" + r
	}
	return r
}

var (
	releaseRE = regexp.MustCompile(`^(v[0-9]+\.[0-9]+|edge)$`)
	// Only numbered releases are discovered: edge's packages carry a VERSION_ID of the next
	// release with an _alpha suffix, so "alpine:edge" records would never be looked up.
	indexHrefRE   = regexp.MustCompile(`href="(v[0-9]+\.[0-9]+)/"`)
	releaseHrefRE = regexp.MustCompile(`href="([A-Za-z0-9_-]+)\.json"`)
)

// FetchStats counts what a fetch did.
type FetchStats = connector.FileStats

// target is one secdb file to read.
type target struct {
	uri  string // the upstream URL: the document's URI even when read from a mirror
	path string // the mirror file; empty over HTTP
}

// Fetch downloads (or reads from the mirror) each release's secdb files and stores them as raw
// documents.
func (c *Connector) Fetch(ctx context.Context, mode Mode) (FetchStats, error) {
	var st FetchStats
	if mode == ModeResume {
		return st, nil
	}
	var err error
	var targets []target
	if c.cfg.Mirror != "" {
		targets, err = c.mirrorTargets()
	} else {
		targets, err = c.httpTargets(ctx)
	}
	if err != nil {
		return st, err
	}
	uris := make([]string, len(targets))
	for i, t := range targets {
		uris[i] = t.uri
	}
	return connector.FetchFiles(ctx, c.st, SourceID, mode, uris, func(ctx context.Context, i int, prev connector.Validators) (*store.Document, error) {
		return c.read(ctx, targets[i], prev)
	})
}

// httpTargets lists the files to download: the configured releases × repos, or what the index
// and release pages list.
func (c *Connector) httpTargets(ctx context.Context) ([]target, error) {
	var out []target
	if len(c.cfg.Releases) > 0 {
		for _, rel := range slices.Sorted(slices.Values(c.cfg.Releases)) {
			for _, repo := range c.cfg.Repos {
				out = append(out, target{uri: c.cfg.BaseURL + "/" + rel + "/" + repo + ".json"})
			}
		}
		return out, nil
	}
	idx, err := c.http.Get(ctx, c.cfg.BaseURL+"/", fetch.Conditional{})
	if err != nil {
		return nil, fmt.Errorf("alpine index: %w", err)
	}
	rels := ParseIndex(idx.Body)
	if len(rels) == 0 {
		return nil, fmt.Errorf("alpine index %s lists no v3.x releases", c.cfg.BaseURL+"/")
	}
	for _, rel := range rels {
		page, err := c.http.Get(ctx, c.cfg.BaseURL+"/"+rel+"/", fetch.Conditional{})
		if err != nil {
			return nil, fmt.Errorf("alpine release %s: %w", rel, err)
		}
		for _, repo := range ParseReleasePage(page.Body) {
			out = append(out, target{uri: c.cfg.BaseURL + "/" + rel + "/" + repo + ".json"})
		}
	}
	return out, nil
}

// ParseIndex returns the numbered releases ("v3.11") an index page links to, sorted and unique.
func ParseIndex(page []byte) []string {
	var out []string
	for _, m := range indexHrefRE.FindAllSubmatch(page, -1) {
		out = append(out, string(m[1]))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ParseReleasePage returns the repositories ("community", "main") a release page has JSON for.
func ParseReleasePage(page []byte) []string {
	var out []string
	for _, m := range releaseHrefRE.FindAllSubmatch(page, -1) {
		out = append(out, string(m[1]))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// mirrorName matches the mirror layouts: "v3.10/main.json", "v3.10/main.yaml", "v3.10-main.yaml".
var mirrorName = regexp.MustCompile(`^(v[0-9]+\.[0-9]+|edge)[/-]([A-Za-z0-9_]+)\.(json|yaml|yml)$`)

// mirrorTargets lists the mirror's secdb files, one per release and repo (JSON preferred when
// both forms are there).
func (c *Connector) mirrorTargets() ([]target, error) {
	type key struct{ rel, repo string }
	found := map[key]target{}
	err := filepath.WalkDir(c.cfg.Mirror, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(c.cfg.Mirror, p)
		m := mirrorName.FindStringSubmatch(filepath.ToSlash(rel))
		if m == nil {
			return nil
		}
		if len(c.cfg.Releases) > 0 && !slices.Contains(c.cfg.Releases, m[1]) {
			return nil
		}
		k := key{m[1], m[2]}
		ext := m[3]
		if prev, ok := found[k]; ok && path.Ext(prev.uri) == ".json" {
			return nil
		}
		if ext == "yml" {
			ext = "yaml"
		}
		found[k] = target{uri: c.cfg.BaseURL + "/" + m[1] + "/" + m[2] + "." + ext, path: p}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("alpine mirror: %w", err)
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("alpine mirror %s: no v3.x/<repo>.json or v3.x-<repo>.yaml files", c.cfg.Mirror)
	}
	out := make([]target, 0, len(found))
	for _, t := range found {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b target) int { return strings.Compare(a.uri, b.uri) })
	return out, nil
}

// read returns a target as a document to store, or nil when it has not changed.
func (c *Connector) read(ctx context.Context, t target, prev connector.Validators) (*store.Document, error) {
	doc := &store.Document{Source: SourceID, URI: t.uri, ContentType: contentType(t.uri)}
	if t.path != "" {
		b, err := os.ReadFile(t.path)
		if err != nil {
			return nil, err
		}
		if prev.Digest == store.Digest(b) {
			return nil, nil // the mirror's copy is the one already stored
		}
		doc.Content, doc.FetchedAt = b, c.cfg.Now().UTC()
		return doc, nil
	}
	resp, err := c.http.Get(ctx, t.uri, fetch.Conditional{ETag: prev.ETag, LastModified: prev.LastModified})
	if err != nil {
		return nil, err
	}
	if resp.NotModified {
		return nil, nil
	}
	doc.Content, doc.FetchedAt, doc.ETag, doc.LastModified = resp.Body, resp.FetchedAt, resp.ETag, resp.LastModified
	return doc, nil
}

func contentType(uri string) string {
	if isYAML(uri) {
		return "application/yaml"
	}
	return "application/json"
}

func isYAML(uri string) bool {
	ext := path.Ext(uri)
	return ext == ".yaml" || ext == ".yml"
}

// StageStats counts what parse or map did.
type StageStats struct {
	Documents int                 `json:"documents"`
	OK        int                 `json:"ok"`
	Failed    int                 `json:"failed"`
	Records   int                 `json:"records,omitempty"` // advisories stored by map
	Errors    []advisory.DocError `json:"errors,omitempty"`
}

// Parse checks every pending document is a secdb file: a parsed one moves on to map, a malformed
// one is marked failed with the reason.
func (c *Connector) Parse(ctx context.Context) (StageStats, error) {
	r, err := connector.Check(ctx, c.st, SourceID, func(d store.Document) error {
		_, err := MapDocument(d.URI, d.Digest, d.Content)
		return err
	})
	return StageStats{Documents: r.Documents, OK: r.OK, Failed: r.Failed, Errors: r.Errors}, err
}

// Map turns parsed documents into canonical advisories and stores them.
func (c *Connector) Map(ctx context.Context) (StageStats, error) {
	var st StageStats
	docs, err := c.st.ListDocuments(ctx, SourceID, store.StatusParsed)
	if err != nil {
		return st, err
	}
	for _, d := range docs {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Documents++
		advs, err := MapDocument(d.URI, d.Digest, d.Content)
		if err != nil { // parse accepted it; only a changed parser could get here
			st.Failed++
			st.Errors = append(st.Errors, advisory.DocError{Document: d.URI, Reason: err.Error()})
			if err := c.st.SetDocumentStatus(ctx, SourceID, d.URI, d.Digest, store.StatusFailed, err.Error()); err != nil && !errors.Is(err, store.ErrConflict) {
				return st, err
			}
			continue
		}
		encs, err := store.EncodeAll(ctx, advs)
		if err != nil {
			return st, err
		}
		prefix := recordPrefix(d.URI)
		recs := make([]store.MappedRecord, len(encs))
		for i, enc := range encs {
			// Keyed per release and repo: the same CVE fixed in v3.10 and v3.11 comes from two
			// documents and is two source records that merge:reconcile unites.
			enc.ID = prefix + advs[i].ID
			recs[i] = store.MappedRecord{Source: SourceID, DocumentURI: d.URI, Encoded: enc}
		}
		// A new version of a file may drop a CVE: its old record must go. If the upsert below
		// fails, the document stays parsed and the next map rebuilds its records.
		if _, err := c.st.DeleteMappedByDocument(ctx, SourceID, d.URI); err != nil {
			return st, err
		}
		if err := c.st.UpsertMapped(ctx, recs); err != nil {
			return st, err
		}
		if err := c.st.SetDocumentStatus(ctx, SourceID, d.URI, d.Digest, store.StatusMapped, ""); err != nil && !errors.Is(err, store.ErrConflict) {
			return st, err
		}
		st.OK++
		st.Records += len(recs)
	}
	return st, nil
}

// recordPrefix is "<release>/<repo>/" of a document URI ("…/v3.10/main.json").
func recordPrefix(uri string) string {
	rel, repo := releaseRepo(uri)
	return rel + "/" + repo + "/"
}

// releaseRepo reads the release and repository from a document URI.
func releaseRepo(uri string) (string, string) {
	base := path.Base(uri)
	return path.Base(path.Dir(uri)), strings.TrimSuffix(base, path.Ext(base))
}
