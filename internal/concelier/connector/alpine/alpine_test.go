package alpine_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/connector/alpine"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/sqlitestore"
	"github.com/stellaops/stellaops/internal/inventory"
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

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mapFile(t *testing.T, uri, name string) map[string]*advisory.Advisory {
	t.Helper()
	advs, err := alpine.MapDocument(uri, "sha256:x", read(t, name))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*advisory.Advisory{}
	for _, a := range advs {
		out[a.ID] = a
	}
	return out
}

func fixedRange(v string) []advisory.Range {
	return []advisory.Range{{Type: advisory.RangeEcosystem, Events: []advisory.Event{{Introduced: "0"}, {Fixed: v}}}}
}

func affectedOf(t *testing.T, a *advisory.Advisory, pkg string) advisory.Affected {
	t.Helper()
	if a == nil {
		t.Fatalf("no advisory for %s", pkg)
	}
	for _, af := range a.Affected {
		if af.Package == pkg {
			return af
		}
	}
	t.Fatalf("%s: no affected entry for %s in %+v", a.ID, pkg, a.Affected)
	return advisory.Affected{}
}

func TestMapYAMLSample(t *testing.T) {
	advs := mapFile(t, alpine.DefaultBaseURL+"/v3.10/main.yaml", "alpine-secdb/v3.10-main.yaml")
	if len(advs) != 1109 {
		t.Errorf("v3.10 main: %d advisories", len(advs))
	}
	musl := advs["CVE-2019-14697"]
	af := affectedOf(t, musl, "musl")
	if af.Ecosystem != inventory.EcosystemAPK || af.Distro != "alpine:3.10" || af.Source != "alpine-secdb" || af.Status != "" ||
		!slices.EqualFunc(af.Ranges, fixedRange("1.1.22-r3"), rangeEq) {
		t.Errorf("musl: %+v", af)
	}
	if musl.Sources[0] != (advisory.Provenance{Source: "alpine-secdb", Document: alpine.DefaultBaseURL + "/v3.10/main.yaml", Digest: "sha256:x"}) {
		t.Errorf("provenance: %+v", musl.Sources)
	}
	if af := affectedOf(t, advs["CVE-2019-1547"], "openssl"); !slices.EqualFunc(af.Ranges, fixedRange("1.1.1d-r0"), rangeEq) {
		t.Errorf("openssl: %+v", af)
	}
	// "CVE-2018-7541 XSA-255": the CVE is the ID, the Xen advisory an alias.
	if a := advs["CVE-2018-7541"]; a == nil || !slices.Equal(a.Aliases, []string{"XSA-255"}) {
		t.Errorf("CVE-2018-7541: %+v", a)
	}
	// An entry with only a Xen advisory keeps it as the ID.
	if af := affectedOf(t, advs["XSA-254"], "xen"); !slices.EqualFunc(af.Ranges, fixedRange("4.10.0-r1"), rangeEq) {
		t.Errorf("XSA-254: %+v", af)
	}
	// "CVE-2019-15167 (VRRP)": the remark is dropped.
	if _, ok := advs["CVE-2019-15167"]; !ok {
		t.Error("CVE-2019-15167 missing")
	}
	for id := range advs {
		if strings.ContainsAny(id, " ()?") {
			t.Errorf("bad ID %q", id)
		}
	}
}

func rangeEq(a, b advisory.Range) bool {
	return a.Type == b.Type && slices.Equal(a.Events, b.Events)
}

