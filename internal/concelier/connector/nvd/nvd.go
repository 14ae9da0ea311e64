// Package nvd is the Concelier connector for NIST's National Vulnerability Database, through the
// CVE API 2.0 (https://services.nvd.nist.gov/rest/json/cves/2.0). NVD rates every CVE and lists
// the products it affects as CPE configurations; merge ranks it below every ecosystem and distro
// source, so its ranges only decide for software no other source covers (the matcher's CPE path).
//
// Stages as every connector:
//
//   - fetch: page through the API (startIndex / resultsPerPage) and store each page as one raw
//     document, URI = the page URL with its query. "init" pages through everything; "cursor" asks
//     only for what changed since the cursor (lastModStartDate / lastModEndDate, in windows of at
//     most 120 days, NVD's limit); "resume" fetches nothing. A mirror directory of page files (or
//     of NVD's JSON feed files: 2.0, which have the same shape, or the retired 1.1) is read
//     instead of the network.
//   - parse: check each pending page; a malformed one is marked failed with the reason.
//   - map: one record per CVE of each page (see mapping.go).
package nvd

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/concelier/connector"
	"github.com/stellaops/stellaops/internal/concelier/fetch"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// SourceID names the source in the store and in job kinds (source:nvd:fetch).
const SourceID = "nvd"

// ProvenanceName is the provenance source name of NVD records; merge classifies it as the
// lowest-precedence data source.
const ProvenanceName = "nvd"

// DefaultBaseURL is the CVE API 2.0 endpoint.
const DefaultBaseURL = "https://services.nvd.nist.gov/rest/json/cves/2.0"

// MaxPageSize is the largest resultsPerPage NVD accepts.
const MaxPageSize = 2000

// maxWindow is the longest lastModStartDate..lastModEndDate range NVD accepts.
const maxWindow = 120 * 24 * time.Hour

// NVD's public rate limits are 5 requests per rolling 30 s without an API key and 50 with one.
const (
	intervalNoKey   = 6 * time.Second
	intervalWithKey = 600 * time.Millisecond
)

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
	// APIKey is sent as the apiKey header; it raises NVD's rate limit tenfold.
	APIKey string
	// PageSize is resultsPerPage; default and maximum MaxPageSize.
	PageSize int
	// Mirror is a local directory of page files (*.json, *.json.gz, *.json.zip: API responses,
	// NVD's 2.0 feed files, or its retired 1.1 feed files) read instead of the network.
	Mirror string
	// Fetch configures the HTTP client. AllowedHosts default to BaseURL's host; MinInterval
	// defaults to NVD's rate limit (6 s, or 0.6 s with an API key); a negative one disables it.
	Fetch fetch.Config
	Now   func() time.Time
}

// Store is what the connector needs of Concelier's store.
type Store interface {
	store.Documents
	store.Cursors
	store.Mapped
}

// Connector runs NVD's stages.
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
	if cfg.PageSize <= 0 || cfg.PageSize > MaxPageSize {
		cfg.PageSize = MaxPageSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Connector{cfg: cfg, st: st}
	if cfg.Mirror == "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("nvd: base URL %q is not http(s)", cfg.BaseURL)
		}
		fc := cfg.Fetch
		if len(fc.AllowedHosts) == 0 {
			fc.AllowedHosts = []string{u.Hostname()}
		}
		if fc.MinInterval == 0 {
			fc.MinInterval = intervalNoKey
			if cfg.APIKey != "" {
				fc.MinInterval = intervalWithKey
			}
		}
		if fc.Now == nil {
			fc.Now = cfg.Now
		}
		base := fc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		fc.Transport = &nvdTransport{base: base, apiKey: cfg.APIKey}
		c.http = fetch.New(fc)
	}
	return c, nil
}

// nvdTransport adds the API key (the fetch client sets no custom headers) and turns NVD's 403,
// its answer to a client over the rate limit, into a 429 so the fetch client backs off and
// retries it as it does any rate limit. A 403 that persists still fails after the retries.
type nvdTransport struct {
	base   http.RoundTripper
	apiKey string
}

