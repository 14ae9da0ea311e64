// Package ubuntu is the Concelier connector for the Ubuntu CVE tracker
// (git.launchpad.net/ubuntu-cve-tracker): one text file per CVE under active/ and retired/, with
// the Ubuntu security team's per-release, per-source-package status. It owns reading that format
// and mapping it to the canonical model (see Map for the status, priority and release rules).
//
// The three stages, as every connector has them:
//
//   - fetch: from a mirror directory (a checkout or copy of the tracker: <mirror>/active/*,
//     <mirror>/retired/*; the air-gapped path), or over HTTP file by file from Config.Files
//     (conditional requests from the cursor's ETag / Last-Modified). Each file is one raw
//     document. Cloning the whole git repository is out of scope: sites sync a checkout and point
//     Mirror at it.
//   - parse: check each pending document is a tracker file; a malformed one is marked failed with
//     its reason and the run goes on.
//   - map: turn parsed files into canonical advisories, one per CVE.
//
// Nothing here merges: merge:reconcile reads what map stored.
package ubuntu

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/connector"
	"github.com/stellaops/stellaops/internal/concelier/fetch"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// SourceID is the source's name in the store and in job kinds (source:ubuntu:fetch).
const SourceID = "ubuntu"

// DefaultBaseURL serves single tracker files as plain text ("<base>/active/CVE-2024-1234").
const DefaultBaseURL = "https://git.launchpad.net/ubuntu-cve-tracker/plain"

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

// dirs are the tracker directories read from a mirror. ignored/ holds CVEs the team never
// triaged for Ubuntu and carries no release lines worth mapping.
var dirs = []string{"active", "retired"}

// Config configures the connector.
type Config struct {
	// Mirror is a local copy of the tracker (with active/ and retired/) to read instead of the
	// network.
	Mirror string
	// Files are tracker paths ("active/CVE-2024-1234") to fetch over HTTP when there is no
	// mirror.
	Files   []string
	BaseURL string // default DefaultBaseURL
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

// Connector runs the Ubuntu tracker source's stages.
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
		if len(cfg.Files) == 0 {
			return nil, errors.New("ubuntu: name the tracker files to fetch (or use a mirror)")
		}
		var err error
		if c.http, err = connector.NewClient(cfg.Fetch, cfg.BaseURL, cfg.Now); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// cursor is the source's resume point: per tracker path, the validators of the last HTTP fetch
// and the digest of what was stored.
type cursor struct {
	Files map[string]cursorEntry `json:"files"`
}

type cursorEntry struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Digest       string `json:"digest"`
}

// FetchStats counts what a fetch did.
type FetchStats struct {
	Files       int `json:"files"`
	NotModified int `json:"notModified"`
	connector.Stored
	// Removed counts files gone from the mirror whose mapped records were deleted (a CVE moved
	// from active/ to retired/ leaves its old path behind).
	Removed int `json:"removed"`
}

// Fetch reads tracker files (from the mirror or over HTTP) and stores each as a raw document.
func (c *Connector) Fetch(ctx context.Context, mode Mode) (FetchStats, error) {
	var st FetchStats
	if mode == ModeResume {
		return st, nil
	}
	cur, err := c.cursor(ctx)
	if err != nil {
		return st, err
	}
	if mode == ModeInit {
		cur.Files = map[string]cursorEntry{}
	}
	if c.cfg.Mirror != "" {
		err = c.fetchMirror(ctx, &cur, &st)
	} else {
		err = c.fetchHTTP(ctx, &cur, &st)
	}
	if err != nil {
		return st, err
	}
	return st, c.setCursor(ctx, cur)
}

func (c *Connector) fetchMirror(ctx context.Context, cur *cursor, st *FetchStats) error {
	seen := map[string]bool{}
	for _, dir := range dirs {
		ents, err := os.ReadDir(filepath.Join(c.cfg.Mirror, dir))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("ubuntu mirror: %w", err)
		}
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return err
			}
			// 00boilerplate* are the tracker's templates, not CVEs.
			name := e.Name()
			if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "00") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(c.cfg.Mirror, dir, name))
			if err != nil {
				return fmt.Errorf("ubuntu mirror: %w", err)
			}
			rel := dir + "/" + name
			seen[rel] = true
			st.Files++
			if err := c.put(ctx, rel, b, "", "", c.cfg.Now().UTC(), st); err != nil {
				return err
			}
			cur.Files[rel] = cursorEntry{Digest: store.Digest(b)}
		}
	}
	// A file that left the mirror no longer speaks for its CVE: drop what it mapped to.
	for _, rel := range slices.Sorted(maps.Keys(cur.Files)) {
		if seen[rel] {
			continue
		}
		n, err := c.st.DeleteMappedByDocument(ctx, SourceID, c.uri(rel))
		if err != nil {
			return fmt.Errorf("ubuntu: removing %s: %w", rel, err)
		}
		st.Removed += n
		delete(cur.Files, rel)
	}
	return nil
}

