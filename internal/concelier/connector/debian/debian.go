// Package debian is the Concelier connector for the Debian security tracker: its JSON export
// (https://security-tracker.debian.org/tracker/data/json: source package → CVE → per-release
// status, fixed version and urgency) and, from a local copy of the tracker's data/ directory,
// its text lists data/CVE/list, data/DSA/list and data/DLA/list.
//
// It owns reading those documents and mapping them to the canonical model (source packages in
// "debian:<version>" releases, provenance "debian-tracker"); it does not merge.
//
//   - fetch: download the JSON (conditionally, from the cursor's ETag / Last-Modified) and store
//     it as one raw document; a mirror is a copy of that file, or a directory holding the data/
//     tree (its lists and, if present, a "json" file), each file one document.
//   - parse: check each pending document; a malformed one is marked failed with its reason and
//     the run goes on.
//   - map: one advisory per CVE per document (see MapJSON and MapList for the statuses).
package debian

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/connector"
	"github.com/stellaops/stellaops/internal/concelier/fetch"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// SourceID is the source's name in the store and in job kinds (source:debian:fetch).
const SourceID = "debian"

// DefaultBaseURL is the tracker; the JSON is at <base>/data/json.
const DefaultBaseURL = "https://security-tracker.debian.org/tracker"

// ListsBaseURL is where the tracker's data/ directory is published; list documents read from a
// mirror are named by their URL under it.
const ListsBaseURL = "https://salsa.debian.org/security-tracker-team/security-tracker/-/raw/master/data"

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
	BaseURL string // default DefaultBaseURL
	// Mirror is a local copy of the JSON file, or a directory with the tracker's data/ tree
	// (CVE/list, DSA/list, DLA/list, optionally json; or a parent directory holding data/).
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

// Connector runs the Debian source's stages.
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
	c := &Connector{cfg: cfg, st: st}
	if cfg.Mirror == "" {
		var err error
		if c.http, err = connector.NewClient(cfg.Fetch, cfg.BaseURL, cfg.Now); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// FetchStats counts what a fetch did.
type FetchStats = connector.FileStats

// target is one document to read.
type target struct {
	uri  string // the upstream URL: the document's URI even when read from a mirror
	path string // the mirror file; empty over HTTP
}

// jsonURI is the JSON document's URI.
func (c *Connector) jsonURI() string { return c.cfg.BaseURL + "/data/json" }

// Fetch downloads the JSON (or reads the mirror) and stores each file as a raw document.
func (c *Connector) Fetch(ctx context.Context, mode Mode) (FetchStats, error) {
	var st FetchStats
	if mode == ModeResume {
		return st, nil
	}
	var err error
	targets := []target{{uri: c.jsonURI()}}
	if c.cfg.Mirror != "" {
		if targets, err = c.mirrorTargets(); err != nil {
			return st, err
		}
	}
	uris := make([]string, len(targets))
	for i, t := range targets {
		uris[i] = t.uri
	}
	return connector.FetchFiles(ctx, c.st, SourceID, mode, uris, func(ctx context.Context, i int, prev connector.Validators) (*store.Document, error) {
		return c.read(ctx, targets[i], prev)
	})
}

// mirrorTargets lists the mirror's documents: the JSON file itself, or the data/ tree's files.
func (c *Connector) mirrorTargets() ([]target, error) {
	fi, err := os.Stat(c.cfg.Mirror)
	if err != nil {
		return nil, fmt.Errorf("debian mirror: %w", err)
	}
	if !fi.IsDir() {
		return []target{{uri: c.jsonURI(), path: c.cfg.Mirror}}, nil
	}
	dir := c.cfg.Mirror
	if sub := filepath.Join(dir, "data"); isDir(sub) {
		dir = sub
	}
	var out []target
	for _, k := range []ListKind{ListCVE, ListDLA, ListDSA} {
		p := filepath.Join(dir, string(k), "list")
		if isFile(p) {
			out = append(out, target{uri: ListsBaseURL + "/" + string(k) + "/list", path: p})
		}
	}
	if p := filepath.Join(dir, "json"); isFile(p) {
		out = append(out, target{uri: c.jsonURI(), path: p})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("debian mirror %s: no json file and no CVE/list, DSA/list or DLA/list", c.cfg.Mirror)
	}
	return out, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// read returns a target as a document to store, or nil when it has not changed.
func (c *Connector) read(ctx context.Context, t target, prev connector.Validators) (*store.Document, error) {
	doc := &store.Document{Source: SourceID, URI: t.uri, ContentType: "application/json"}
	if KindOf(t.uri) != "" {
		doc.ContentType = "text/plain"
	}
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

// MapDocument maps one stored document, by its URI: a text list or the JSON.
func MapDocument(uri, digest string, content []byte) ([]*advisory.Advisory, error) {
	if KindOf(uri) != "" {
		return MapList(uri, digest, content)
	}
	return MapJSON(uri, digest, content)
}

// recordPrefix keys a document's records: "json/", "CVE/", "DSA/", "DLA/". The same CVE from
// the JSON and from a list are distinct source records that merge:reconcile unites.
func recordPrefix(uri string) string {
	if k := KindOf(uri); k != "" {
		return string(k) + "/"
	}
	return "json/"
}

// StageStats counts what parse or map did.
type StageStats struct {
	Documents int                 `json:"documents"`
	OK        int                 `json:"ok"`
	Failed    int                 `json:"failed"`
	Records   int                 `json:"records,omitempty"` // advisories stored by map
	Errors    []advisory.DocError `json:"errors,omitempty"`
}

// Parse checks every pending document: a parsed one moves on to map, a malformed one is marked
// failed with the reason.
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
		encs, err := store.EncodeAll(ctx, advs) // the JSON holds every CVE: all CPUs
		if err != nil {
			return st, err
		}
		prefix := recordPrefix(d.URI)
		recs := make([]store.MappedRecord, len(encs))
		for i, enc := range encs {
			enc.ID = prefix + advs[i].ID
			recs[i] = store.MappedRecord{Source: SourceID, DocumentURI: d.URI, Encoded: enc}
		}
		// A new version of the document may drop a CVE: its old record must go. If the upsert
		// below fails, the document stays parsed and the next map rebuilds its records.
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
