package osv_test

import (
	"archive/zip"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/bundled"
	"github.com/stellaops/stellaops/internal/concelier/connector/osv"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/sqlitestore"
)

func openStore(t *testing.T) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "concelier.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// bundledZip returns the real all.zip of one bundled OSV ecosystem.
func bundledZip(t *testing.T, eco string) []byte {
	t.Helper()
	for _, src := range bundled.OSVSources {
		if strings.TrimPrefix(src.Name, "osv:") == eco {
			b, err := fs.ReadFile(bundled.OSV(), src.Path)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no bundled %s data", eco)
	return nil
}

// mirror lays out a mirror as osv-scanner uses offline: crates.io and PSF-CPython as all.zip
// (the real bundled archives), and a "Local" ecosystem as a directory of records, one malformed.
func mirror(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, eco := range []string{"crates.io", "PSF-CPython"} {
		os.MkdirAll(filepath.Join(dir, eco), 0o755)
		if err := os.WriteFile(filepath.Join(dir, eco, "all.zip"), bundledZip(t, eco), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	local := filepath.Join(dir, "Local")
	os.MkdirAll(local, 0o755)
	os.WriteFile(filepath.Join(local, "GOOD-1.json"), []byte(`{"id":"GHSA-aaaa-bbbb-cccc","modified":"2024-01-01T00:00:00Z","aliases":["CVE-2024-0001"],
		"affected":[{"package":{"ecosystem":"PyPI","name":"example"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2"}]}]}]}`), 0o644)
	os.WriteFile(filepath.Join(local, "BAD-1.json"), []byte(`{"id": 42, "modified": "yesterday"`), 0o644)
	return dir
}

func countMapped(t *testing.T, st *sqlitestore.Store) int {
	t.Helper()
	n := 0
	for _, err := range st.MappedBySource(context.Background(), osv.SourceID) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func TestMirrorStages(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	dir := mirror(t)
	c, err := osv.New(st, osv.Config{Mirror: dir})
	if err != nil {
		t.Fatal(err)
	}
	fs1, err := c.Fetch(ctx, osv.ModeCursor)
	if err != nil {
		t.Fatal(err)
	}
	// 1,206 crates.io + 132 PSF-CPython records (the bundled archives) + 2 local documents.
	if fs1.Archives != 3 || fs1.Records != 1206+132+2 || fs1.Created != fs1.Records {
		t.Errorf("fetch: %+v", fs1)
	}
	ps, err := c.Parse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Documents != fs1.Records || ps.Failed != 1 || len(ps.Errors) != 1 || !strings.HasSuffix(ps.Errors[0].Document, "Local/all.zip#BAD-1.json") {
		t.Errorf("parse: %d docs, %d failed, %v", ps.Documents, ps.Failed, ps.Errors)
	}
	failed, _ := st.ListDocuments(ctx, osv.SourceID, store.StatusFailed)
	if len(failed) != 1 || failed[0].Error == "" {
		t.Errorf("failed documents: %+v", failed)
	}
	ms, err := c.Map(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ms.OK != fs1.Records-1 || countMapped(t, st) != fs1.Records-1 {
		t.Errorf("map: %+v, %d stored", ms, countMapped(t, st))
	}

	// Nothing changed: the archives are recognised from the cursor; the directory is re-read but
	// every record is unchanged, so parse and map have nothing to do.
	fs2, err := c.Fetch(ctx, osv.ModeCursor)
	if err != nil {
		t.Fatal(err)
	}
	if fs2.NotModified != 2 || fs2.Created+fs2.Replaced != 0 || fs2.Unchanged != 2 {
		t.Errorf("second fetch: %+v", fs2)
	}
	if ps, _ := c.Parse(ctx); ps.Documents != 0 {
		t.Errorf("second parse had %d documents", ps.Documents)
	}

	// The broken record is fixed upstream: only it goes through parse and map again.
	os.WriteFile(filepath.Join(dir, "Local", "BAD-1.json"), []byte(`{"id":"GHSA-dddd-eeee-ffff","modified":"2024-02-01T00:00:00Z",
		"affected":[{"package":{"ecosystem":"npm","name":"left-pad"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}`), 0o644)
	fs3, _ := c.Fetch(ctx, osv.ModeCursor)
	ps3, _ := c.Parse(ctx)
	ms3, _ := c.Map(ctx)
	if fs3.Replaced != 1 || ps3.Documents != 1 || ps3.OK != 1 || ms3.OK != 1 || countMapped(t, st) != fs1.Records {
		t.Errorf("after the fix: fetch %+v parse %+v map %+v, %d mapped", fs3, ps3, ms3, countMapped(t, st))
	}

	// init ignores the cursor: the archives are read again (and found unchanged record by record).
	fs4, err := c.Fetch(ctx, osv.ModeInit)
	if err != nil || fs4.NotModified != 0 || fs4.Unchanged != fs1.Records {
		t.Errorf("init: %+v %v", fs4, err)
	}
	if fs5, _ := c.Fetch(ctx, osv.ModeResume); fs5.Archives != 0 {
		t.Errorf("resume fetched %d archives", fs5.Archives)
	}
}

// Over HTTP: the archive is fetched once, then the server's 304 to the cursor's ETag means no
// work; hosts other than the base URL's are refused.
func TestHTTPConditional(t *testing.T) {
	ctx := context.Background()
	zipBytes := bundledZip(t, "PSF-CPython")
	var full, notModified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/PSF-CPython/all.zip" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("ETag", `"v1"`)
		w.Write(zipBytes)
	}))
	defer srv.Close()
	st := openStore(t)
	clock := func() time.Time { return time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC) }
	c, err := osv.New(st, osv.Config{Ecosystems: []string{"PSF-CPython"}, BaseURL: srv.URL, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	s1, err := c.Fetch(ctx, osv.ModeCursor)
	if err != nil || s1.Created != 132 {
		t.Fatalf("first fetch %+v %v", s1, err)
	}
	d, err := st.GetDocument(ctx, osv.SourceID, srv.URL+"/PSF-CPython/all.zip#"+firstName(t, zipBytes))
	if err != nil || d.ETag != `"v1"` || !d.FetchedAt.Equal(clock()) || d.Status != store.StatusPendingParse {
		t.Errorf("stored document: %+v %v", d, err)
	}
	s2, err := c.Fetch(ctx, osv.ModeCursor)
	if err != nil || s2.NotModified != 1 || s2.Records != 0 {
		t.Errorf("second fetch %+v %v", s2, err)
	}
	if full.Load() != 1 || notModified.Load() != 1 {
		t.Errorf("server saw %d full and %d conditional requests", full.Load(), notModified.Load())
	}
	if _, err := c.Fetch(ctx, osv.ModeInit); err != nil || full.Load() != 2 {
		t.Errorf("init did not re-download: %v", err)
	}
	bad, _ := osv.New(st, osv.Config{Ecosystems: []string{"Missing"}, BaseURL: srv.URL})
	if _, err := bad.Fetch(ctx, osv.ModeCursor); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("missing ecosystem: %v", err)
	}
}

func firstName(t *testing.T, zipBytes []byte) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "all.zip"), zipBytes, 0o644)
	zr, err := zipOpen(filepath.Join(dir, "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

// zipOpen returns the first .json name of the archive, in name order.
func zipOpen(p string) (string, error) {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return "", err
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, ".json") {
			names = append(names, f.Name)
		}
	}
	slices.Sort(names)
	return names[0], nil
}
