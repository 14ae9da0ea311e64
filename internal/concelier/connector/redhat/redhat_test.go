package redhat_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/connector/redhat"
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
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// txtar splits a txtar archive into its files (the format is "-- name --" lines; the leading
// comment is dropped).
func txtar(t testing.TB, name string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var cur string
	for _, line := range strings.SplitAfter(string(read(t, filepath.Join("vex", name))), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			cur = strings.TrimSuffix(strings.TrimPrefix(trimmed, "-- "), " --")
			out[cur] = []byte{}
			continue
		}
		if cur != "" {
			out[cur] = append(out[cur], line...)
		}
	}
	return out
}

// TestFixedMatchesOSV checks the products the real RHSAs say they fix against the OSV
// conversion of the same advisories: same (stream, package, epoch:version-release) set.
func TestFixedMatchesOSV(t *testing.T) {
	for _, tc := range []struct{ csaf, osv string }{
		{"rhsa-2024_4546.csaf.json", "RHSA-2024_4546.osv.json"},
		{"rhsa-2024_6220.csaf.json.gz", "RHSA-2024_6220.osv.json.gz"},
	} {
		d, err := redhat.Parse(read(t, tc.csaf))
		if err != nil {
			t.Fatalf("%s: %v", tc.csaf, err)
		}
		var got []string
		for _, p := range redhat.FixedPackages(d) {
			// OSV writes the CPE as the ecosystem: "Red Hat:rhel_aus:8.6::appstream".
			got = append(got, "Red Hat:"+strings.TrimPrefix(p[0], "cpe:/a:redhat:")+" "+p[1]+" "+p[2])
		}
		var o struct {
			Affected []struct {
				Package struct{ Name, Ecosystem string }
				Ranges  []struct{ Events []map[string]string }
			}
		}
		if err := json.Unmarshal(read(t, tc.osv), &o); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, a := range o.Affected {
			want = append(want, a.Package.Ecosystem+" "+a.Package.Name+" "+a.Ranges[0].Events[1]["fixed"])
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d fixed products, OSV says %d\n got %v\nwant %v", tc.csaf, len(got), len(want), got[:min(5, len(got))], want[:min(5, len(want))])
		}
		t.Logf("%s: %d fixed (stream, package, version) triples agree with OSV", tc.csaf, len(got))
	}
}

// The real RHSAs cover only AUS/E4S/TUS streams: nothing maps, and 6220's packages are also
// module builds.
func TestMapExtendedStreamsSkipped(t *testing.T) {
	d, _ := redhat.Parse(read(t, "rhsa-2024_4546.csaf.json"))
	as, st := redhat.Map(d, "rhsa-2024_4546.json", "sha256:x")
	if len(as) != 1 || as[0].ID != "CVE-2023-45288" || len(as[0].Affected) != 0 || st.Kept != 0 || st.SkippedPlatform == 0 {
		t.Errorf("4546: %+v %+v", as, st)
	}
	if !slices.Equal(as[0].Related, []string{"RHSA-2024:4546"}) || len(as[0].Severities) != 1 || as[0].Severities[0].Score != 7.5 {
		t.Errorf("4546 related %v severities %+v", as[0].Related, as[0].Severities)
	}
	d, _ = redhat.Parse(read(t, "rhsa-2024_6220.csaf.json.gz"))
	as, st = redhat.Map(d, "rhsa-2024_6220.json", "sha256:x")
	if len(as) != 1 || as[0].ID != "CVE-2024-6345" || st.Kept != 0 {
		t.Errorf("6220: %+v", st)
	}
	t.Logf("4546 %+v", st)
}

func find(a *advisory.Advisory, release, pkg string) *advisory.Affected {
	key := advisory.DistroKey(inventory.Distro{ID: "rhel", VersionID: release})
	for i := range a.Affected {
		if a.Affected[i].Distro == key && a.Affected[i].Package == pkg {
			return &a.Affected[i]
		}
	}
	return nil
}

