package nvd_test

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/connector/nvd"
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
	for r, err := range st.MappedBySource(context.Background(), nvd.SourceID) {
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

func stages(t *testing.T, c *nvd.Connector) (nvd.StageStats, nvd.StageStats) {
	t.Helper()
	ctx := context.Background()
	ps, err := c.Parse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := c.Map(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ps, ms
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]nvd.Mode{"": nvd.ModeCursor, "init": nvd.ModeInit, "resume": nvd.ModeResume, "cursor": nvd.ModeCursor} {
		if m, err := nvd.ParseMode(in); err != nil || m != want {
			t.Errorf("ParseMode(%q) = %q, %v", in, m, err)
		}
	}
	if _, err := nvd.ParseMode("full"); err == nil {
		t.Error("ParseMode(full): no error")
	}
}

func TestMirrorMapping(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c, err := nvd.New(st, nvd.Config{Mirror: "testdata/pages"})
	if err != nil {
		t.Fatal(err)
	}
	if fs, err := c.Fetch(ctx, nvd.ModeCursor); err != nil || fs.Pages != 3 || fs.Created != 3 {
		t.Fatalf("fetch %+v %v", fs, err)
	}
	ps, ms := stages(t, c)
	if ps.Documents != 3 || ps.CVEs != 3 || ps.Failed != 0 || ms.CVEs != 3 {
		t.Fatalf("parse %+v map %+v", ps, ms)
	}
	got := mapped(t, st)
	if len(got) != 3 {
		t.Fatalf("mapped %d records", len(got))
	}

	a := got["CVE-2021-44228"]
	if a == nil {
		t.Fatal("no CVE-2021-44228")
	}
	if !strings.HasPrefix(a.Summary, "Apache Log4j2 2.0-beta9 through 2.15.0") || !strings.HasSuffix(a.Summary, "endpoints.") ||
		!strings.Contains(a.Details, "message lookup substitution is enabled") {
		t.Errorf("text: %q / %q", a.Summary, a.Details)
	}
	if a.Published.Format(time.RFC3339Nano) != "2021-12-10T10:15:09.143Z" || a.Modified.IsZero() || !a.Withdrawn.IsZero() {
		t.Errorf("dates %v %v %v", a.Published, a.Modified, a.Withdrawn)
	}
	if len(a.Sources) != 1 || a.Sources[0].Source != "nvd" || !strings.HasSuffix(a.Sources[0].Document, "#page-1.json") {
		t.Errorf("sources %+v", a.Sources)
	}
	if !slices.Equal(a.CWEs, []string{"CWE-20", "CWE-400", "CWE-502", "CWE-917"}) {
		t.Errorf("cwes %v", a.CWEs)
	}
	wantSev := []advisory.Severity{
		{Source: "nvd", Type: "CVSS_V2", Vector: "AV:N/AC:M/Au:N/C:C/I:C/A:C", Score: 9.3, Level: advisory.LevelHigh},
		{Source: "nvd", Type: "CVSS_V3", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", Score: 10, Level: advisory.LevelCritical},
	}
	if !slices.Equal(a.Severities, wantSev) {
		t.Errorf("severities %+v", a.Severities)
	}
	if len(a.Affected) != 1 {
		t.Fatalf("affected %+v", a.Affected)
	}
	af := a.Affected[0]
	if af.Ecosystem != "cpe" || af.Distro != "" || af.Package != "apache:log4j" || af.Source != "nvd" {
		t.Errorf("affected key %+v", af)
	}
	if !slices.Equal(af.Versions, []string{"2.0", "2.0-beta9", "2.0-rc1", "2.0-rc2"}) {
		t.Errorf("versions %v", af.Versions)
	}
	var ranges []string
	for _, r := range af.Ranges {
		if r.Type != advisory.RangeEcosystem || len(r.Events) != 2 {
			t.Errorf("range %+v", r)
			continue
		}
		ranges = append(ranges, r.Events[0].Introduced+"-"+r.Events[1].Fixed)
	}
	if !slices.Equal(ranges, []string{"2.0.1-2.3.1", "2.13.0-2.15.0", "2.4.0-2.12.2"}) {
		t.Errorf("ranges %v", ranges)
	}
	refs := map[string]string{}
	for _, r := range a.References {
		refs[r.URL] = r.Type
	}
	if refs["https://logging.apache.org/log4j/2.x/security.html"] != "ADVISORY" || refs["https://nvd.nist.gov/vuln/detail/CVE-2021-44228"] != "ADVISORY" {
		t.Errorf("references %v", refs)
	}

	hb := got["CVE-2014-0160"]
	if hb == nil || len(hb.Affected) != 1 || hb.Affected[0].Package != "openssl:openssl" ||
		!slices.Equal(hb.Affected[0].Versions, []string{"1.0.1", "1.0.1a", "1.0.1b", "1.0.1c", "1.0.1d", "1.0.1e", "1.0.1f"}) ||
		len(hb.Affected[0].Ranges) != 0 || !slices.Equal(hb.CWEs, []string{"CWE-125"}) {
		t.Errorf("CVE-2014-0160: %+v", hb)
	}
	xz := got["CVE-2024-3094"]
	if xz == nil || len(xz.Severities) != 1 || xz.Severities[0].Source != "nvd:secalert@redhat.com" || xz.Severities[0].Score != 10 ||
		!slices.Equal(xz.Affected[0].Versions, []string{"5.6.0", "5.6.1"}) || refTypes(xz)["https://www.openwall.com/lists/oss-security/2024/03/29/4"] != "DISCUSSION" {
		t.Errorf("CVE-2024-3094: %+v", xz)
	}

	// The same mirror again: every page is unchanged, nothing to parse.
	if fs, err := c.Fetch(ctx, nvd.ModeCursor); err != nil || fs.Unchanged != 3 {
		t.Errorf("refetch %+v %v", fs, err)
	}
	if ps, _ := stages(t, c); ps.Documents != 0 {
		t.Errorf("reparse %+v", ps)
	}
}

func refTypes(a *advisory.Advisory) map[string]string {
	out := map[string]string{}
	for _, r := range a.References {
		out[r.URL] = r.Type
	}
	return out
}

// TestEdgeCases maps invented CVEs that exercise what the fixture's real ones do not.
func TestEdgeCases(t *testing.T) {
	const doc = `{"resultsPerPage":2,"startIndex":0,"totalResults":2,"format":"NVD_CVE","version":"2.0","vulnerabilities":[
	{"cve":{"id":"CVE-2099-0001","published":"2099-01-01T00:00:00.000","lastModified":"2099-02-01T00:00:00.000","vulnStatus":"Rejected",
	  "descriptions":[{"lang":"en","value":"Rejected reason: This CVE ID is unused."}]}},
	{"cve":{"id":"CVE-2099-0002","published":"2099-01-01T00:00:00.000","lastModified":"2099-01-02T00:00:00.000","vulnStatus":"Analyzed",
	  "descriptions":[{"lang":"fr","value":"Pas en anglais."}],
	  "metrics":{
	    "cvssMetricV40":[{"source":"cna@example.org","type":"Secondary","cvssData":{"version":"4.0","vectorString":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N","baseScore":9.3}}],
	    "cvssMetricV31":[{"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"3.1","vectorString":"CVSS:3.1/AV:X/garbage","baseScore":10}}],
	    "cvssMetricV30":[{"source":"nvd@nist.gov","type":"Secondary","cvssData":{"version":"3.0","vectorString":"CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H","baseScore":7.8}}],
	    "cvssMetricV2":[{"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"2.0","vectorString":"not a vector"}}]},
	  "weaknesses":[{"source":"nvd@nist.gov","type":"Primary","description":[{"lang":"en","value":"NVD-CWE-Other"},{"lang":"en","value":"CWE-79"},{"lang":"en","value":"CWE-79x"}]}],
	  "configurations":[
	    {"operator":"AND","nodes":[
	      {"operator":"OR","negate":false,"cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:o:acme:firmware:*:*:*:*:*:*:*:*","versionStartExcluding":"1.0","versionEndIncluding":"1.4"}]},
	      {"operator":"OR","negate":false,"cpeMatch":[{"vulnerable":false,"criteria":"cpe:2.3:h:acme:router:-:*:*:*:*:*:*:*"}]}]},
	    {"nodes":[
	      {"operator":"OR","negate":true,"cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:acme:negated:*:*:*:*:*:*:*:*"}]},
	      {"operator":"OR","cpeMatch":[
	        {"vulnerable":true,"criteria":"cpe:2.3:a:acme:any:*:*:*:*:*:*:*:*"},
	        {"vulnerable":true,"criteria":"cpe:2.3:a:acme:upto:*:*:*:*:*:*:*:*","versionEndExcluding":"3.0"},
	        {"vulnerable":true,"criteria":"cpe:2.3:a:acme:esc\\:aped:1\\.2:*:*:*:*:*:*:*"},
	        {"vulnerable":true,"criteria":"not a cpe"},
	        {"vulnerable":true,"criteria":"cpe:2.3:a:*:*:*:*:*:*:*:*:*:*"}]}]}]}}]}`
	advs, err := nvd.MapPage([]byte(doc))
	if err != nil || len(advs) != 2 {
		t.Fatalf("%d %v", len(advs), err)
	}
	rej := advs[0]
	if rej.Withdrawn.Format("2006-01-02") != "2099-02-01" || rej.Summary != "Rejected reason: This CVE ID is unused." {
		t.Errorf("rejected: %+v", rej)
	}
	a := advs[1]
	if a.Details != "Pas en anglais." || !a.Withdrawn.IsZero() {
		t.Errorf("text %q withdrawn %v", a.Details, a.Withdrawn)
	}
	var sevs []string
	for _, s := range a.Severities {
		sevs = append(sevs, s.Source+" "+s.Type+" "+strconv.FormatFloat(s.Score, 'f', 1, 64)+" "+string(s.Level))
	}
	if !slices.Equal(sevs, []string{"nvd:cna@example.org CVSS_V4 9.3 Critical", "nvd:nvd@nist.gov CVSS_V3 7.8 High"}) {
		t.Errorf("severities %v", sevs)
	}
	if !slices.Equal(a.CWEs, []string{"CWE-79"}) {
		t.Errorf("cwes %v", a.CWEs)
	}
	got := map[string]advisory.Affected{}
	for _, af := range a.Affected {
		got[af.Package] = af
	}
	if len(got) != 4 {
		t.Errorf("affected %+v", a.Affected)
	}
	events := func(pkg string) []advisory.Event {
		if af, ok := got[pkg]; ok && len(af.Ranges) == 1 {
			return af.Ranges[0].Events
		}
		return nil
	}
	if e := events("acme:firmware"); !slices.Equal(e, []advisory.Event{{Introduced: "1.0"}, {LastAffected: "1.4"}}) {
		t.Errorf("firmware %+v", e)
	}
	if e := events("acme:any"); !slices.Equal(e, []advisory.Event{{Introduced: "0"}}) {
		t.Errorf("any %+v", e)
	}
	if e := events("acme:upto"); !slices.Equal(e, []advisory.Event{{Introduced: "0"}, {Fixed: "3.0"}}) {
		t.Errorf("upto %+v", e)
	}
	if af := got[`acme:esc\:aped`]; !slices.Equal(af.Versions, []string{"1.2"}) {
		t.Errorf("escaped %+v", af)
	}
}

// server serves the fixture's pages by startIndex, after the failures queued in fail.
type server struct {
	mu      sync.Mutex
	fail    []int // statuses to answer, in order, before serving normally
	queries []string
	apiKeys []string
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.queries = append(s.queries, r.URL.RawQuery)
	s.apiKeys = append(s.apiKeys, r.Header.Get("apiKey"))
	var status int
	if len(s.fail) > 0 {
		status, s.fail = s.fail[0], s.fail[1:]
	}
	s.mu.Unlock()
	if status != 0 {
		http.Error(w, "nope", status)
		return
	}
	q := r.URL.Query()
	if q.Get("lastModStartDate") != "" {
		// A cursor window: only CVE-2024-3094 changed.
		b, _ := os.ReadFile("testdata/pages/page-2.json")
		b = []byte(strings.Replace(strings.Replace(string(b), `"startIndex": 2`, `"startIndex": 0`, 1), `"totalResults": 3`, `"totalResults": 1`, 1))
		w.Write(b)
		return
	}
	i, err := strconv.Atoi(q.Get("startIndex"))
	if err != nil || q.Get("resultsPerPage") != "1" {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	b, err := os.ReadFile(filepath.Join("testdata/pages", "page-"+strconv.Itoa(i)+".json"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

type clock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	return ctx.Err()
}

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func newHTTP(t *testing.T, st *sqlitestore.Store, srv *server, key string) (*nvd.Connector, *clock) {
	t.Helper()
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	clk := &clock{now: time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC)}
	c, err := nvd.New(st, nvd.Config{BaseURL: ts.URL + "/rest/json/cves/2.0", APIKey: key, PageSize: 1, Now: clk.Now,
		Fetch: fetch.Config{Sleep: clk.Sleep}})
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func TestHTTPPagingRetriesAndCursor(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	srv := &server{fail: []int{http.StatusServiceUnavailable, http.StatusForbidden}}
	c, clk := newHTTP(t, st, srv, "secret-key")
	fs, err := c.Fetch(ctx, nvd.ModeCursor) // no cursor yet: everything
	if err != nil || fs.Pages != 3 || fs.CVEs != 3 || fs.Created != 3 || fs.Windows != 1 {
		t.Fatalf("fetch %+v %v", fs, err)
	}
	// 503 and 403 were retried: two extra requests for page 0.
	wantQ := []string{"resultsPerPage=1&startIndex=0", "resultsPerPage=1&startIndex=0", "resultsPerPage=1&startIndex=0",
		"resultsPerPage=1&startIndex=1", "resultsPerPage=1&startIndex=2"}
	if !slices.Equal(srv.queries, wantQ) {
		t.Errorf("queries %q", srv.queries)
	}
	for _, k := range srv.apiKeys {
		if k != "secret-key" {
			t.Errorf("apiKey header %q", k)
		}
	}
	// Backoff (1 s, then 2 s) and the API-key rate limit (0.6 s between starts) went through the
	// injected sleep.
	if !slices.Contains(clk.sleeps, time.Second) || !slices.Contains(clk.sleeps, 2*time.Second) || !slices.Contains(clk.sleeps, 600*time.Millisecond) {
		t.Errorf("sleeps %v", clk.sleeps)
	}
	if ps, ms := stages(t, c); ps.Failed != 0 || ms.CVEs != 3 {
		t.Errorf("parse %+v map %+v", ps, ms)
	}
	raw, err := st.GetCursor(ctx, nvd.SourceID)
	if err != nil || !strings.Contains(string(raw), "2025-01-15T12:00:00Z") {
		t.Fatalf("cursor %s %v", raw, err)
	}

	// A day later, cursor mode asks only for what changed since the previous end.
	first := clk.Now()
	clk.advance(24 * time.Hour)
	srv.queries = nil
	fs, err = c.Fetch(ctx, nvd.ModeCursor)
	if err != nil || fs.Windows != 1 || fs.Pages != 1 || fs.CVEs != 1 {
		t.Fatalf("cursor fetch %+v %v", fs, err)
	}
	if len(srv.queries) != 1 {
		t.Fatalf("queries %q", srv.queries)
	}
	q, _ := parseQuery(srv.queries[0])
	if q["lastModStartDate"] != nvd.NVDTime(first) || q["lastModEndDate"] != nvd.NVDTime(clk.Now()) || q["startIndex"] != "0" {
		t.Errorf("cursor query %v", q)
	}
	if q["lastModStartDate"] != "2025-01-15T12:00:00.000+00:00" {
		t.Errorf("date format %q", q["lastModStartDate"])
	}
	if ps, ms := stages(t, c); ps.Documents != 1 || ms.CVEs != 1 {
		t.Errorf("parse %+v map %+v", ps, ms)
	}
	if n := len(mapped(t, st)); n != 3 {
		t.Errorf("mapped %d", n)
	}

	// 200 days later: two windows, none longer than 120 days.
	clk.advance(200 * 24 * time.Hour)
	srv.queries = nil
	if fs, err := c.Fetch(ctx, nvd.ModeCursor); err != nil || fs.Windows != 2 {
		t.Fatalf("long cursor fetch %+v %v", fs, err)
	}
	for _, raw := range srv.queries {
		q, _ := parseQuery(raw)
		a, _ := time.Parse("2006-01-02T15:04:05.000-07:00", q["lastModStartDate"])
		b, _ := time.Parse("2006-01-02T15:04:05.000-07:00", q["lastModEndDate"])
		if b.Sub(a) > 120*24*time.Hour || !b.After(a) {
			t.Errorf("window %v .. %v", a, b)
		}
	}

	// resume fetches nothing.
	srv.queries = nil
	if fs, err := c.Fetch(ctx, nvd.ModeResume); err != nil || fs.Pages != 0 || len(srv.queries) != 0 {
		t.Errorf("resume %+v %v %q", fs, err, srv.queries)
	}
}

func parseQuery(raw string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(kv, "=")
		v = strings.ReplaceAll(v, "%2B", "+")
		v = strings.ReplaceAll(v, "%3A", ":")
		out[k] = v
	}
	return out, nil
}

func TestHTTPNoKeyRateLimitAnd404(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	srv := &server{fail: []int{http.StatusNotFound}}
	c, clk := newHTTP(t, st, srv, "")
	_, err := c.Fetch(ctx, nvd.ModeInit)
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("want a 404 error, got %v", err)
	}
	if len(srv.queries) != 1 || srv.apiKeys[0] != "" {
		t.Errorf("a 404 is not retried: %q, keys %q", srv.queries, srv.apiKeys)
	}
	if _, err := st.GetCursor(ctx, nvd.SourceID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a failed fetch moved the cursor: %v", err)
	}
	// Without a key the pages are 6 s apart.
	if _, err := c.Fetch(ctx, nvd.ModeInit); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(clk.sleeps, 6*time.Second) {
		t.Errorf("sleeps %v", clk.sleeps)
	}
}

func TestMalformedPageFailsOthersMap(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for i := range 3 {
		b, err := os.ReadFile(filepath.Join("testdata/pages", "page-"+strconv.Itoa(i)+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "page-"+strconv.Itoa(i)+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "bad-id.json"), []byte(`{"totalResults":1,"vulnerabilities":[{"cve":{"id":"GHSA-xxxx"}}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "truncated.json"), []byte(`{"totalResults":1,"vulnerabilities":[{"cve":`), 0o644)
	st := openStore(t)
	c, err := nvd.New(st, nvd.Config{Mirror: dir})
	if err != nil {
		t.Fatal(err)
	}
	if fs, err := c.Fetch(ctx, nvd.ModeInit); err != nil || fs.Pages != 5 {
		t.Fatalf("fetch %+v %v", fs, err)
	}
	ps, ms := stages(t, c)
	if ps.Documents != 5 || ps.Failed != 2 || len(ps.Errors) != 2 || ms.CVEs != 3 {
		t.Fatalf("parse %+v map %+v", ps, ms)
	}
	failed, err := st.ListDocuments(ctx, nvd.SourceID, store.StatusFailed)
	if err != nil || len(failed) != 2 {
		t.Fatalf("failed %d %v", len(failed), err)
	}
	for _, d := range failed {
		if d.Error == "" {
			t.Errorf("%s: no reason", d.URI)
		}
	}
	if n := len(mapped(t, st)); n != 3 {
		t.Errorf("mapped %d", n)
	}
}

func FuzzParsePage(f *testing.F) {
	for i := range 3 {
		b, err := os.ReadFile(filepath.Join("testdata/pages", "page-"+strconv.Itoa(i)+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"vulnerabilities":[{"cve":{"id":"CVE-2099-0001","configurations":[{"nodes":[{"cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:x\\:y:z:1\\"}]}]}]}}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(legacy11))
	f.Fuzz(func(t *testing.T, b []byte) {
		advs, err := nvd.MapPage(b)
		if err != nil {
			return
		}
		for _, a := range advs {
			if !strings.HasPrefix(a.ID, "CVE-") || len(a.Sources) != 1 {
				t.Fatalf("mapped %+v", a)
			}
			for _, af := range a.Affected {
				if af.Ecosystem != nvd.EcosystemCPE || !strings.Contains(af.Package, ":") {
					t.Fatalf("affected %+v", af)
				}
			}
			if _, err := json.Marshal(a); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// legacy11 is a trimmed JSON 1.1 feed in the retired feeds' documented shape: Log4Shell's
// apache:log4j ranges, one AND configuration nesting its matches as children, and a rejected CVE.
const legacy11 = `{"CVE_data_type":"CVE","CVE_data_format":"MITRE","CVE_data_version":"4.0","CVE_data_numberOfCVEs":"2",
"CVE_data_timestamp":"2023-01-01T00:00Z","CVE_Items":[
{"cve":{"data_type":"CVE","data_format":"MITRE","data_version":"4.0","CVE_data_meta":{"ID":"CVE-2021-44228","ASSIGNER":"security@apache.org"},
  "problemtype":{"problemtype_data":[{"description":[{"lang":"en","value":"CWE-502"},{"lang":"en","value":"CWE-400"},{"lang":"en","value":"CWE-20"}]}]},
  "references":{"reference_data":[{"url":"https://logging.apache.org/log4j/2.x/security.html","name":"https://logging.apache.org/log4j/2.x/security.html","refsource":"MISC","tags":["Vendor Advisory"]}]},
  "description":{"description_data":[{"lang":"en","value":"Apache Log4j2 2.0-beta9 through 2.15.0 (excluding security releases 2.12.2, 2.12.3, and 2.3.1) JNDI features used in configuration, log messages, and parameters do not protect against attacker controlled LDAP and other JNDI related endpoints."}]}},
 "configurations":{"CVE_data_version":"4.0","nodes":[
  {"operator":"OR","children":[],"cpe_match":[
    {"vulnerable":true,"cpe23Uri":"cpe:2.3:a:apache:log4j:*:*:*:*:*:*:*:*","versionStartIncluding":"2.13.0","versionEndExcluding":"2.15.0","cpe_name":[]},
    {"vulnerable":true,"cpe23Uri":"cpe:2.3:a:apache:log4j:2.0:beta9:*:*:*:*:*:*","cpe_name":[]}]},
  {"operator":"AND","children":[
    {"operator":"OR","children":[],"cpe_match":[{"vulnerable":true,"cpe23Uri":"cpe:2.3:a:acme:appliance_software:*:*:*:*:*:*:*:*","versionEndIncluding":"9.1","cpe_name":[]}]},
    {"operator":"OR","children":[],"cpe_match":[{"vulnerable":false,"cpe23Uri":"cpe:2.3:h:acme:appliance:-:*:*:*:*:*:*:*","cpe_name":[]}]}],"cpe_match":[]}]},
 "impact":{"baseMetricV3":{"cvssV3":{"version":"3.1","vectorString":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H","baseScore":10.0,"baseSeverity":"CRITICAL"}},
           "baseMetricV2":{"cvssV2":{"version":"2.0","vectorString":"AV:N/AC:M/Au:N/C:C/I:C/A:C","baseScore":9.3},"severity":"HIGH"}},
 "publishedDate":"2021-12-10T10:15Z","lastModifiedDate":"2022-02-01T12:00Z"},
{"cve":{"data_type":"CVE","data_format":"MITRE","data_version":"4.0","CVE_data_meta":{"ID":"CVE-2099-0003","ASSIGNER":"cve@mitre.org"},
  "problemtype":{"problemtype_data":[]},"references":{"reference_data":[]},
  "description":{"description_data":[{"lang":"en","value":"** REJECT ** DO NOT USE THIS CANDIDATE NUMBER."}]}},
 "configurations":{"CVE_data_version":"4.0","nodes":[]},"impact":{},
 "publishedDate":"2099-01-01T00:00Z","lastModifiedDate":"2099-01-02T00:00Z"}]}`

func TestMirrorLegacyAndCompressedFeeds(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(legacy11))
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "nvdcve-1.1-2021.json.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile("testdata/pages/page-2.json")
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zwr := zip.NewWriter(&zb)
	w, _ := zwr.Create("nvdcve-2.0-2024.json")
	w.Write(page)
	zwr.Close()
	if err := os.WriteFile(filepath.Join(dir, "nvdcve-2.0-2024.json.zip"), zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	c, err := nvd.New(st, nvd.Config{Mirror: dir})
	if err != nil {
		t.Fatal(err)
	}
	if fs, err := c.Fetch(ctx, nvd.ModeCursor); err != nil || fs.Pages != 2 {
		t.Fatalf("fetch %+v %v", fs, err)
	}
	if ps, ms := stages(t, c); ps.Failed != 0 || ms.CVEs != 3 {
		t.Fatalf("parse %+v map %+v", ps, ms)
	}
	got := mapped(t, st)
	a := got["CVE-2021-44228"]
	if a == nil || !strings.HasSuffix(a.Sources[0].Document, "#nvdcve-1.1-2021.json") || len(a.Severities) != 2 ||
		a.Severities[1].Source != "nvd" || a.Severities[1].Score != 10 || a.Published.Format(time.RFC3339) != "2021-12-10T10:15:00Z" ||
		!slices.Equal(a.CWEs, []string{"CWE-20", "CWE-400", "CWE-502"}) {
		t.Fatalf("CVE-2021-44228 from 1.1: %+v", a)
	}
	pkgs := map[string]advisory.Affected{}
	for _, af := range a.Affected {
		pkgs[af.Package] = af
	}
	if af := pkgs["apache:log4j"]; !slices.Equal(af.Versions, []string{"2.0-beta9"}) || len(af.Ranges) != 1 {
		t.Errorf("log4j %+v", af)
	}
	if af, ok := pkgs["acme:appliance_software"]; !ok || af.Ranges[0].Events[1].LastAffected != "9.1" {
		t.Errorf("AND child %+v", af)
	}
	if _, ok := pkgs["acme:appliance"]; ok {
		t.Error("a non-vulnerable platform was mapped")
	}
	if r := got["CVE-2099-0003"]; r == nil || r.Withdrawn.IsZero() {
		t.Errorf("rejected 1.1 CVE: %+v", r)
	}
	if x := got["CVE-2024-3094"]; x == nil || !strings.HasSuffix(x.Sources[0].Document, "#nvdcve-2.0-2024.json") {
		t.Errorf("zipped 2.0 feed: %+v", x)
	}
}