func TestMapJSONSamples(t *testing.T) {
	advs := mapFile(t, alpine.DefaultBaseURL+"/v3.11/main.json", "vuln-list-update/311-main.json")
	if len(advs) != 2 {
		t.Errorf("v3.11 main: %d advisories", len(advs))
	}
	if af := affectedOf(t, advs["CVE-2018-1333"], "apache2"); af.Distro != "alpine:3.11" || !slices.EqualFunc(af.Ranges, fixedRange("2.4.34-r0"), rangeEq) {
		t.Errorf("apache2: %+v", af)
	}
	// v3.12/main.json has "2.8.0-r0": {} — an empty entry, not an error.
	advs = mapFile(t, alpine.DefaultBaseURL+"/v3.12/main.json", "vuln-list-update/312-main.json")
	if len(advs) != 1 || advs["CVE-2018-16876"] == nil {
		t.Errorf("v3.12 main: %+v", advs)
	}
	// edge/community.json has "packages": {}.
	if advs := mapFile(t, alpine.DefaultBaseURL+"/edge/community.json", "vuln-list-update/edge-community.json"); len(advs) != 0 {
		t.Errorf("edge community: %d advisories", len(advs))
	}
	if af := affectedOf(t, mapFile(t, alpine.DefaultBaseURL+"/edge/main.json", "vuln-list-update/edge-main.json")["CVE-2021-36159"], "apk-tools"); af.Distro != "alpine:edge" {
		t.Errorf("edge: %+v", af)
	}
}

// The "0" key lists CVEs that never affected the release; a CVE fixed twice keeps the first fix.
func TestNotAffectedAndLowestFix(t *testing.T) {
	doc := `{"distroversion":"v3.19","reponame":"main","packages":[{"pkg":{"name":"curl","secfixes":{
		"0":["CVE-2023-0001"],"8.5.0-r0":["CVE-2023-0002"],"8.4.0-r0":["CVE-2023-0002"],"8.10.0-r0":["CVE-2023-0003"],"8.9.0-r0":["CVE-2023-0003"]}}}]}`
	advs, err := alpine.MapDocument(alpine.DefaultBaseURL+"/v3.19/main.json", "sha256:x", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]advisory.Affected{}
	for _, a := range advs {
		by[a.ID] = a.Affected[0]
	}
	if af := by["CVE-2023-0001"]; af.Status != advisory.StatusNotAffected || af.Ranges != nil || af.Distro != "alpine:3.19" {
		t.Errorf("0 key: %+v", af)
	}
	if af := by["CVE-2023-0002"]; !slices.EqualFunc(af.Ranges, fixedRange("8.4.0-r0"), rangeEq) {
		t.Errorf("two fixes: %+v", af)
	}
	// apk order, not string order: 8.9.0 < 8.10.0.
	if af := by["CVE-2023-0003"]; !slices.EqualFunc(af.Ranges, fixedRange("8.9.0-r0"), rangeEq) {
		t.Errorf("apk order: %+v", af)
	}
}

func TestDiscoveryPages(t *testing.T) {
	if got := alpine.ParseIndex(read(t, "vuln-list-update/index.html")); !slices.Equal(got, []string{"v3.11", "v3.12"}) {
		t.Errorf("index: %v", got)
	}
	if got := alpine.ParseIndex(read(t, "vuln-list-update/norelease.html")); len(got) != 0 {
		t.Errorf("norelease: %v", got)
	}
	if got := alpine.ParseReleasePage(read(t, "vuln-list-update/311.html")); !slices.Equal(got, []string{"community", "main"}) {
		t.Errorf("release page: %v", got)
	}
}

// mirror lays out both mirror forms: the old flat YAML files and the JSON directory layout, plus
// a broken file.
func mirror(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"v3.10-main.yaml", "v3.10-community.yaml", "v3.11-main.yaml"} {
		os.WriteFile(filepath.Join(dir, f), read(t, "alpine-secdb/"+f), 0o644)
	}
	os.MkdirAll(filepath.Join(dir, "v3.12"), 0o755)
	os.WriteFile(filepath.Join(dir, "v3.12", "main.json"), read(t, "vuln-list-update/312-main.json"), 0o644)
	os.WriteFile(filepath.Join(dir, "v3.12", "community.json"), []byte(`{"distroversion": "v3.12", "packages": [{"pkg": 7}]`), 0o644)
	return dir
}

