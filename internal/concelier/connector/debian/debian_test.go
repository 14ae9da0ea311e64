package debian_test

import (
	"context"
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
	"github.com/stellaops/stellaops/internal/concelier/connector/debian"
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

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mapDoc(t *testing.T, uri, name string) map[string]*advisory.Advisory {
	t.Helper()
	advs, err := debian.MapDocument(uri, "sha256:x", read(t, name))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*advisory.Advisory{}
	for _, a := range advs {
		out[a.ID] = a
	}
	return out
}

// find returns the affected entry of pkg in distro.
func find(t *testing.T, a *advisory.Advisory, distro, pkg string) advisory.Affected {
	t.Helper()
	if a == nil {
		t.Fatalf("no advisory (looking for %s %s)", distro, pkg)
	}
	for _, af := range a.Affected {
		if af.Distro == distro && af.Package == pkg {
			if af.Ecosystem != inventory.EcosystemDeb || af.Source != "debian-tracker" {
				t.Errorf("%s: %+v", a.ID, af)
			}
			return af
		}
	}
	t.Fatalf("%s: no %s %s in %+v", a.ID, distro, pkg, a.Affected)
	return advisory.Affected{}
}

func has(a *advisory.Advisory, distro string) bool {
	return slices.ContainsFunc(a.Affected, func(af advisory.Affected) bool { return af.Distro == distro })
}

func fixed(af advisory.Affected) string {
	if af.Status != "" || len(af.Ranges) != 1 || af.Ranges[0].Type != advisory.RangeEcosystem || len(af.Ranges[0].Events) != 2 ||
		af.Ranges[0].Events[0].Introduced != "0" {
		return "not a fixed range"
	}
	return af.Ranges[0].Events[1].Fixed
}

func level(af advisory.Affected) advisory.Level {
	if af.Severity == nil {
		return ""
	}
	return af.Severity.Level
}

func TestReleaseKeys(t *testing.T) {
	for code, want := range map[string]string{"bookworm": "debian:12", "bullseye": "debian:11", "buster": "debian:10",
		"stretch": "debian:9", "trixie": "debian:13", "forky": "debian:14", "sid": "debian:unstable", "experimental": ""} {
		if got := debian.ReleaseKey(code); got != want {
			t.Errorf("%s: %q, want %q", code, got, want)
		}
	}
}

func TestMapJSON(t *testing.T) {
	uri := debian.DefaultBaseURL + "/data/json"
	advs := mapDoc(t, uri, "tracker.json")
	if len(advs) != 5 { // the TEMP- placeholder is skipped
		t.Errorf("%d advisories", len(advs))
	}
	foot := advs["CVE-2023-45166"]
	if af := find(t, foot, "debian:12", "foot"); fixed(af) != "1.13.1-2+deb12u1" || af.Severity != nil {
		t.Errorf("foot bookworm: %+v", af)
	}
	if af := find(t, foot, "debian:11", "foot"); af.Status != advisory.StatusWillNotFix || af.Ranges != nil { // <no-dsa>
		t.Errorf("foot bullseye: %+v", af)
	}
	if af := find(t, foot, "debian:unstable", "foot"); fixed(af) != "1.15.3-2" {
		t.Errorf("foot sid: %+v", af)
	}
	if !strings.HasPrefix(foot.Summary, "foot before 1.15.3") || foot.Sources[0] != (advisory.Provenance{Source: "debian-tracker", Document: uri, Digest: "sha256:x"}) {
		t.Errorf("foot: %q %+v", foot.Summary, foot.Sources)
	}
	putty := advs["CVE-2021-36367"]
	if af := find(t, putty, "debian:11", "putty"); af.Status != advisory.StatusFixDeferred || level(af) != advisory.LevelLow {
		t.Errorf("putty bullseye (postponed): %+v", af)
	}
	if af := find(t, putty, "debian:10", "putty"); af.Status != advisory.StatusEndOfLife {
		t.Errorf("putty buster (end-of-life): %+v", af)
	}
	if af := find(t, advs["CVE-2021-36373"], "debian:12", "ant"); af.Status != advisory.StatusAffected || level(af) != advisory.LevelLow {
		t.Errorf("ant (unimportant): %+v", af)
	}
	ossl := advs["CVE-2023-0286"]
	if af := find(t, ossl, "debian:11", "openssl"); fixed(af) != "1.1.1n-0+deb11u4" || level(af) != advisory.LevelHigh { // "high**"
		t.Errorf("openssl bullseye: %+v", af)
	}
	ossl2 := advs["CVE-2024-2511"]
	if af := find(t, ossl2, "debian:12", "openssl"); af.Status != advisory.StatusWillNotFix { // ignored
		t.Errorf("openssl ignored: %+v", af)
	}
	if af := find(t, ossl2, "debian:11", "openssl"); af.Status != advisory.StatusNotAffected { // fixed_version "0"
		t.Errorf("openssl 0: %+v", af)
	}
	if af := find(t, ossl2, "debian:unstable", "openssl"); af.Status != advisory.StatusUnderInvestigation {
		t.Errorf("openssl undetermined: %+v", af)
	}
	if len(ossl2.Affected) != 3 { // experimental is not a release
		t.Errorf("openssl CVE-2024-2511: %+v", ossl2.Affected)
	}
}

func TestMapCVEList(t *testing.T) {
	advs := mapDoc(t, debian.ListsBaseURL+"/CVE/list", "data/CVE/list")
	// CVE-2023-XXXX placeholders, TODO and NOT-FOR-US entries carry nothing: ant and putty remain.
	if len(advs) != 2 {
		t.Errorf("%d advisories: %v", len(advs), advs)
	}
	ant := advs["CVE-2021-36373"]
	if af := find(t, ant, "debian:unstable", "ant"); af.Status != advisory.StatusAffected || level(af) != advisory.LevelLow {
		t.Errorf("ant: %+v", af)
	}
	if !strings.HasPrefix(ant.Summary, "When reading a specially crafted TAR archive") {
		t.Errorf("ant summary %q", ant.Summary)
	}
	putty := advs["CVE-2021-36367"]
	if af := find(t, putty, "debian:unstable", "putty"); fixed(af) != "0.75-3" || level(af) != advisory.LevelLow {
		t.Errorf("putty sid: %+v", af)
	}
	for _, d := range []string{"debian:11", "debian:10"} {
		if af := find(t, putty, d, "putty"); af.Status != advisory.StatusWillNotFix || af.Severity != nil {
			t.Errorf("putty %s: %+v", d, af)
		}
	}
	if has(putty, "debian:12") { // not named in the list: left to the JSON
		t.Errorf("putty bookworm invented: %+v", putty.Affected)
	}
}

func TestMapAdvisoryLists(t *testing.T) {
	dsa := mapDoc(t, debian.ListsBaseURL+"/DSA/list", "data/DSA/list")
	if len(dsa) != 2 {
		t.Errorf("DSA: %d advisories", len(dsa))
	}
	redis := dsa["CVE-2019-10192"]
	if af := find(t, redis, "debian:9", "redis"); fixed(af) != "3:3.2.6-3+deb9u3" {
		t.Errorf("redis stretch: %+v", af)
	}
	if af := find(t, redis, "debian:10", "redis"); fixed(af) != "5:5.0.3-4+deb10u1" {
		t.Errorf("redis buster: %+v", af)
	}
	if !slices.Equal(redis.Related, []string{"DSA-4480-1"}) {
		t.Errorf("redis related: %v", redis.Related)
	}
	dla := mapDoc(t, debian.ListsBaseURL+"/DLA/list", "data/DLA/list")
	// Four CVEs from DLA-2711-1; the entry with the malformed header is skipped.
	if len(dla) != 4 {
		t.Errorf("DLA: %d advisories", len(dla))
	}
	if af := find(t, dla["CVE-2021-30547"], "debian:9", "thunderbird"); fixed(af) != "1:78.12.0-1~deb9u1" || !slices.Equal(dla["CVE-2021-30547"].Related, []string{"DLA-2711-1"}) {
		t.Errorf("thunderbird: %+v", dla["CVE-2021-30547"])
	}
}

// A regression update (a second DSA for the same CVE) does not move the fix.
func TestLowestFix(t *testing.T) {
	list := "[02 Jan 2024] DSA-5001-2 foo - regression update\n\t{CVE-2024-0001}\n\t[bookworm] - foo 1.10-1+deb12u2\n" +
		"[01 Jan 2024] DSA-5001-1 foo - security update\n\t{CVE-2024-0001}\n\t[bookworm] - foo 1.9-1+deb12u1\n"
	advs, err := debian.MapList(debian.ListsBaseURL+"/DSA/list", "sha256:x", []byte(list))
	if err != nil || len(advs) != 1 {
		t.Fatalf("%v %v", advs, err)
	}
	if af := find(t, advs[0], "debian:12", "foo"); fixed(af) != "1.9-1+deb12u1" || len(advs[0].Affected) != 1 {
		t.Errorf("%+v", advs[0].Affected)
	}
	if !slices.Equal(advs[0].Related, []string{"DSA-5001-1", "DSA-5001-2"}) {
		t.Errorf("related %v", advs[0].Related)
	}
}

// mirror lays out the tracker's data/ directory with the real lists, the JSON fixture and a
// broken DLA list.
func mirror(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"CVE", "DSA", "DLA"} {
		os.MkdirAll(filepath.Join(dir, "data", k), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "data", "CVE", "list"), read(t, "data/CVE/list"), 0o644)
	os.WriteFile(filepath.Join(dir, "data", "DSA", "list"), read(t, "data/DSA/list"), 0o644)
	os.WriteFile(filepath.Join(dir, "data", "DLA", "list"), []byte("\t{CVE-2021-0001}\n[01 Jan 2021] DLA-1-1 x - y\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "data", "json"), read(t, "tracker.json"), 0o644)
	return dir
}

func countMapped(t *testing.T, st *sqlitestore.Store) []string {
	t.Helper()
	var ids []string
	for r, err := range st.MappedBySource(context.Background(), debian.SourceID) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

func TestMirrorStages(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	dir := mirror(t)
	c, err := debian.New(st, debian.Config{Mirror: dir})
	if err != nil {
		t.Fatal(err)
	}
	fs1, err := c.Fetch(ctx, debian.ModeCursor)
	if err != nil || fs1.Files != 4 || fs1.Created != 4 {
		t.Fatalf("fetch: %+v %v", fs1, err)
	}
	ps, err := c.Parse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Documents != 4 || ps.Failed != 1 || ps.Errors[0].Document != debian.ListsBaseURL+"/DLA/list" ||
		!strings.Contains(ps.Errors[0].Reason, "indented line before any entry") {
		t.Errorf("parse: %+v", ps)
	}
	ms, err := c.Map(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := countMapped(t, st)
	// CVE/list 2 + DSA/list 2 + JSON 5.
	if ms.OK != 3 || ms.Records != 9 || len(ids) != 9 || !slices.Contains(ids, "json/CVE-2023-0286") || !slices.Contains(ids, "DSA/CVE-2019-10193") {
		t.Errorf("map: %+v, stored %v", ms, ids)
	}
	if fs2, _ := c.Fetch(ctx, debian.ModeCursor); fs2.NotModified != 4 {
		t.Errorf("second fetch: %+v", fs2)
	}
	// The broken list is fixed: only it goes through parse and map again.
	os.WriteFile(filepath.Join(dir, "data", "DLA", "list"), read(t, "data/DLA/list"), 0o644)
	fs3, _ := c.Fetch(ctx, debian.ModeCursor)
	ps3, _ := c.Parse(ctx)
	ms3, _ := c.Map(ctx)
	if fs3.Replaced != 1 || ps3.OK != 1 || ms3.Records != 4 || len(countMapped(t, st)) != 13 {
		t.Errorf("after the fix: fetch %+v parse %+v map %+v", fs3, ps3, ms3)
	}
	// A mirror that is the JSON file itself.
	c2, _ := debian.New(openStore(t), debian.Config{Mirror: filepath.Join("testdata", "tracker.json")})
	if fs, err := c2.Fetch(ctx, debian.ModeCursor); err != nil || fs.Created != 1 {
		t.Errorf("json mirror: %+v %v", fs, err)
	}
}

// Over HTTP: the JSON is fetched once, then the server's 304 to the cursor's validators means no
// work; init downloads it again.
func TestHTTPConditional(t *testing.T) {
	ctx := context.Background()
	body := read(t, "tracker.json")
	const lastMod = "Sun, 22 Nov 2026 07:00:00 GMT"
	var full, notModified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tracker/data/json" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("If-Modified-Since") == lastMod {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("Last-Modified", lastMod)
		w.Write(body)
	}))
	defer srv.Close()
	st := openStore(t)
	clock := func() time.Time { return time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC) }
	c, err := debian.New(st, debian.Config{BaseURL: srv.URL + "/tracker", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	s1, err := c.Fetch(ctx, debian.ModeCursor)
	if err != nil || s1.Created != 1 {
		t.Fatalf("first fetch %+v %v", s1, err)
	}
	d, err := st.GetDocument(ctx, debian.SourceID, srv.URL+"/tracker/data/json")
	if err != nil || d.LastModified != lastMod || !d.FetchedAt.Equal(clock()) || d.Status != store.StatusPendingParse {
		t.Errorf("stored document: %+v %v", d, err)
	}
	if s2, err := c.Fetch(ctx, debian.ModeCursor); err != nil || s2.NotModified != 1 {
		t.Errorf("second fetch %+v %v", s2, err)
	}
	if full.Load() != 1 || notModified.Load() != 1 {
		t.Errorf("server saw %d full and %d conditional requests", full.Load(), notModified.Load())
	}
	if s3, err := c.Fetch(ctx, debian.ModeInit); err != nil || full.Load() != 2 || s3.Unchanged != 1 {
		t.Errorf("init: %+v %v", s3, err)
	}
	if ps, _ := c.Parse(ctx); ps.OK != 1 {
		t.Errorf("parse %+v", ps)
	}
	if ms, _ := c.Map(ctx); ms.Records != 5 {
		t.Errorf("map %+v", ms)
	}
	bad, _ := debian.New(st, debian.Config{BaseURL: srv.URL + "/elsewhere"})
	if _, err := bad.Fetch(ctx, debian.ModeCursor); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("missing: %v", err)
	}
}

func FuzzParseTrackerJSON(f *testing.F) {
	f.Add(read(f, "tracker.json"))
	f.Add([]byte(`{"p":{"CVE-2020-0001":{"releases":{"sid":{"status":"resolved","fixed_version":"0"}}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		advs, err := debian.MapJSON(debian.DefaultBaseURL+"/data/json", "sha256:x", b)
		if err != nil {
			return
		}
		check(t, advs)
	})
}

func FuzzParseTrackerList(f *testing.F) {
	for _, k := range []string{"CVE", "DSA", "DLA"} {
		f.Add(read(f, "data/"+k+"/list"), uint8(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, kind uint8) {
		k := []string{"CVE", "DSA", "DLA"}[int(kind)%3]
		advs, err := debian.MapList(debian.ListsBaseURL+"/"+k+"/list", "sha256:x", b)
		if err != nil {
			return
		}
		check(t, advs)
	})
}

func check(t *testing.T, advs []*advisory.Advisory) {
	t.Helper()
	for _, a := range advs {
		if !strings.HasPrefix(a.ID, "CVE-") || len(a.Affected) == 0 {
			t.Fatalf("bad advisory %+v", a)
		}
		for _, af := range a.Affected {
			if !strings.HasPrefix(af.Distro, "debian:") || (af.Status == "") == (af.Ranges == nil) {
				t.Fatalf("bad affected %+v", af)
			}
		}
	}
}
