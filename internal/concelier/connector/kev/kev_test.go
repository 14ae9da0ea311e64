package kev_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/connector/kev"
	"github.com/stellaops/stellaops/internal/concelier/fetch"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/sqlitestore"
)

func openStore(t *testing.T) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mapped(t *testing.T, st *sqlitestore.Store) map[string]*advisory.Advisory {
	t.Helper()
	out := map[string]*advisory.Advisory{}
	for r, err := range st.MappedBySource(context.Background(), kev.SourceID) {
		if err != nil {
			t.Fatal(err)
		}
		a := &advisory.Advisory{}
		if err := json.Unmarshal(r.JSON, a); err != nil {
			t.Fatal(err)
		}
		out[r.ID] = a
	}
	return out
}

func TestMirrorStages(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c, err := kev.New(st, kev.Config{Mirror: "testdata/known_exploited_vulnerabilities.json"})
	if err != nil {
		t.Fatal(err)
	}
	if fs, err := c.Fetch(ctx, "cursor"); err != nil || fs.Outcome != "created" {
		t.Fatalf("fetch %+v %v", fs, err)
	}
	if ps, err := c.Parse(ctx); err != nil || ps.Entries != 3 || ps.Failed != 0 {
		t.Fatalf("parse %+v %v", ps, err)
	}
	if ms, err := c.Map(ctx); err != nil || ms.Entries != 3 {
		t.Fatalf("map %+v %v", ms, err)
	}
	got := mapped(t, st)
	a := got["CVE-2023-44487"]
	if a == nil || !a.KnownExploited || a.Summary != "HTTP/2 Rapid Reset Attack Vulnerability" || len(a.Affected) != 0 ||
		a.Published.Format("2006-01-02") != "2023-10-10" || a.Sources[0].Source != "kev" {
		t.Fatalf("CVE-2023-44487: %+v", a)
	}
	var urls []string
	for _, r := range a.References {
		urls = append(urls, r.URL)
	}
	if !slices.Contains(urls, "https://nvd.nist.gov/vuln/detail/CVE-2023-44487") {
		t.Errorf("references %v", urls)
	}
	// The same catalog again: nothing to do.
	if fs, _ := c.Fetch(ctx, "cursor"); fs.Outcome != "unchanged" {
		t.Errorf("refetch: %+v", fs)
	}
}

// A CVE dropped from the catalog is no longer marked exploited; a broken catalog is recorded as
// failed and leaves the last good records in place.
func TestCatalogReplacedAndBroken(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	b, _ := os.ReadFile("testdata/known_exploited_vulnerabilities.json")
	var cat map[string]any
	json.Unmarshal(b, &cat)
	vulns := cat["vulnerabilities"].([]any)
	body := b
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	c, err := kev.New(st, kev.Config{URL: srv.URL + "/feeds/known_exploited_vulnerabilities.json", Fetch: fetchCfg(srv)})
	if err != nil {
		t.Fatal(err)
	}
	run := func() {
		t.Helper()
		if _, err := c.Fetch(ctx, "cursor"); err != nil {
			t.Fatal(err)
		}
		c.Parse(ctx)
		if _, err := c.Map(ctx); err != nil {
			t.Fatal(err)
		}
	}
	run()
	cat["vulnerabilities"] = vulns[:2]
	body, _ = json.Marshal(cat)
	run()
	if got := mapped(t, st); len(got) != 2 || got["CVE-2014-0160"] != nil {
		t.Errorf("after removal: %d records", len(got))
	}
	body = []byte(`{"title":"CISA Catalog","vulnerabilities":[{"cveID":"not-a-cve"}]}`)
	run()
	failed, _ := st.ListDocuments(ctx, kev.SourceID, store.StatusFailed)
	if len(failed) != 1 || !strings.Contains(failed[0].Error, "not a CVE") {
		t.Errorf("broken catalog: %+v", failed)
	}
	if got := mapped(t, st); len(got) != 2 {
		t.Errorf("a broken catalog dropped the last good records: %d left", len(got))
	}
}

func fetchCfg(*httptest.Server) fetch.Config {
	return fetch.Config{AllowedHosts: []string{"127.0.0.1"}}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/known_exploited_vulnerabilities.json")
	f.Add(b)
	f.Add([]byte(`{"vulnerabilities":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		kev.MapDocument(data) // must not panic; errors are the malformed inputs' reasons
	})
}