func countMapped(t *testing.T, st *sqlitestore.Store) int {
	t.Helper()
	n := 0
	for _, err := range st.MappedBySource(context.Background(), alpine.SourceID) {
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
	c, err := alpine.New(st, alpine.Config{Mirror: dir})
	if err != nil {
		t.Fatal(err)
	}
	fs1, err := c.Fetch(ctx, alpine.ModeCursor)
	if err != nil || fs1.Files != 5 || fs1.Created != 5 {
		t.Fatalf("fetch: %+v %v", fs1, err)
	}
	ps, err := c.Parse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Documents != 5 || ps.Failed != 1 || len(ps.Errors) != 1 || ps.Errors[0].Document != alpine.DefaultBaseURL+"/v3.12/community.json" {
		t.Errorf("parse: %+v", ps)
	}
	failed, _ := st.ListDocuments(ctx, alpine.SourceID, store.StatusFailed)
	if len(failed) != 1 || failed[0].Error == "" {
		t.Errorf("failed documents: %+v", failed)
	}
	ms, err := c.Map(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 1109 (v3.10 main) + 692 (v3.10 community) + 1122 (v3.11 main) + 1 (v3.12 main).
	const want = 1109 + 692 + 1122 + 1
	if ms.OK != 4 || ms.Records != want || countMapped(t, st) != want {
		t.Errorf("map: %+v, %d stored", ms, countMapped(t, st))
	}
	rec := mappedByID(t, st, "v3.11/main/CVE-2019-14697")
	if af := affectedOf(t, &rec, "musl"); af.Distro != "alpine:3.11" || af.Ecosystem != inventory.EcosystemAPK {
		t.Errorf("v3.11 musl: %+v", af)
	}

	// Unchanged files are recognised from the cursor.
	fs2, _ := c.Fetch(ctx, alpine.ModeCursor)
	if fs2.NotModified != 5 {
		t.Errorf("second fetch: %+v", fs2)
	}
	// A new version of a file that drops a CVE drops its record.
	os.WriteFile(filepath.Join(dir, "v3.12", "main.json"), []byte(`{"distroversion":"v3.12","reponame":"main","packages":[
		{"pkg":{"name":"ansible","secfixes":{"2.9.0-r0":["CVE-2019-0001"]}}}]}`), 0o644)
	fs3, _ := c.Fetch(ctx, alpine.ModeCursor)
	c.Parse(ctx)
	ms3, _ := c.Map(ctx)
	if fs3.Replaced != 1 || ms3.Records != 1 || countMapped(t, st) != want {
		t.Errorf("after the change: fetch %+v map %+v, %d stored", fs3, ms3, countMapped(t, st))
	}
	if _, err := findMapped(t, st, "v3.12/main/CVE-2018-16876"); err == nil {
		t.Error("the dropped CVE's record is still there")
	}
	if fs4, _ := c.Fetch(ctx, alpine.ModeInit); fs4.NotModified != 0 || fs4.Unchanged != 5 {
		t.Errorf("init: %+v", fs4)
	}
	if fs5, _ := c.Fetch(ctx, alpine.ModeResume); fs5.Files != 0 {
		t.Errorf("resume: %+v", fs5)
	}
}

func findMapped(t *testing.T, st *sqlitestore.Store, id string) (advisory.Advisory, error) {
	t.Helper()
	for r, err := range st.MappedBySource(context.Background(), alpine.SourceID) {
		if err != nil {
			t.Fatal(err)
		}
		if r.ID == id {
			var a advisory.Advisory
			err := json.Unmarshal(r.JSON, &a)
			return a, err
		}
	}
	return advisory.Advisory{}, store.ErrNotFound
}

func mappedByID(t *testing.T, st *sqlitestore.Store, id string) advisory.Advisory {
	t.Helper()
	a, err := findMapped(t, st, id)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return a
}

// Over HTTP: releases are discovered from the index and release pages; each file is fetched
// once, then the server's 304 to the cursor's validators means no work.
func TestHTTPDiscoveryConditional(t *testing.T) {
	ctx := context.Background()
	pages := map[string]string{
		"/": "index.html", "/v3.11/": "311.html", "/v3.12/": "312.html",
		"/v3.11/main.json": "311-main.json", "/v3.11/community.json": "311-community.json",
		"/v3.12/main.json": "312-main.json", "/v3.12/community.json": "312-community.json",
	}
	var full, notModified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(name, ".json") {
			if r.Header.Get("If-None-Match") == `"v1"` {
				notModified.Add(1)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			full.Add(1)
			w.Header().Set("ETag", `"v1"`)
		}
		w.Write(read(t, "vuln-list-update/"+name))
	}))
	defer srv.Close()
	st := openStore(t)
	clock := func() time.Time { return time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC) }
	c, err := alpine.New(st, alpine.Config{BaseURL: srv.URL, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	s1, err := c.Fetch(ctx, alpine.ModeCursor)
	if err != nil || s1.Files != 4 || s1.Created != 4 {
		t.Fatalf("first fetch %+v %v", s1, err)
	}
	d, err := st.GetDocument(ctx, alpine.SourceID, srv.URL+"/v3.11/main.json")
	if err != nil || d.ETag != `"v1"` || !d.FetchedAt.Equal(clock()) || d.Status != store.StatusPendingParse {
		t.Errorf("stored document: %+v %v", d, err)
	}
	s2, err := c.Fetch(ctx, alpine.ModeCursor)
	if err != nil || s2.NotModified != 4 {
		t.Errorf("second fetch %+v %v", s2, err)
	}
	if full.Load() != 4 || notModified.Load() != 4 {
		t.Errorf("server saw %d full and %d conditional requests", full.Load(), notModified.Load())
	}
	ps, _ := c.Parse(ctx)
	ms, _ := c.Map(ctx)
	// 311 community and 312 community have "packages": {}: parsed, no records.
	if ps.OK != 4 || ms.OK != 4 || ms.Records != 3 {
		t.Errorf("parse %+v map %+v", ps, ms)
	}
	// Configured releases skip discovery; a missing file is an error.
	c2, _ := alpine.New(st, alpine.Config{BaseURL: srv.URL, Releases: []string{"3.13"}, Repos: []string{"main"}})
	if _, err := c2.Fetch(ctx, alpine.ModeCursor); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("missing release: %v", err)
	}
	if _, err := alpine.New(st, alpine.Config{Releases: []string{"latest"}}); err == nil {
		t.Error("bad release name accepted")
	}
}

func FuzzParseSecDB(f *testing.F) {
	for _, name := range []string{"vuln-list-update/311-main.json", "vuln-list-update/312-main.json", "vuln-list-update/edge-community.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	f.Add([]byte("distroversion: v3.10\npackages:\n  - pkg:\n      name: musl\n      secfixes:\n        1.1.22-r3:\n          - CVE-2019-14697\n        0:\n          - CVE-2019-0001 XSA-1\n"), true)
	f.Fuzz(func(t *testing.T, b []byte, yamlForm bool) {
		uri := alpine.DefaultBaseURL + "/v3.10/main.json"
		if yamlForm {
			uri = alpine.DefaultBaseURL + "/v3.10/main.yaml"
		}
		advs, err := alpine.MapDocument(uri, "sha256:x", b)
		if err != nil {
			return
		}
		for _, a := range advs {
			if a.ID == "" || len(a.Affected) == 0 {
				t.Fatalf("empty advisory %+v", a)
			}
			for _, af := range a.Affected {
				if af.Distro != "alpine:3.10" || (af.Status == "") == (af.Ranges == nil) {
					t.Fatalf("bad affected %+v", af)
				}
			}
		}
	})
}
