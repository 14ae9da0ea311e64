// Package kev is the Concelier connector for CISA's Known Exploited Vulnerabilities catalog
// (https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json). KEV is an
// enrichment source: its records set KnownExploited (and add CISA's page and notes as references)
// on the advisory of each CVE; merge never lets it change ranges, ratings or text, and a CVE no
// other source knows does not become an advisory because KEV lists it.
//
// Stages as every connector: fetch stores the catalog as one raw document (conditionally, from the
// cursor's validators; or from a mirror file), parse checks it, map stores one record per CVE.
package kev

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/fetch"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// SourceID names the source in the store and in job kinds (source:kev:fetch).
const SourceID = "kev"

// ProvenanceName is the provenance source name of KEV records; merge classifies it as enrichment.
const ProvenanceName = "kev"

// DefaultURL is CISA's JSON feed.
const DefaultURL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"

// Config configures the connector.
type Config struct {
	URL string // default DefaultURL
	// Mirror is a local copy of the catalog JSON, read instead of the network.
	Mirror string
	Fetch  fetch.Config // AllowedHosts default to URL's host
	Now    func() time.Time
}

// Store is what the connector needs of Concelier's store.
type Store interface {
	store.Documents
	store.Cursors
	store.Mapped
}

// Connector runs KEV's stages.
type Connector struct {
	cfg  Config
	st   Store
	http *fetch.Client
}

// New returns a connector over st.
func New(st Store, cfg Config) (*Connector, error) {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Connector{cfg: cfg, st: st}
	if cfg.Mirror == "" {
		fc := cfg.Fetch
		if len(fc.AllowedHosts) == 0 {
			rest, ok := strings.CutPrefix(cfg.URL, "https://")
			if !ok {
				return nil, fmt.Errorf("kev: URL %q is not https", cfg.URL)
			}
			host, _, _ := strings.Cut(rest, "/")
			fc.AllowedHosts = []string{host}
		}
		if fc.Now == nil {
			fc.Now = cfg.Now
		}
		c.http = fetch.New(fc)
	}
	return c, nil
}

// catalog is the feed's shape (CISA's published schema, version 1.x).
type catalog struct {
	Title           string  `json:"title"`
	CatalogVersion  string  `json:"catalogVersion"`
	DateReleased    string  `json:"dateReleased"`
	Count           int     `json:"count"`
	Vulnerabilities []entry `json:"vulnerabilities"`
}

type entry struct {
	CVEID                      string   `json:"cveID"`
	VendorProject              string   `json:"vendorProject"`
	Product                    string   `json:"product"`
	VulnerabilityName          string   `json:"vulnerabilityName"`
	DateAdded                  string   `json:"dateAdded"`
	ShortDescription           string   `json:"shortDescription"`
	RequiredAction             string   `json:"requiredAction"`
	DueDate                    string   `json:"dueDate"`
	KnownRansomwareCampaignUse string   `json:"knownRansomwareCampaignUse"`
	Notes                      string   `json:"notes"`
	CWEs                       []string `json:"cwes"`
}

type cursor struct {
	ETag           string `json:"etag,omitempty"`
	LastModified   string `json:"lastModified,omitempty"`
	CatalogVersion string `json:"catalogVersion,omitempty"`
}

// FetchStats says what a fetch did.
type FetchStats struct {
	NotModified bool   `json:"notModified"`
	Outcome     string `json:"outcome,omitempty"` // created, replaced, unchanged
}

// Fetch stores the catalog as a raw document. mode "resume" fetches nothing; "init" ignores the
// cursor.
func (c *Connector) Fetch(ctx context.Context, mode string) (FetchStats, error) {
	var st FetchStats
	if mode == "resume" {
		return st, nil
	}
	var cur cursor
	if mode != "init" {
		if raw, err := c.st.GetCursor(ctx, SourceID); err == nil {
			json.Unmarshal(raw, &cur) // an unreadable cursor only costs a full download
		} else if !errors.Is(err, store.ErrNotFound) {
			return st, err
		}
	}
	doc := store.Document{Source: SourceID, URI: c.cfg.URL, ContentType: "application/json"}
	if c.cfg.Mirror != "" {
		b, err := os.ReadFile(c.cfg.Mirror)
		if err != nil {
			return st, fmt.Errorf("kev mirror: %w", err)
		}
		doc.Content, doc.FetchedAt = b, c.cfg.Now().UTC()
	} else {
		resp, err := c.http.Get(ctx, c.cfg.URL, fetch.Conditional{ETag: cur.ETag, LastModified: cur.LastModified})
		if err != nil {
			return st, fmt.Errorf("kev: %w", err)
		}
		if resp.NotModified {
			st.NotModified = true
			return st, nil
		}
		doc.Content, doc.FetchedAt, doc.ETag, doc.LastModified = resp.Body, resp.FetchedAt, resp.ETag, resp.LastModified
	}
	out, err := c.st.PutDocument(ctx, doc)
	if err != nil {
		return st, err
	}
	st.Outcome = map[store.PutOutcome]string{store.Created: "created", store.Replaced: "replaced", store.Unchanged: "unchanged"}[out]
	cur = cursor{ETag: doc.ETag, LastModified: doc.LastModified}
	b, _ := json.Marshal(cur)
	return st, c.st.SetCursor(ctx, SourceID, b)
}

