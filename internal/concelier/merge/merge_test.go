package merge_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/bundled"
	"github.com/stellaops/stellaops/internal/concelier/connector/kev"
	"github.com/stellaops/stellaops/internal/concelier/connector/osv"
	"github.com/stellaops/stellaops/internal/concelier/merge"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/sqlitestore"
	"github.com/stellaops/stellaops/internal/inventory"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func rec(key, source, id string, aliases []string, summary string, mod func(*advisory.Advisory)) merge.Input {
	a := &advisory.Advisory{ID: id, Aliases: aliases, Summary: summary,
		Affected: []advisory.Affected{{Ecosystem: inventory.EcosystemPyPI, Package: strings.ToLower(key), Source: source,
			Ranges: []advisory.Range{{Type: advisory.RangeEcosystem, Events: []advisory.Event{{Introduced: "0"}, {Fixed: "1.0"}}}}}},
		Sources: []advisory.Provenance{{Source: source, Document: key}}}
	if mod != nil {
		mod(a)
	}
	return merge.Input{Key: key, Source: source, Advisory: a, Digest: "sha256:" + key}
}

func TestPrecedenceAndEvents(t *testing.T) {
	inputs := []merge.Input{
		rec("pysec", "osv:PyPI", "CVE-2024-1", []string{"PYSEC-2024-1", "GHSA-aaaa-bbbb-cccc"}, "from PyPI", nil),
		rec("alsa", "osv:AlmaLinux", "ALSA-2024:1", []string{"CVE-2024-1"}, "from AlmaLinux", func(a *advisory.Advisory) {
			a.Affected[0] = advisory.Affected{Ecosystem: inventory.EcosystemRPM, Distro: "almalinux:9", Package: "python3", Source: "osv:AlmaLinux",
				Ranges: []advisory.Range{{Type: advisory.RangeEcosystem, Events: []advisory.Event{{Introduced: "0"}, {Fixed: "3.9.18-1.el9"}}}}}
		}),
		rec("ghsa", "osv:GHSA", "GHSA-aaaa-bbbb-cccc", nil, "", func(a *advisory.Advisory) { a.Details = "long text" }),
		rec("kev", "kev", "CVE-2024-1", nil, "kev's words", func(a *advisory.Advisory) { a.KnownExploited = true }),
		rec("kev-only", "kev", "CVE-2024-9", nil, "only KEV knows", func(a *advisory.Advisory) { a.KnownExploited = true }),
		rec("nvd", "nvd", "CVE-2024-1", nil, "from NVD", func(a *advisory.Advisory) { a.CWEs = []string{"CWE-79"} }),
	}
	res, err := merge.Merge(context.Background(), inputs, merge.DefaultPrecedence(), "run-1", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Advisories) != 1 {
		t.Fatalf("%d advisories: %v (a KEV-only record must not create one)", len(res.Advisories), ids(res.Advisories))
	}
	a := res.Advisories[0]
	if a.ID != "CVE-2024-1" || !slices.Equal(a.Aliases, []string{"ALSA-2024:1", "GHSA-aaaa-bbbb-cccc", "PYSEC-2024-1"}) {
		t.Errorf("identity: %s %v", a.ID, a.Aliases)
	}
	if a.Summary != "from AlmaLinux" || a.Details != "long text" || !a.KnownExploited || !slices.Equal(a.CWEs, []string{"CWE-79"}) {
		t.Errorf("fields: %q %q kev=%v cwe=%v", a.Summary, a.Details, a.KnownExploited, a.CWEs)
	}
	// Every source's package statements are kept; KEV adds none.
	var srcs []string
	for _, af := range a.Affected {
		srcs = append(srcs, af.Source)
	}
	slices.Sort(srcs)
	if !slices.Equal(srcs, []string{"nvd", "osv:AlmaLinux", "osv:GHSA", "osv:PyPI"}) {
		t.Errorf("affected from %v", srcs)
	}
	var got []string
	for _, e := range res.Events {
		got = append(got, e.Field+": "+e.WinnerSource+" over "+e.LoserSource+" ("+e.Reason+")")
		if e.RunID != "run-1" || !e.At.Equal(now) || e.DigestBefore == "" || e.DigestAfter == "" {
			t.Errorf("event %+v", e)
		}
	}
	want := []string{
		"summary: osv:AlmaLinux over osv:PyPI (precedence: distro > osv)",
		"summary: osv:AlmaLinux over nvd (precedence: distro > nvd)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The same records in any order give the same advisory and events.
	for range 5 {
		shuffled := slices.Clone(inputs)
		rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		r2, err := merge.Merge(context.Background(), shuffled, merge.DefaultPrecedence(), "run-1", now)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r2.Advisories, res.Advisories) || !reflect.DeepEqual(r2.Events, res.Events) {
			t.Fatal("merge depends on input order")
		}
	}
}

