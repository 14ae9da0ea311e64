// Package osv is the Concelier connector for OSV data: per ecosystem, the all.zip that osv.dev
// publishes (https://osv-vulnerabilities.storage.googleapis.com/<Ecosystem>/all.zip), or the same
// layout in a local mirror directory for air-gapped sites (`<Ecosystem>/all.zip`, as osv-scanner
// uses offline; a directory of JSON records works too).
//
// The three stages of every connector:
//
//   - fetch: download each ecosystem's archive (conditionally, from the cursor's ETag /
//     Last-Modified) and store every record in it as its own raw document, URI
//     "<archive URL>#<path>". Identical records are no-ops, so a re-fetch only marks what changed.
//   - parse: check each pending document is an OSV record; a malformed one is marked failed with
//     its reason and the run goes on.
//   - map: turn parsed records into the canonical model and store them per source.
//
// Nothing here merges: merge:reconcile reads what map stored.
package osv

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/connector"
	"github.com/stellaops/stellaops/internal/concelier/fetch"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// SourceID is the source's name in the store and in job kinds (source:osv:fetch).
const SourceID = "osv"

// DefaultBaseURL is where osv.dev publishes its per-ecosystem archives.
const DefaultBaseURL = "https://osv-vulnerabilities.storage.googleapis.com"

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
	// Ecosystems to fetch, as OSV names them ("Go", "PyPI", "AlmaLinux"). With a mirror and
	// none named, every <Ecosystem>/all.zip (or directory) in the mirror is used.
	Ecosystems []string
	BaseURL    string // default DefaultBaseURL
	// Mirror is a local directory with <Ecosystem>/all.zip (or <Ecosystem>/*.json) to read
	// instead of the network.
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