func TestMapMainline(t *testing.T) {
	d, err := redhat.Parse(read(t, "mainline-cve-2024-5535.json"))
	if err != nil {
		t.Fatal(err)
	}
	as, st := redhat.Map(d, "2024/cve-2024-5535.json", "sha256:x")
	if len(as) != 1 {
		t.Fatal(len(as))
	}
	a := as[0]
	for _, pkg := range []string{"openssl", "openssl-libs", "openssl-devel", "openssl-perl"} {
		af := find(a, "9", pkg)
		if af == nil || af.Status != advisory.StatusFixed || af.Ecosystem != inventory.EcosystemRPM || af.Source != "redhat-csaf" ||
			len(af.Ranges) != 1 || af.Ranges[0].Events[1].Fixed != "1:3.2.2-6.el9_5" || af.Severity.Level != advisory.LevelMedium {
			t.Errorf("rhel:9 %s: %+v", pkg, af)
		}
	}
	for _, c := range []struct {
		rel, pkg string
		want     advisory.Status
	}{{"8", "openssl", advisory.StatusFixDeferred}, {"7", "openssl098e", advisory.StatusWillNotFix},
		{"6", "compat-openssl10", advisory.StatusEndOfLife}, {"8", "compat-openssl10", advisory.StatusNotAffected}} {
		if af := find(a, c.rel, c.pkg); af == nil || af.Status != c.want || len(af.Ranges) != 0 {
			t.Errorf("rhel:%s %s: %+v, want %s", c.rel, c.pkg, af, c.want)
		}
	}
	if af := find(a, "7", "openssl098e"); af == nil || af.Severity.Level != advisory.LevelLow {
		t.Errorf("per-product impact: %+v", af)
	}
	if find(a, "9", "nodejs") != nil {
		t.Error("module build mapped")
	}
	// 4 rhel 9 fixes + 4 statuses; skipped: the src RPM, the EUS build, the module build.
	if len(a.Affected) != 8 || st.Kept != 8 || st.SkippedOther != 1 || st.SkippedPlatform != 1 || st.SkippedModule != 1 {
		t.Errorf("%d affected, %+v", len(a.Affected), st)
	}
	if a.Summary == "" || !slices.Equal(a.CWEs, []string{"CWE-200"}) || a.Published.IsZero() || a.Modified.IsZero() {
		t.Errorf("fields %+v", a)
	}
}

func TestParseRejects(t *testing.T) {
	bad := txtar(t, "invalid.txtar")["2024/cve-2024-0001.json"]
	if _, err := redhat.Parse(bad); err == nil {
		t.Error("invalid.txtar accepted")
	}
	for _, b := range []string{"", "{", `{"document":{"category":"csaf_vex","csaf_version":"2.0","tracking":{"id":"X"}},"vulnerabilities":[{"cve":"nope"}]}`} {
		if _, err := redhat.Parse([]byte(b)); err == nil {
			t.Errorf("accepted %q", b)
		}
	}
	// The first-run VEX is valid: RHEL 9 not affected, but a bare platform names no package.
	d, err := redhat.Parse(txtar(t, "first_run.txtar")["2024/cve-2024-0002.json"])
	if err != nil {
		t.Fatal(err)
	}
	if as, st := redhat.Map(d, "x", "y"); len(as) != 1 || len(as[0].Affected) != 0 || st.SkippedOther != 1 {
		t.Errorf("first run: %+v %+v", as, st)
	}
}

func mappedIDs(t *testing.T, st *sqlitestore.Store) []string {
	t.Helper()
	var ids []string
	for r, err := range st.MappedBySource(context.Background(), redhat.SourceID) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

// TestMirrorStages: a mirror of the feed (the real RHSAs, one gzipped, the mainline VEX, the
// vuln-list-update VEX files, one invalid) goes through fetch, parse and map; then deletions.csv
// removes a record.
func TestMirrorStages(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "2024"), 0o755)
	write := func(rel string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("2024/cve-2024-5535.json", read(t, "mainline-cve-2024-5535.json"))
	write("2024/rhsa-2024_4546.json", read(t, "rhsa-2024_4546.csaf.json"))
	raw, _ := os.ReadFile(filepath.Join("testdata", "rhsa-2024_6220.csaf.json.gz"))
	write("2024/rhsa-2024_6220.json.gz", raw)
	write("2024/cve-2024-0002.json", txtar(t, "first_run.txtar")["2024/cve-2024-0002.json"])
	write("2024/cve-2024-0003.json", txtar(t, "archive.txtar")["2024/cve-2024-0003.json"])
	write("2024/cve-2024-0001.json", txtar(t, "invalid.txtar")["2024/cve-2024-0001.json"])

	st := openStore(t)
	c, err := redhat.New(st, redhat.Config{Mirror: dir})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := c.Fetch(ctx, redhat.ModeCursor)
	if err != nil || fs.Files != 6 || fs.Created != 6 {
		t.Fatalf("fetch %+v %v", fs, err)
	}
	ps, err := c.Parse(ctx)
	if err != nil || ps.Documents != 6 || ps.Failed != 1 || !strings.HasSuffix(ps.Errors[0].Document, "/2024/cve-2024-0001.json") {
		t.Fatalf("parse %+v %v", ps, err)
	}
	if failed, _ := st.ListDocuments(ctx, redhat.SourceID, store.StatusFailed); len(failed) != 1 || !strings.Contains(failed[0].Error, "csaf_version") {
		t.Errorf("failed %+v", failed)
	}
	ms, err := c.Map(ctx)
	if err != nil || ms.OK != 5 || ms.Advisories != 4 || ms.Affected != 8 {
		t.Fatalf("map %+v %v", ms, err)
	}
	t.Logf("map: %+v", ms)
	want := []string{"2024/cve-2024-0002.json#CVE-2024-0002", "2024/cve-2024-5535.json#CVE-2024-5535",
		"2024/rhsa-2024_4546.json#CVE-2023-45288", "2024/rhsa-2024_6220.json#CVE-2024-6345"}
	if got := mappedIDs(t, st); !slices.Equal(got, want) {
		t.Errorf("mapped %v", got)
	}
	// Red Hat withdraws a file: deletions.csv (the real delta_deletions sample names 0001; add 0002).
	dels := string(txtar(t, "delta_deletions.txtar")["deletions.csv"]) + `"2024/cve-2024-0002.json","2025-12-10T10:00:00+00:00"` + "\n"
	write("deletions.csv", []byte(dels))
	fs2, err := c.Fetch(ctx, redhat.ModeCursor)
	if err != nil || fs2.Unchanged != 6 || fs2.Deleted != 1 {
		t.Errorf("second fetch %+v %v", fs2, err)
	}
	if got := mappedIDs(t, st); len(got) != 3 || slices.Contains(got, want[0]) {
		t.Errorf("after deletion %v", got)
	}
}