func (c *Connector) fetchHTTP(ctx context.Context, cur *cursor, st *FetchStats) error {
	for _, rel := range slices.Sorted(slices.Values(c.cfg.Files)) {
		rel = strings.TrimPrefix(rel, "/")
		prev := cur.Files[rel]
		resp, err := c.http.Get(ctx, c.uri(rel), fetch.Conditional{ETag: prev.ETag, LastModified: prev.LastModified})
		if err != nil {
			return fmt.Errorf("ubuntu %s: %w", rel, err)
		}
		st.Files++
		if resp.NotModified {
			st.NotModified++
			continue
		}
		if err := c.put(ctx, rel, resp.Body, resp.ETag, resp.LastModified, resp.FetchedAt, st); err != nil {
			return err
		}
		cur.Files[rel] = cursorEntry{ETag: resp.ETag, LastModified: resp.LastModified, Digest: store.Digest(resp.Body)}
	}
	return nil
}

// uri is a document's URI: the file's URL under the base, for mirror copies too, so a site that
// switches between mirror and network keeps one document per file.
func (c *Connector) uri(rel string) string { return c.cfg.BaseURL + "/" + rel }

func (c *Connector) put(ctx context.Context, rel string, b []byte, etag, lastMod string, at time.Time, st *FetchStats) error {
	out, err := c.st.PutDocument(ctx, store.Document{Source: SourceID, URI: c.uri(rel), FetchedAt: at, ETag: etag,
		LastModified: lastMod, ContentType: "text/plain", Content: b})
	if err != nil {
		return fmt.Errorf("ubuntu %s: %w", rel, err)
	}
	st.Count(out)
	return nil
}

func (c *Connector) cursor(ctx context.Context) (cursor, error) {
	var cur cursor
	err := connector.LoadCursor(ctx, c.st, SourceID, &cur)
	if cur.Files == nil {
		cur.Files = map[string]cursorEntry{}
	}
	return cur, err
}

func (c *Connector) setCursor(ctx context.Context, cur cursor) error {
	return connector.SaveCursor(ctx, c.st, SourceID, cur)
}

// StageStats counts what parse or map did.
type StageStats struct {
	Documents int                 `json:"documents"`
	OK        int                 `json:"ok"`
	Failed    int                 `json:"failed"`
	Errors    []advisory.DocError `json:"errors,omitempty"`
	// Affected, SkippedReleases and SkippedStatuses count release lines (map only).
	Affected        int `json:"affected,omitempty"`
	SkippedReleases int `json:"skippedReleases,omitempty"`
	SkippedStatuses int `json:"skippedStatuses,omitempty"`
}

// Parse checks every pending document is a tracker file: a parsed one moves on to map, a
// malformed one is marked failed with the reason.
func (c *Connector) Parse(ctx context.Context) (StageStats, error) {
	r, err := connector.Check(ctx, c.st, SourceID, func(d store.Document) error {
		_, err := Parse(d.Content)
		return err
	})
	return StageStats{Documents: r.Documents, OK: r.OK, Failed: r.Failed, Errors: r.Errors}, err
}

// Map turns parsed documents into canonical advisories and stores them, one batch per call.
func (c *Connector) Map(ctx context.Context) (StageStats, error) {
	var st StageStats
	docs, err := c.st.ListDocuments(ctx, SourceID, store.StatusParsed)
	if err != nil {
		return st, err
	}
	advs := make([]*advisory.Advisory, 0, len(docs))
	var done []store.Document
	for _, d := range docs {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Documents++
		f, err := Parse(d.Content)
		if err != nil { // parse accepted it; only a changed parser could get here
			st.Failed++
			if err := c.st.SetDocumentStatus(ctx, SourceID, d.URI, d.Digest, store.StatusFailed, err.Error()); err != nil && !errors.Is(err, store.ErrConflict) {
				return st, err
			}
			continue
		}
		a, ms := Map(f, docName(d.URI), d.Digest)
		st.Affected += ms.Kept
		st.SkippedReleases += ms.SkippedRelease
		st.SkippedStatuses += ms.SkippedStatus
		advs = append(advs, a)
		done = append(done, d)
	}
	encs, err := store.EncodeAll(ctx, advs)
	if err != nil {
		return st, err
	}
	recs := make([]store.MappedRecord, len(encs))
	for i, enc := range encs {
		// Keyed by the tracker path, not the CVE alone: while a CVE moves from active/ to retired/
		// both files may be stored, and each record must be replaced or deleted with its own
		// document. merge:reconcile unites them by CVE.
		enc.ID = docName(done[i].URI)
		recs[i] = store.MappedRecord{Source: SourceID, DocumentURI: done[i].URI, Encoded: enc}
	}
	if err := c.st.UpsertMapped(ctx, recs); err != nil {
		return st, err
	}
	for _, d := range done {
		if err := c.st.SetDocumentStatus(ctx, SourceID, d.URI, d.Digest, store.StatusMapped, ""); err != nil && !errors.Is(err, store.ErrConflict) {
			return st, err
		}
	}
	st.OK = len(done)
	return st, nil
}

// docName is a document's tracker path ("active/CVE-2024-1234") from its URI.
func docName(uri string) string {
	return path.Base(path.Dir(uri)) + "/" + path.Base(uri)
}