// Connector runs the OSV source's stages.
type Connector struct {
	cfg   Config
	st    Store
	http  *fetch.Client
	clock func() time.Time
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
	c := &Connector{cfg: cfg, st: st, clock: cfg.Now}
	if cfg.Mirror == "" {
		if len(cfg.Ecosystems) == 0 {
			return nil, errors.New("osv: name the ecosystems to fetch (or use a mirror)")
		}
		var err error
		if c.http, err = connector.NewClient(cfg.Fetch, cfg.BaseURL, cfg.Now); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// cursor is the source's resume point: per ecosystem, the validators and digest of the last
// archive stored.
type cursor struct {
	Ecosystems map[string]cursorEntry `json:"ecosystems"`
}

type cursorEntry struct {
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"lastModified,omitempty"`
	Digest       string    `json:"digest"`
	FetchedAt    time.Time `json:"fetchedAt"`
	Records      int       `json:"records"`
}

// FetchStats counts what a fetch did.
type FetchStats struct {
	Archives    int `json:"archives"`
	NotModified int `json:"notModified"`
	Records     int `json:"records"`
	connector.Stored
}

// Fetch downloads (or reads from the mirror) each ecosystem's records and stores them as raw
// documents.
func (c *Connector) Fetch(ctx context.Context, mode Mode) (FetchStats, error) {
	var st FetchStats
	if mode == ModeResume {
		return st, nil
	}
	cur, err := c.cursor(ctx)
	if err != nil {
		return st, err
	}
	ecos, err := c.ecosystems()
	if err != nil {
		return st, err
	}
	for _, eco := range ecos {
		prev := cur.Ecosystems[eco]
		if mode == ModeInit {
			prev = cursorEntry{}
		}
		arc, err := c.archive(ctx, eco, prev)
		if err != nil {
			return st, fmt.Errorf("osv %s: %w", eco, err)
		}
		st.Archives++
		if arc == nil {
			st.NotModified++
			continue
		}
		n, err := c.storeRecords(ctx, eco, arc, &st)
		if err != nil {
			return st, fmt.Errorf("osv %s: %w", eco, err)
		}
		cur.Ecosystems[eco] = cursorEntry{ETag: arc.etag, LastModified: arc.lastModified, Digest: store.Digest(arc.body),
			FetchedAt: arc.fetchedAt, Records: n}
		// The cursor moves after each ecosystem, so an interrupted run resumes where it stopped.
		if err := c.setCursor(ctx, cur); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (c *Connector) cursor(ctx context.Context) (cursor, error) {
	var cur cursor
	err := connector.LoadCursor(ctx, c.st, SourceID, &cur)
	if cur.Ecosystems == nil {
		cur.Ecosystems = map[string]cursorEntry{}
	}
	return cur, err
}

func (c *Connector) setCursor(ctx context.Context, cur cursor) error {
	return connector.SaveCursor(ctx, c.st, SourceID, cur)
}

// ecosystems lists what to fetch, sorted.
func (c *Connector) ecosystems() ([]string, error) {
	if len(c.cfg.Ecosystems) > 0 {
		return slices.Sorted(slices.Values(c.cfg.Ecosystems)), nil
	}
	ents, err := os.ReadDir(c.cfg.Mirror)
	if err != nil {
		return nil, fmt.Errorf("osv mirror: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("osv mirror %s: no <Ecosystem>/ directories", c.cfg.Mirror)
	}
	return out, nil
}

// fetched is one ecosystem's archive as read.
type fetched struct {
	url          string
	body         []byte // a zip; nil when dir is set
	dir          string // a mirror directory of JSON records
	etag         string
	lastModified string
	fetchedAt    time.Time
}

// archive reads an ecosystem's archive: nil when the server says it has not changed.
func (c *Connector) archive(ctx context.Context, eco string, prev cursorEntry) (*fetched, error) {
	url := c.cfg.BaseURL + "/" + eco + "/all.zip"
	if c.cfg.Mirror == "" {
		resp, err := c.http.Get(ctx, url, fetch.Conditional{ETag: prev.ETag, LastModified: prev.LastModified})
		if err != nil {
			return nil, err
		}
		if resp.NotModified {
			return nil, nil
		}
		return &fetched{url: url, body: resp.Body, etag: resp.ETag, lastModified: resp.LastModified, fetchedAt: resp.FetchedAt}, nil
	}
	zipPath := filepath.Join(c.cfg.Mirror, eco, "all.zip")
	b, err := os.ReadFile(zipPath)
	switch {
	case err == nil:
		if prev.Digest == store.Digest(b) {
			return nil, nil // the mirror's copy is the one already stored
		}
		return &fetched{url: url, body: b, fetchedAt: c.clock().UTC()}, nil
	case errors.Is(err, os.ErrNotExist):
		dir := filepath.Join(c.cfg.Mirror, eco)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("mirror has neither %s nor a %s/ directory", zipPath, eco)
		}
		return &fetched{url: url, dir: dir, fetchedAt: c.clock().UTC()}, nil
	}
	return nil, err
}

// storeRecords puts each JSON record of the archive as a raw document, a batch per transaction.
func (c *Connector) storeRecords(ctx context.Context, eco string, arc *fetched, st *FetchStats) (int, error) {
	n := 0
	var batch []store.Document
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		outs, err := c.st.PutDocuments(ctx, batch)
		if err != nil {
			return err
		}
		for _, out := range outs {
			st.Count(out)
		}
		batch = batch[:0]
		return nil
	}
	put := func(name string, data []byte) error {
		n++
		st.Records++
		batch = append(batch, store.Document{Source: SourceID, URI: arc.url + "#" + name, FetchedAt: arc.fetchedAt,
			ETag: arc.etag, LastModified: arc.lastModified, ContentType: "application/json", Content: data})
		if len(batch) == connector.BatchSize {
			return flush()
		}
		return nil
	}
	var err error
	if arc.dir != "" {
		err = walkDir(ctx, arc.dir, put)
	} else {
		err = walkZip(ctx, arc.body, put)
	}
	if err != nil {
		return n, err
	}
	return n, flush()
}

const maxRecord = 16 << 20

func walkZip(ctx context.Context, body []byte, fn func(string, []byte) error) error {
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	files := slices.Clone(zr.File)
	slices.SortFunc(files, func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
	for i, f := range files {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if f.FileInfo().IsDir() || path.Ext(f.Name) != ".json" {
			continue
		}
		if f.UncompressedSize64 > maxRecord {
			return fmt.Errorf("%s: %d bytes, over the %d limit", f.Name, f.UncompressedSize64, maxRecord)
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxRecord+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		if len(b) > maxRecord {
			return fmt.Errorf("%s: over the %d-byte limit", f.Name, maxRecord)
		}
		if err := fn(f.Name, b); err != nil {
			return err
		}
	}
	return nil
}

func walkDir(ctx context.Context, dir string, fn func(string, []byte) error) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() || filepath.Ext(p) != ".json" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		return fn(filepath.ToSlash(rel), b)
	})
}

// ecosystemOf is the ecosystem part of a document URI ("…/PyPI/all.zip#PYSEC-1.json").
func ecosystemOf(uri string) string {
	u, _, _ := strings.Cut(uri, "#")
	return path.Base(path.Dir(u))
}

// StageStats counts what parse or map did.
type StageStats struct {
	Documents int                 `json:"documents"`
	OK        int                 `json:"ok"`
	Failed    int                 `json:"failed"`
	Errors    []advisory.DocError `json:"errors,omitempty"`
}

// Parse checks every pending document is an OSV record: a parsed one moves on to map, a
// malformed one is marked failed with the reason.
func (c *Connector) Parse(ctx context.Context) (StageStats, error) {
	r, err := connector.Check(ctx, c.st, SourceID, func(d store.Document) error {
		_, err := advisory.ParseOSV(sourceName(d.URI), d.URI, d.Content)
		return err
	})
	return StageStats{Documents: r.Documents, OK: r.OK, Failed: r.Failed, Errors: r.Errors}, err
}

// eachBatch calls fn with the source's documents of a status, connector.BatchSize at a time in URI order,
// so that a large source never sits in memory whole.
func (c *Connector) eachBatch(ctx context.Context, status store.DocumentStatus, fn func([]store.Document) error) error {
	after := ""
	for {
		docs, err := c.st.ListDocumentsAfter(ctx, SourceID, status, after, connector.BatchSize)
		if err != nil || len(docs) == 0 {
			return err
		}
		if err := fn(docs); err != nil {
			return err
		}
		after = docs[len(docs)-1].URI
	}
}

// parseAll parses every document's record on all CPUs: parse and map both read every record, and
// decoding OSV JSON is most of their time.
func parseAll(ctx context.Context, docs []store.Document) ([]*advisory.Advisory, []error, error) {
	advs, errs := make([]*advisory.Advisory, len(docs)), make([]error, len(docs))
	g, gctx := errgroup.WithContext(ctx)
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		g.Go(func() error {
			for i := w; i < len(docs); i += workers {
				if err := gctx.Err(); err != nil {
					return err
				}
				advs[i], errs[i] = advisory.ParseOSV(sourceName(docs[i].URI), docs[i].URI, docs[i].Content)
			}
			return nil
		})
	}
	return advs, errs, g.Wait()
}

// sourceName is the provenance name of a record: "osv:<Ecosystem>".
func sourceName(uri string) string { return "osv:" + ecosystemOf(uri) }

// Map turns parsed documents into canonical advisories and stores them, one batch per call.
func (c *Connector) Map(ctx context.Context) (StageStats, error) {
	var st StageStats
	err := c.eachBatch(ctx, store.StatusParsed, func(docs []store.Document) error { return c.mapBatch(ctx, docs, &st) })
	return st, err
}

func (c *Connector) mapBatch(ctx context.Context, docs []store.Document, st *StageStats) error {
	parsed, errs, err := parseAll(ctx, docs)
	if err != nil {
		return err
	}
	advs := make([]*advisory.Advisory, 0, len(docs))
	var done []store.Document
	for i, d := range docs {
		st.Documents++
		a, err := parsed[i], errs[i]
		if err != nil { // parse accepted it; only a changed parser could get here
			st.Failed++
			if err := c.st.SetDocumentStatus(ctx, SourceID, d.URI, d.Digest, store.StatusFailed, err.Error()); err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
			continue
		}
		advs = append(advs, a)
		done = append(done, d)
	}
	encs, err := store.EncodeAll(ctx, advs) // canonical JSON is the costly part: all CPUs
	if err != nil {
		return err
	}
	recs := make([]store.MappedRecord, len(encs))
	for i, enc := range encs {
		// Keyed by the record's place in its archive, not by the canonical (CVE) ID: a GO and a
		// GHSA record of one CVE, or AlmaLinux's per-release copies of one ALSA, are distinct
		// source records that merge:reconcile unites.
		enc.ID = recordKey(done[i].URI)
		recs[i] = store.MappedRecord{Source: SourceID, DocumentURI: done[i].URI, Encoded: enc}
	}
	if err := c.st.UpsertMapped(ctx, recs); err != nil {
		return err
	}
	updates := make([]store.StatusUpdate, len(done))
	for i, d := range done {
		updates[i] = store.StatusUpdate{Source: SourceID, URI: d.URI, Digest: d.Digest, Status: store.StatusMapped}
	}
	if _, err := c.st.SetDocumentStatuses(ctx, updates); err != nil {
		return err
	}
	st.OK += len(done)
	return nil
}

// recordKey is a mapped record's key: "<Ecosystem>/<path in the archive without .json>".
func recordKey(uri string) string {
	_, frag, _ := strings.Cut(uri, "#")
	return ecosystemOf(uri) + "/" + strings.TrimSuffix(frag, ".json")
}
