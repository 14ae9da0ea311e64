// Package redhat is the Concelier connector for Red Hat's CSAF VEX data
// (https://security.access.redhat.com/data/csaf/v2/vex/<year>/cve-….json, one file per CVE; the
// RHSA advisories under …/csaf/v2/advisories/ have the same format and parse too). It owns
// reading the CSAF 2.0 subset Red Hat publishes and mapping it to the canonical model: fixed,
// affected, not-affected and under-investigation statements per RHEL major release and binary
// package (see Map).
//
// The three stages:
//
//   - fetch: over HTTP, read the feed's changes.csv (conditionally) and download every file
//     changed since the cursor, then apply deletions.csv; or, air-gapped, walk a mirror directory
//     laid out like the feed (<year>/cve-….json, .json.gz accepted) and apply its deletions.csv.
//     Each file is one raw document. The feed's full archive (csaf_vex_<date>.tar.zst) is not
//     read: sites unpack it into the mirror.
//   - parse: check each pending document is CSAF 2.0; a malformed one is marked failed with its
//     reason and the run goes on.
//   - map: turn parsed documents into canonical advisories, one per vulnerability.
package redhat

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/connector"
	"github.com/stellaops/stellaops/internal/concelier/fetch"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// SourceID is the source's name in the store and in job kinds (source:redhat:fetch).
const SourceID = "redhat"

// DefaultBaseURL is the root of Red Hat's VEX files and their changes.csv / deletions.csv.
const DefaultBaseURL = "https://security.access.redhat.com/data/csaf/v2/vex"

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
	// Mirror is a local directory laid out like the feed, read instead of the network.
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

// Connector runs the Red Hat source's stages.
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