// A record that names two CVEs does not weld them into one advisory.
func TestMultiCVERecord(t *testing.T) {
	inputs := []merge.Input{
		rec("a", "osv:PyPI", "CVE-2024-1", nil, "one", nil),
		rec("b", "osv:PyPI", "CVE-2024-2", nil, "two", nil),
		rec("c", "osv:GHSA", "GHSA-xxxx-yyyy-zzzz", []string{"CVE-2024-1", "CVE-2024-2"}, "both", nil),
	}
	res, err := merge.Merge(context.Background(), inputs, merge.DefaultPrecedence(), "r", now)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(res.Advisories); !slices.Equal(got, []string{"CVE-2024-1", "CVE-2024-2", "GHSA-xxxx-yyyy-zzzz"}) {
		t.Errorf("advisories %v", got)
	}
	if len(res.Conflicts) == 0 || res.Conflicts[0].Field != "id" {
		t.Errorf("conflicts %v", res.Conflicts)
	}
}

// The shape of RUSTSEC-2021-0110 in the real data: one record names three CVEs and each CVE's
// GHSA; three PyPI records each name one CVE and its GHSA. Through the shared GHSA IDs the
// multi-CVE record used to weld the three CVEs into one advisory (CVE-2021-39218 ended up an alias
// of CVE-2021-39216). Each CVE stays its own advisory; two copies of the multi-CVE record (the
// same CVE set) still become one.
func TestMultiCVERecordDoesNotWeldThroughAliases(t *testing.T) {
	inputs := []merge.Input{
		rec("rs", "osv:crates.io", "RUSTSEC-2021-0110", []string{"CVE-2021-39216", "CVE-2021-39218", "CVE-2021-39219", "GHSA-1", "GHSA-2", "GHSA-3"}, "wasmtime", nil),
		rec("p1", "osv:PyPI", "PYSEC-2021-320", []string{"CVE-2021-39216", "GHSA-1"}, "one", nil),
		rec("p2", "osv:PyPI", "PYSEC-2021-321", []string{"CVE-2021-39218", "GHSA-2"}, "two", nil),
		rec("p3", "osv:PyPI", "PYSEC-2021-322", []string{"CVE-2021-39219", "GHSA-3"}, "three", nil),
		rec("g", "osv:GHSA", "GHSA-multi", []string{"CVE-2021-39219", "CVE-2021-39218", "CVE-2021-39216"}, "copy", nil),
	}
	res, err := merge.Merge(context.Background(), inputs, merge.DefaultPrecedence(), "r", now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CVE-2021-39216", "CVE-2021-39218", "CVE-2021-39219", "GHSA-multi"}
	if got := ids(res.Advisories); !slices.Equal(got, want) {
		t.Fatalf("advisories %v, want %v", got, want)
	}
	for _, a := range res.Advisories[:3] {
		for _, al := range a.Aliases {
			if strings.HasPrefix(al, "CVE-") {
				t.Errorf("%s has CVE alias %s: two vulnerabilities welded", a.ID, al)
			}
		}
	}
	if m := res.Advisories[3]; !slices.Contains(m.Aliases, "RUSTSEC-2021-0110") {
		t.Errorf("the two copies of the multi-CVE record did not join: %+v", m)
	}
}

func ids(advs []*advisory.Advisory) []string {
	var out []string
	for _, a := range advs {
		out = append(out, a.ID)
	}
	return out
}

// The whole pipeline on the real bundled data: five OSV archives from a mirror, fetched, parsed,
// mapped into SQLite and reconciled; published atomically; a second run over the same data gives
// the same merged set.
func TestReconcileBundled(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 14k records")
	}
	ctx := context.Background()
	mirror := t.TempDir()
	for _, src := range bundled.OSVSources {
		b, err := fs.ReadFile(bundled.OSV(), src.Path)
		if err != nil {
			t.Fatal(err)
		}
		eco := strings.TrimPrefix(src.Name, "osv:")
		os.MkdirAll(filepath.Join(mirror, eco), 0o755)
		os.WriteFile(filepath.Join(mirror, eco, "all.zip"), b, 0o644)
	}
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "c.db"), store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := osv.New(st, osv.Config{Mirror: mirror, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fst, err := c.Fetch(ctx, osv.ModeInit)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parse(ctx); err != nil {
		t.Fatal(err)
	}
	mst, err := c.Map(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// KEV, an enrichment source: CVE-2021-4034 (pwnkit) is fixed by AlmaLinux 8's ALSA-2022:0267;
	// CVE-2021-44228 (log4j) and CVE-2023-44487 are named by no bundled record's IDs.
	k, err := kev.New(st, kev.Config{Mirror: "../connector/kev/testdata/known_exploited_vulnerabilities.json", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	k.Fetch(ctx, "init")
	k.Parse(ctx)
	if ks, err := k.Map(ctx); err != nil || ks.Entries != 3 {
		t.Fatalf("kev: %+v %v", ks, err)
	}
	res, err := merge.Reconcile(ctx, st, []string{kev.SourceID, osv.SourceID}, merge.DefaultPrecedence(), "run-1", func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*advisory.Advisory{}
	for _, a := range res.Advisories {
		byID[a.ID] = a
	}
	if a := byID["ALSA-2022:0267"]; a == nil || !a.KnownExploited || len(a.Affected) == 0 || a.Summary == "Red Hat Polkit Out-of-Bounds Read and Write Vulnerability" {
		t.Errorf("ALSA-2022:0267 after KEV enrichment: %+v", a)
	}
	exploited := 0
	for _, a := range res.Advisories {
		if a.KnownExploited {
			exploited++
		}
	}
	if exploited == 0 {
		t.Error("no advisory marked exploited")
	}
	if byID["CVE-2021-44228"] != nil || byID["CVE-2023-44487"] != nil || byID["CVE-2021-4034"] != nil {
		t.Error("a CVE only KEV lists became an advisory")
	}
	t.Logf("ingest+merge of %d records: %v; %d advisories, %d events, %d conflicts; per source %v",
		fst.Records, time.Since(start).Round(time.Millisecond), len(res.Advisories), len(res.Events), len(res.Conflicts), res.PerSource)
	if fst.Records != 13970 || mst.OK != 13970 {
		t.Errorf("records: fetched %d, mapped %d", fst.Records, mst.OK)
	}
	n, err := st.CountMerged(ctx)
	if err != nil || n != len(res.Advisories) || n < 13000 {
		t.Errorf("merged set: %d stored, %d merged (%v)", n, len(res.Advisories), err)
	}
	var runc *advisory.Advisory
	for _, a := range res.Advisories {
		if a.ID == "CVE-2021-43784" {
			runc = a
		}
	}
	if runc == nil || !slices.Contains(runc.Aliases, "GO-2022-0274") || !slices.Contains(runc.Aliases, "GHSA-v95c-p5hm-xq8f") {
		t.Fatalf("CVE-2021-43784: %+v", runc)
	}
	// Run again on the same mapped data: the same set, byte for byte.
	first := mergedJSON(t, st)
	if _, err := merge.Reconcile(ctx, st, []string{kev.SourceID, osv.SourceID}, merge.DefaultPrecedence(), "run-2", func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	if second := mergedJSON(t, st); !slices.Equal(first, second) {
		t.Error("a second merge of the same data gave a different set")
	}
}

func mergedJSON(t *testing.T, st *sqlitestore.Store) []string {
	t.Helper()
	var out []string
	for r, err := range st.MergedAll(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		var a advisory.Advisory
		if err := json.Unmarshal(r.JSON, &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, r.ID+" "+r.Digest)
	}
	return out
}