// TestHTTPDelta serves the feed: changes.csv is fetched conditionally; only files changed since
// the cursor are downloaded.
func TestHTTPDelta(t *testing.T) {
	ctx := context.Background()
	changes := txtar(t, "first_run.txtar")
	files := map[string][]byte{
		"/vex/2024/cve-2024-0002.json": changes["2024/cve-2024-0002.json"],
		"/vex/2024/cve-2024-5535.json": read(t, "mainline-cve-2024-5535.json"),
	}
	index := `"2024/cve-2024-5535.json","2024-11-12T10:00:00+00:00"` + "\n" + string(changes["changes.csv"])
	etag := `"c1"`
	var gets, notModified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/vex/changes.csv":
			if r.Header.Get("If-None-Match") == etag {
				notModified.Add(1)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", etag)
			io.WriteString(w, index)
		case "/vex/deletions.csv":
			w.Write(changes["deletions.csv"])
		default:
			b, ok := files[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			gets.Add(1)
			w.Write(b)
		}
	}))
	defer srv.Close()
	st := openStore(t)
	c, err := redhat.New(st, redhat.Config{BaseURL: srv.URL + "/vex"})
	if err != nil {
		t.Fatal(err)
	}
	s1, err := c.Fetch(ctx, redhat.ModeCursor)
	if err != nil || s1.Listed != 2 || s1.Files != 2 || s1.Created != 2 || gets.Load() != 2 {
		t.Fatalf("first %+v %v", s1, err)
	}
	s2, err := c.Fetch(ctx, redhat.ModeCursor)
	if err != nil || s2.NotModified != 1 || notModified.Load() != 1 || gets.Load() != 2 {
		t.Errorf("second %+v %v", s2, err)
	}
	// A new change to one file: only it is downloaded.
	etag = `"c2"`
	files["/vex/2024/cve-2024-0002.json"] = txtar(t, "delta_changes.txtar")["2024/cve-2024-0002.json"]
	index = `"2024/cve-2024-5535.json","2024-11-12T10:00:00+00:00"` + "\n" + `"2024/cve-2024-0002.json","2025-12-11T10:00:00+00:00"` + "\n"
	s3, err := c.Fetch(ctx, redhat.ModeCursor)
	if err != nil || s3.Files != 1 || s3.Replaced != 1 || gets.Load() != 3 {
		t.Errorf("delta %+v %v", s3, err)
	}
	if _, err := c.Parse(ctx); err != nil {
		t.Fatal(err)
	}
	if ms, err := c.Map(ctx); err != nil || ms.OK != 2 || ms.Affected != 8 {
		t.Errorf("map %+v %v", ms, err)
	}
	if s4, err := c.Fetch(ctx, redhat.ModeInit); err != nil || s4.Files != 2 || s4.Unchanged != 2 {
		t.Errorf("init %+v %v", s4, err)
	}
}

func FuzzParseCSAF(f *testing.F) {
	f.Add(read(f, "mainline-cve-2024-5535.json"))
	f.Add(read(f, "rhsa-2024_4546.csaf.json"))
	for _, name := range []string{"first_run.txtar", "invalid.txtar", "archive.txtar"} {
		for p, b := range txtar(f, name) {
			if strings.HasSuffix(p, ".json") {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := redhat.Parse(b)
		if err != nil {
			return
		}
		as, st := redhat.Map(d, "x", "sha256:x")
		if len(as) != len(d.Vulnerabilities) {
			t.Fatalf("%d advisories for %d vulnerabilities", len(as), len(d.Vulnerabilities))
		}
		n := 0
		for _, a := range as {
			n += len(a.Affected)
			for _, af := range a.Affected {
				if !strings.HasPrefix(af.Distro, "rhel:") || af.Package == "" || af.Status == "" {
					t.Fatalf("bad affected %+v", af)
				}
			}
		}
		if n > st.Kept {
			t.Fatalf("%d affected, %d kept", n, st.Kept)
		}
	})
}