// cursor is the source's resume point: the validators of the last changes.csv and the newest
// change time processed from it.
type cursor struct {
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"lastModified,omitempty"`
	Since        time.Time `json:"since,omitzero"`
}

// FetchStats counts what a fetch did.
type FetchStats struct {
	Listed      int `json:"listed"`
	NotModified int `json:"notModified"`
	Files       int `json:"files"`
	connector.Stored
	// Deleted counts mapped records dropped because deletions.csv names their file.
	Deleted int `json:"deleted"`
}

// Fetch stores changed VEX files as raw documents and applies deletions.
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
		cur = cursor{}
	}
	if c.cfg.Mirror != "" {
		err = c.fetchMirror(ctx, &st)
	} else {
		err = c.fetchHTTP(ctx, &cur, &st)
	}
	if err != nil {
		return st, err
	}
	return st, c.setCursor(ctx, cur)
}

func (c *Connector) fetchMirror(ctx context.Context, st *FetchStats) error {
	err := filepath.WalkDir(c.cfg.Mirror, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := d.Name()
		if !d.Type().IsRegular() || !(strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".json.gz")) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(c.cfg.Mirror, p)
		rel = filepath.ToSlash(rel)
		if strings.HasSuffix(rel, ".gz") {
			// Stored decompressed: the document is the VEX file, however the mirror keeps it.
			if b, err = gunzip(b); err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			rel = strings.TrimSuffix(rel, ".gz")
		}
		st.Files++
		return c.put(ctx, rel, b, "", "", c.cfg.Now().UTC(), st)
	})
	if err != nil {
		return fmt.Errorf("redhat mirror: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(c.cfg.Mirror, "deletions.csv"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("redhat mirror: %w", err)
	}
	dels, err := readIndex(b)
	if err != nil {
		return fmt.Errorf("redhat mirror deletions.csv: %w", err)
	}
	return c.applyDeletions(ctx, dels, time.Time{}, st)
}

func (c *Connector) fetchHTTP(ctx context.Context, cur *cursor, st *FetchStats) error {
	resp, err := c.http.Get(ctx, c.cfg.BaseURL+"/changes.csv", fetch.Conditional{ETag: cur.ETag, LastModified: cur.LastModified})
	if err != nil {
		return fmt.Errorf("redhat changes.csv: %w", err)
	}
	if resp.NotModified {
		st.NotModified++
		return nil
	}
	changes, err := readIndex(resp.Body)
	if err != nil {
		return fmt.Errorf("redhat changes.csv: %w", err)
	}
	since := cur.Since
	newest := since
	for _, e := range changes {
		st.Listed++
		if !e.at.After(since) {
			continue
		}
		r, err := c.http.Get(ctx, c.cfg.BaseURL+"/"+e.path, fetch.Conditional{})
		if err != nil {
			return fmt.Errorf("redhat %s: %w", e.path, err)
		}
		st.Files++
		if err := c.put(ctx, e.path, r.Body, r.ETag, r.LastModified, r.FetchedAt, st); err != nil {
			return err
		}
		if e.at.After(newest) {
			newest = e.at
		}
	}
	dresp, err := c.http.Get(ctx, c.cfg.BaseURL+"/deletions.csv", fetch.Conditional{})
	if err != nil {
		return fmt.Errorf("redhat deletions.csv: %w", err)
	}
	dels, err := readIndex(dresp.Body)
	if err != nil {
		return fmt.Errorf("redhat deletions.csv: %w", err)
	}
	if err := c.applyDeletions(ctx, dels, since, st); err != nil {
		return err
	}
	// The cursor moves only once every listed change is stored, so an interrupted run redoes
	// the whole delta (documents already stored come back Unchanged).
	cur.ETag, cur.LastModified, cur.Since = resp.ETag, resp.LastModified, newest
	return nil
}

func (c *Connector) applyDeletions(ctx context.Context, dels []indexEntry, since time.Time, st *FetchStats) error {
	for _, e := range dels {
		if !e.at.After(since) {
			continue
		}
		n, err := c.st.DeleteMappedByDocument(ctx, SourceID, c.uri(e.path))
		if err != nil {
			return fmt.Errorf("redhat: deleting %s: %w", e.path, err)
		}
		st.Deleted += n
	}
	return nil
}

// indexEntry is one line of changes.csv or deletions.csv: "2024/cve-2024-0002.json","<time>".
type indexEntry struct {
	path string
	at   time.Time
}

func readIndex(b []byte) ([]indexEntry, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	var out []indexEntry
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rec) < 2 {
			return nil, fmt.Errorf("line %d: %d fields, want 2", len(out)+1, len(rec))
		}
		p := strings.TrimPrefix(strings.TrimSpace(rec[0]), "/")
		if p == "" || strings.Contains(p, "..") || !strings.HasSuffix(p, ".json") {
			return nil, fmt.Errorf("line %d: bad path %q", len(out)+1, rec[0])
		}
		at, err := time.Parse(time.RFC3339, strings.TrimSpace(rec[1]))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", len(out)+1, err)
		}
		out = append(out, indexEntry{path: p, at: at.UTC()})
	}
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxDocument+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxDocument {
		return nil, fmt.Errorf("over the %d-byte limit", maxDocument)
	}
	return out, nil
}

// uri is a document's URI: the file's URL under the base, for mirror copies too.
func (c *Connector) uri(rel string) string { return c.cfg.BaseURL + "/" + rel }

func (c *Connector) put(ctx context.Context, rel string, b []byte, etag, lastMod string, at time.Time, st *FetchStats) error {
	out, err := c.st.PutDocument(ctx, store.Document{Source: SourceID, URI: c.uri(rel), FetchedAt: at, ETag: etag,
		LastModified: lastMod, ContentType: "application/json", Content: b})
	if err != nil {
		return fmt.Errorf("redhat %s: %w", rel, err)
	}
	st.Count(out)
	return nil
}

func (c *Connector) cursor(ctx context.Context) (cursor, error) {
	var cur cursor
	err := connector.LoadCursor(ctx, c.st, SourceID, &cur)
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
	// Advisories and the product counts are filled in by map.
	Advisories       int `json:"advisories,omitempty"`
	Affected         int `json:"affected,omitempty"`
	SkippedPlatforms int `json:"skippedPlatforms,omitempty"`
	SkippedModules   int `json:"skippedModules,omitempty"`
	SkippedOther     int `json:"skippedOther,omitempty"`
}

// Parse checks every pending document is CSAF 2.0: a parsed one moves on to map, a malformed
// one is marked failed with the reason.
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
	var advs []*advisory.Advisory
	var owner []store.Document // the document of each advisory
	var done []store.Document
	for _, d := range docs {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Documents++
		doc, err := Parse(d.Content)
		if err != nil { // parse accepted it; only a changed parser could get here
			st.Failed++
			if err := c.st.SetDocumentStatus(ctx, SourceID, d.URI, d.Digest, store.StatusFailed, err.Error()); err != nil && !errors.Is(err, store.ErrConflict) {
				return st, err
			}
			continue
		}
		as, ms := Map(doc, strings.TrimPrefix(d.URI, c.cfg.BaseURL+"/"), d.Digest)
		st.Affected += ms.Kept
		st.SkippedPlatforms += ms.SkippedPlatform
		st.SkippedModules += ms.SkippedModule
		st.SkippedOther += ms.SkippedOther
		// A replaced document may list fewer vulnerabilities than before: drop its old records.
		if _, err := c.st.DeleteMappedByDocument(ctx, SourceID, d.URI); err != nil {
			return st, err
		}
		for _, a := range as {
			advs = append(advs, a)
			owner = append(owner, d)
		}
		done = append(done, d)
	}
	encs, err := store.EncodeAll(ctx, advs)
	if err != nil {
		return st, err
	}
	recs := make([]store.MappedRecord, len(encs))
	for i, enc := range encs {
		// Keyed by file and CVE: an RHSA and the CVE's VEX file are distinct source records of
		// one vulnerability that merge:reconcile unites.
		enc.ID = strings.TrimPrefix(owner[i].URI, c.cfg.BaseURL+"/") + "#" + advs[i].ID
		recs[i] = store.MappedRecord{Source: SourceID, DocumentURI: owner[i].URI, Encoded: enc}
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
	st.Advisories = len(advs)
	return st, nil
}
