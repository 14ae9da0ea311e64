package ubuntu_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/connector/ubuntu"
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

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "tracker", "active", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mapSample(t *testing.T, name string) (*advisory.Advisory, ubuntu.MapStats) {
	t.Helper()
	f, err := ubuntu.Parse(sample(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ubuntu.Map(f, "active/"+name, "sha256:x")
}

// find returns the statement for one release and package, or nil.
func find(a *advisory.Advisory, release, pkg string) *advisory.Affected {
	key := advisory.DistroKey(inventory.Distro{ID: "ubuntu", VersionID: release})
	for i := range a.Affected {
		if a.Affected[i].Distro == key && a.Affected[i].Package == pkg {
			return &a.Affected[i]
		}
	}
	return nil
}

func fixedIn(af *advisory.Affected) string {
	if af == nil || len(af.Ranges) != 1 || len(af.Ranges[0].Events) != 2 || af.Ranges[0].Events[0].Introduced != "0" {
		return ""
	}
	return af.Ranges[0].Events[1].Fixed
}

func TestParseAllSamples(t *testing.T) {
	ents, err := os.ReadDir(filepath.Join("testdata", "tracker", "active"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 10 {
		t.Fatalf("%d samples", len(ents))
	}
	for _, e := range ents {
		if _, err := ubuntu.Parse(sample(t, e.Name())); err != nil {
			t.Errorf("%s: %v", e.Name(), err)
		}
	}
}

func TestMapMultipleUpstreams(t *testing.T) {
	a, st := mapSample(t, "multiple_upstreams")
	if a.ID != "CVE-2020-0556" || !a.Published.Equal(time.Date(2020, 3, 12, 21, 15, 0, 0, time.UTC)) {
		t.Errorf("id %s published %v", a.ID, a.Published)
	}
	// upstream, devel, precise/esm, trusty/esm skipped; trusty is ignored (out of standard support).
	want := map[string]string{"16.04": "5.37-0ubuntu5.3", "18.04": "5.48-0ubuntu3.4", "19.10": "5.50-0ubuntu5.1"}
	for rel, v := range want {
		af := find(a, rel, "bluez")
		if fixedIn(af) != v || af.Status != advisory.StatusFixed || af.Ecosystem != inventory.EcosystemDeb ||
			af.Severity == nil || af.Severity.Level != advisory.LevelMedium || af.Source != "ubuntu-tracker" {
			t.Errorf("bluez %s: %+v", rel, af)
		}
	}
	if af := find(a, "14.04", "bluez"); af == nil || af.Status != advisory.StatusEndOfLife {
		t.Errorf("trusty: %+v", af)
	}
	if len(a.Affected) != 4 || st.Kept != 4 || st.SkippedRelease != 4 || st.SkippedStatus != 0 {
		t.Errorf("%d affected, stats %+v", len(a.Affected), st)
	}
	if len(a.Severities) != 1 || a.Severities[0].Source != "ubuntu-tracker:nvd" || a.Severities[0].Score != 7.1 {
		t.Errorf("severities %+v", a.Severities)
	}
	if len(a.Sources) != 1 || a.Sources[0].Source != "ubuntu-tracker" || a.Sources[0].Document != "active/multiple_upstreams" {
		t.Errorf("sources %+v", a.Sources)
	}
}

func TestMapStatuses(t *testing.T) {
	// pending has a version, but the fix is not published: affected, no range.
	a, _ := mapSample(t, "include_pending")
	if af := find(a, "19.10", "linux-oem"); af == nil || af.Status != advisory.StatusAffected || len(af.Ranges) != 0 ||
		af.Severity.Level != advisory.LevelLow {
		t.Errorf("eoan pending: %+v", af)
	}
	if fixedIn(find(a, "18.04", "linux-oem")) != "4.15.0-1080.90" {
		t.Errorf("bionic: %+v", find(a, "18.04", "linux-oem"))
	}
	if af := find(a, "16.04", "linux-oem"); af == nil || af.Status != advisory.StatusEndOfLife {
		t.Errorf("xenial ignored: %+v", af)
	}
	if find(a, "20.04", "linux-oem") != nil { // DNE
		t.Error("focal DNE was mapped")
	}

	// no space before the status; not-affected kept as a statement; needs-triage under investigation.
	a, _ = mapSample(t, "no_space_before_status")
	for rel, want := range map[string]advisory.Status{"16.04": advisory.StatusAffected, "18.04": advisory.StatusAffected,
		"19.04": advisory.StatusNotAffected, "19.10": advisory.StatusNotAffected, "14.04": advisory.StatusEndOfLife} {
		if af := find(a, rel, "vnc4"); af == nil || af.Status != want {
			t.Errorf("vnc4 %s: %+v, want %s", rel, af, want)
		}
	}
	a, _ = mapSample(t, "patches_with_status")
	if af := find(a, "22.04", "qtwebkit-opensource-src"); af != nil {
		t.Errorf("jammy has no line: %+v", af)
	}
	if af := find(a, "20.04", "qtwebkit-opensource-src"); af == nil || af.Status != advisory.StatusUnderInvestigation {
		t.Errorf("focal: %+v", af)
	}

	// several packages in one file; high priority; line breaks between release lines.
	a, _ = mapSample(t, "more_than_one_package_patches")
	if fixedIn(find(a, "18.04", "libonig")) != "6.3.0-1" || find(a, "17.10", "libonig") != nil {
		t.Errorf("libonig: %+v", a.Affected)
	}
	a, _ = mapSample(t, "line_break_between_patches")
	if fixedIn(find(a, "16.04", "wireshark")) != "2.6.3-1~ubuntu16.04.1" || fixedIn(find(a, "18.04", "wireshark")) != "2.6.3-1~ubuntu18.04.1" {
		t.Errorf("wireshark: %+v", a.Affected)
	}
	a, _ = mapSample(t, "tags_field_parsing")
	if af := find(a, "24.04", "libspring-java"); af == nil || af.Status != advisory.StatusAffected || af.Severity.Level != advisory.LevelHigh {
		t.Errorf("noble: %+v", af)
	}
}

func TestParseFields(t *testing.T) {
	f, err := ubuntu.Parse(sample(t, "blank_lines_in_description"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(f.Description, "only in effect when running salt-api as the root user.") || !strings.Contains(f.Description, "\n\nThe LocalClient") {
		t.Errorf("description %q", f.Description)
	}
	if len(f.References) != 2 || f.Priority != "medium" {
		t.Errorf("refs %v priority %q", f.References, f.Priority)
	}
	f, _ = ubuntu.Parse(sample(t, "tags_field_parsing"))
	if strings.Join(f.Tags, ",") != "cisa-kev,epss-prioritized" {
		t.Errorf("tags %v", f.Tags)
	}
	f, _ = ubuntu.Parse(sample(t, "empty_status_upstream"))
	if f.Candidate != "CVE-2007-0255" || len(f.Statuses) != 7 || f.Statuses[6].Status != "" {
		t.Errorf("%+v", f.Statuses)
	}
	for _, bad := range []string{"", "Candidate: nope\n", "Candidate: CVE-2024-1234\nthis line has no key\n"} {
		if _, err := ubuntu.Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// mirror copies the samples into active/, adds a malformed file and a retired one.
func mirror(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "active"), 0o755)
	os.MkdirAll(filepath.Join(dir, "retired"), 0o755)
	ents, _ := os.ReadDir(filepath.Join("testdata", "tracker", "active"))
	for _, e := range ents {
		os.WriteFile(filepath.Join(dir, "active", e.Name()), sample(t, e.Name()), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "active", "CVE-2099-0001"), []byte("Candidate: CVE-2099-0001\ngarbage without a colon\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "active", "00boilerplate"), []byte("Candidate:\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "retired", "CVE-2099-0002"), []byte("Candidate: CVE-2099-0002\nPriority: critical\n\njammy_openssl: released (3.0.2-0ubuntu1.99)\n"), 0o644)
	return dir
}

func mapped(t *testing.T, st *sqlitestore.Store) map[string]*advisory.Advisory {
	t.Helper()
	out := map[string]*advisory.Advisory{}
	for r, err := range st.MappedBySource(context.Background(), ubuntu.SourceID) {
		if err != nil {
			t.Fatal(err)
		}
		var a advisory.Advisory
		if err := json.Unmarshal(r.JSON, &a); err != nil {
			t.Fatal(err)
		}
		out[r.ID] = &a
	}
	return out
}

func TestMirrorStages(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	dir := mirror(t)
	c, err := ubuntu.New(st, ubuntu.Config{Mirror: dir})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := c.Fetch(ctx, ubuntu.ModeCursor)
	if err != nil || fs.Files != 12 || fs.Created != 12 {
		t.Fatalf("fetch %+v %v", fs, err)
	}
	ps, err := c.Parse(ctx)
	if err != nil || ps.Documents != 12 || ps.Failed != 1 || !strings.HasSuffix(ps.Errors[0].Document, "/active/CVE-2099-0001") ||
		!strings.Contains(ps.Errors[0].Reason, "line 2") {
		t.Fatalf("parse %+v %v", ps, err)
	}
	failed, _ := st.ListDocuments(ctx, ubuntu.SourceID, store.StatusFailed)
	if len(failed) != 1 || failed[0].Error == "" {
		t.Errorf("failed: %+v", failed)
	}
	ms, err := c.Map(ctx)
	if err != nil || ms.OK != 11 {
		t.Fatalf("map %+v %v", ms, err)
	}
	t.Logf("map: %+v", ms)
	got := mapped(t, st)
	if len(got) != 11 {
		t.Fatalf("%d mapped", len(got))
	}
	a := got["retired/CVE-2099-0002"]
	if a == nil || a.ID != "CVE-2099-0002" || len(a.Affected) != 1 || a.Affected[0].Distro != "ubuntu:22.04" ||
		a.Affected[0].Severity.Level != advisory.LevelCritical {
		t.Errorf("retired: %+v", a)
	}

	// Nothing changed: every document unchanged, parse has nothing.
	fs2, _ := c.Fetch(ctx, ubuntu.ModeCursor)
	if fs2.Unchanged != 12 || fs2.Created+fs2.Replaced != 0 {
		t.Errorf("second fetch %+v", fs2)
	}
	if ps, _ := c.Parse(ctx); ps.Documents != 0 {
		t.Errorf("second parse: %+v", ps)
	}
	// The file leaves the mirror (the CVE was moved or withdrawn): its record goes.
	os.Remove(filepath.Join(dir, "retired", "CVE-2099-0002"))
	fs3, err := c.Fetch(ctx, ubuntu.ModeCursor)
	if err != nil || fs3.Removed != 1 {
		t.Errorf("after removal %+v %v", fs3, err)
	}
	if _, ok := mapped(t, st)["retired/CVE-2099-0002"]; ok {
		t.Error("removed file still mapped")
	}
	if fs, _ := c.Fetch(ctx, ubuntu.ModeResume); fs.Files != 0 {
		t.Errorf("resume fetched %+v", fs)
	}
}

func TestHTTPConditional(t *testing.T) {
	ctx := context.Background()
	body := sample(t, "multiple_upstreams")
	var full, notModified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/plain/active/CVE-2020-0556" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("If-Modified-Since") == "Tue, 10 Mar 2020 00:00:00 GMT" {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("Last-Modified", "Tue, 10 Mar 2020 00:00:00 GMT")
		w.Write(body)
	}))
	defer srv.Close()
	st := openStore(t)
	c, err := ubuntu.New(st, ubuntu.Config{BaseURL: srv.URL + "/plain", Files: []string{"active/CVE-2020-0556"}})
	if err != nil {
		t.Fatal(err)
	}
	s1, err := c.Fetch(ctx, ubuntu.ModeCursor)
	if err != nil || s1.Created != 1 {
		t.Fatalf("first %+v %v", s1, err)
	}
	s2, err := c.Fetch(ctx, ubuntu.ModeCursor)
	if err != nil || s2.NotModified != 1 || full.Load() != 1 || notModified.Load() != 1 {
		t.Errorf("second %+v %v (%d full, %d 304)", s2, err, full.Load(), notModified.Load())
	}
	if _, err := c.Parse(ctx); err != nil {
		t.Fatal(err)
	}
	if ms, err := c.Map(ctx); err != nil || ms.OK != 1 {
		t.Errorf("map %+v %v", ms, err)
	}
	if a := mapped(t, st)["active/CVE-2020-0556"]; a == nil || len(a.Affected) != 4 {
		t.Errorf("mapped %+v", a)
	}
	if _, err := c.Fetch(ctx, ubuntu.ModeInit); err != nil || full.Load() != 2 {
		t.Errorf("init: %v, %d full", err, full.Load())
	}
	bad, _ := ubuntu.New(st, ubuntu.Config{BaseURL: srv.URL + "/plain", Files: []string{"active/CVE-1999-0001"}})
	if _, err := bad.Fetch(ctx, ubuntu.ModeCursor); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParseTracker(f *testing.F) {
	ents, _ := os.ReadDir(filepath.Join("testdata", "tracker", "active"))
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join("testdata", "tracker", "active", e.Name()))
		f.Add(b)
	}
	f.Add([]byte("Candidate: CVE-2024-1234\njammy_x:released (1)\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ubuntu.Parse(b)
		if err != nil {
			return
		}
		a, st := ubuntu.Map(p, "active/x", "sha256:x")
		if a.ID != p.Candidate || st.Kept < len(a.Affected) {
			t.Fatalf("id %q kept %d affected %d", a.ID, st.Kept, len(a.Affected))
		}
		for _, af := range a.Affected {
			if !strings.HasPrefix(af.Distro, "ubuntu:") || af.Package == "" || af.Status == "" {
				t.Fatalf("bad affected %+v", af)
			}
		}
	})
}