// StageStats counts what parse or map did.
type StageStats struct {
	Documents int    `json:"documents"`
	Entries   int    `json:"entries"`
	Failed    int    `json:"failed"`
	Error     string `json:"error,omitempty"`
}

// parse reads a catalog and checks what mapping relies on.
func parse(b []byte) (*catalog, error) {
	var cat catalog
	if err := json.Unmarshal(b, &cat); err != nil {
		return nil, fmt.Errorf("not a KEV catalog: %w", err)
	}
	if cat.Vulnerabilities == nil {
		return nil, errors.New("not a KEV catalog: no vulnerabilities array")
	}
	for i, e := range cat.Vulnerabilities {
		if !strings.HasPrefix(e.CVEID, "CVE-") {
			return nil, fmt.Errorf("vulnerabilities[%d]: cveID %q is not a CVE", i, e.CVEID)
		}
	}
	return &cat, nil
}

// Parse checks pending catalogs; a malformed one is marked failed with the reason.
func (c *Connector) Parse(ctx context.Context) (StageStats, error) {
	var st StageStats
	docs, err := c.st.ListDocuments(ctx, SourceID, store.StatusPendingParse)
	if err != nil {
		return st, err
	}
	for _, d := range docs {
		st.Documents++
		status, reason := store.StatusParsed, ""
		if cat, err := parse(d.Content); err != nil {
			status, reason = store.StatusFailed, err.Error()
			st.Failed++
			st.Error = reason
		} else {
			st.Entries += len(cat.Vulnerabilities)
		}
		if err := c.st.SetDocumentStatus(ctx, SourceID, d.URI, d.Digest, status, reason); err != nil && !errors.Is(err, store.ErrConflict) {
			return st, err
		}
	}
	return st, nil
}

// Map stores one enrichment record per listed CVE.
func (c *Connector) Map(ctx context.Context) (StageStats, error) {
	var st StageStats
	docs, err := c.st.ListDocuments(ctx, SourceID, store.StatusParsed)
	if err != nil {
		return st, err
	}
	for _, d := range docs {
		st.Documents++
		cat, err := parse(d.Content)
		if err != nil {
			return st, err
		}
		advs := make([]*advisory.Advisory, 0, len(cat.Vulnerabilities))
		for _, e := range cat.Vulnerabilities {
			advs = append(advs, toAdvisory(e, d))
		}
		// A CVE listed twice (it happens in older catalogs) is one record.
		advs = advisory.Dedupe(advs)
		encs, err := store.EncodeAll(ctx, advs)
		if err != nil {
			return st, err
		}
		recs := make([]store.MappedRecord, len(encs))
		for i, e := range encs {
			recs[i] = store.MappedRecord{Source: SourceID, DocumentURI: d.URI, Encoded: e}
		}
		// The catalog is one document: its records are replaced as a whole, so a CVE removed
		// from KEV stops being marked exploited.
		if _, err := c.st.DeleteMappedByDocument(ctx, SourceID, d.URI); err != nil {
			return st, err
		}
		if err := c.st.UpsertMapped(ctx, recs); err != nil {
			return st, err
		}
		if err := c.st.SetDocumentStatus(ctx, SourceID, d.URI, d.Digest, store.StatusMapped, ""); err != nil && !errors.Is(err, store.ErrConflict) {
			return st, err
		}
		st.Entries += len(recs)
	}
	return st, nil
}

func toAdvisory(e entry, d store.Document) *advisory.Advisory {
	a := &advisory.Advisory{
		ID:             e.CVEID,
		KnownExploited: true,
		References:     []advisory.Reference{{Type: "ADVISORY", URL: "https://www.cisa.gov/known-exploited-vulnerabilities-catalog?search_api_fulltext=" + e.CVEID}},
		CWEs:           e.CWEs,
		Sources:        []advisory.Provenance{{Source: ProvenanceName, Document: d.URI, Digest: d.Digest}},
	}
	// Notes hold the vendor's links, separated by " ; ".
	for _, n := range strings.Split(e.Notes, ";") {
		if n = strings.TrimSpace(n); strings.HasPrefix(n, "https://") {
			a.References = append(a.References, advisory.Reference{Type: "WEB", URL: n})
		}
	}
	if t, err := time.Parse("2006-01-02", e.DateAdded); err == nil {
		a.Published = t.UTC()
	}
	a.Summary = e.VulnerabilityName
	a.Normalize()
	return a
}