func (t *nvdTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.apiKey != "" {
		req = req.Clone(req.Context()) // a RoundTripper must not modify its request
		req.Header.Set("apiKey", t.apiKey)
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusForbidden {
		resp.StatusCode, resp.Status = http.StatusTooManyRequests, "429 (NVD 403: rate limited)"
	}
	return resp, err
}

// cursor is the source's resume point.
type cursor struct {
	// LastModEnd is the end of the last lastModified window fully fetched: the next cursor run
	// asks for changes from there.
	LastModEnd time.Time `json:"lastModEnd,omitzero"`
}

// FetchStats counts what a fetch did.
type FetchStats struct {
	Windows int `json:"windows"`
	Pages   int `json:"pages"`
	CVEs    int `json:"cves"`
	connector.Stored
}

// Fetch stores NVD's pages as raw documents.
func (c *Connector) Fetch(ctx context.Context, mode Mode) (FetchStats, error) {
	var st FetchStats
	if mode == ModeResume {
		return st, nil
	}
	if c.cfg.Mirror != "" {
		return st, c.fetchMirror(ctx, &st)
	}
	cur, err := c.cursor(ctx)
	if err != nil {
		return st, err
	}
	// NVD's lastModified times are to the millisecond; the run's end is too.
	now := c.cfg.Now().UTC().Truncate(time.Millisecond)
	if mode == ModeInit || cur.LastModEnd.IsZero() {
		st.Windows++
		if err := c.fetchPages(ctx, nil, &st); err != nil {
			return st, err
		}
		return st, c.setCursor(ctx, cursor{LastModEnd: now})
	}
	for start := cur.LastModEnd; start.Before(now); {
		end := start.Add(maxWindow)
		if end.After(now) {
			end = now
		}
		q := url.Values{}
		q.Set("lastModStartDate", nvdTime(start))
		q.Set("lastModEndDate", nvdTime(end))
		st.Windows++
		if err := c.fetchPages(ctx, q, &st); err != nil {
			return st, err
		}
		// The cursor moves after each window, so an interrupted run resumes where it stopped.
		if err := c.setCursor(ctx, cursor{LastModEnd: end}); err != nil {
			return st, err
		}
		start = end
	}
	return st, nil
}

// nvdTime formats a lastMod bound as NVD's documentation shows it ("2021-08-04T13:00:00.000+01:00").
func nvdTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000") + "+00:00" }

// fetchPages pages through one query (all CVEs when q is nil) and stores every page.
func (c *Connector) fetchPages(ctx context.Context, q url.Values, st *FetchStats) error {
	for start := 0; ; {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("resultsPerPage", strconv.Itoa(c.cfg.PageSize))
		v.Set("startIndex", strconv.Itoa(start))
		u := c.cfg.BaseURL + "?" + v.Encode() // Encode sorts the keys: a page's URI is stable
		resp, err := c.http.Get(ctx, u, fetch.Conditional{})
		if err != nil {
			return fmt.Errorf("nvd: %w", err)
		}
		if err := c.put(ctx, store.Document{Source: SourceID, URI: u, FetchedAt: resp.FetchedAt, ETag: resp.ETag,
			LastModified: resp.LastModified, ContentType: "application/json", Content: resp.Body}, st); err != nil {
			return err
		}
		// The page is stored even when unreadable, so parse records why; paging cannot go on.
		p, err := parsePage(resp.Body)
		if err != nil {
			return fmt.Errorf("nvd: page %s: %w", u, err)
		}
		st.CVEs += len(p.Vulnerabilities)
		start += len(p.Vulnerabilities)
		// An empty page before the end (totalResults shrank while paging) ends the query too,
		// rather than asking for the same page forever.
		if len(p.Vulnerabilities) == 0 || start >= p.TotalResults {
			return nil
		}
	}
}

func (c *Connector) put(ctx context.Context, d store.Document, st *FetchStats) error {
	out, err := c.st.PutDocument(ctx, d)
	if err != nil {
		return err
	}
	st.Pages++
	st.Count(out)
	return nil
}

const maxPage = 1 << 30 // a yearly 2.0 feed file is a few hundred MB uncompressed

// fetchMirror stores every page file of the mirror directory, named "<BaseURL>#<relative path>"
// (without a .gz or .zip suffix: the document is the JSON, as NVD's feeds come compressed either
// way). Unchanged files are no-ops in the store.
func (c *Connector) fetchMirror(ctx context.Context, st *FetchStats) error {
	now := c.cfg.Now().UTC()
	err := filepath.WalkDir(c.cfg.Mirror, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := d.Name()
		if !d.Type().IsRegular() || !(strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".json.gz") || strings.HasSuffix(name, ".json.zip")) {
			return nil
		}
		b, err := readMirrorFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(c.cfg.Mirror, p)
		uri := c.cfg.BaseURL + "#" + strings.TrimSuffix(strings.TrimSuffix(filepath.ToSlash(rel), ".gz"), ".zip")
		return c.put(ctx, store.Document{Source: SourceID, URI: uri, FetchedAt: now, ContentType: "application/json", Content: b}, st)
	})
	if err != nil {
		return fmt.Errorf("nvd mirror: %w", err)
	}
	if st.Pages == 0 {
		return fmt.Errorf("nvd mirror %s: no *.json, *.json.gz or *.json.zip files", c.cfg.Mirror)
	}
	return nil
}

func readMirrorFile(p string) ([]byte, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var r io.Reader
	switch {
	case strings.HasSuffix(p, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		r = zr
	case strings.HasSuffix(p, ".zip"):
		// NVD's .json.zip feeds hold the one .json file.
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		var f *zip.File
		for _, zf := range zr.File {
			if strings.HasSuffix(zf.Name, ".json") {
				f = zf
				break
			}
		}
		if f == nil {
			return nil, fmt.Errorf("%s: no .json file inside", p)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		defer rc.Close()
		r = rc
	default:
		return b, nil
	}
	out, err := io.ReadAll(io.LimitReader(r, maxPage+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(out) > maxPage {
		return nil, fmt.Errorf("%s: over the %d-byte limit", p, maxPage)
	}
	return out, nil
}

func (c *Connector) cursor(ctx context.Context) (cursor, error) {
	var cur cursor
	err := connector.LoadCursor(ctx, c.st, SourceID, &cur)
	return cur, err
}

func (c *Connector) setCursor(ctx context.Context, cur cursor) error {
	return connector.SaveCursor(ctx, c.st, SourceID, cur)
}
