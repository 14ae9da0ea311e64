package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

func mapped(t *testing.T, s store.Store, source string) []store.MappedRecord {
	t.Helper()
	var out []store.MappedRecord
	for r, err := range s.MappedBySource(context.Background(), source) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func merged(t *testing.T, s store.Store) []store.MergedRecord {
	t.Helper()
	var out []store.MergedRecord
	for r, err := range s.MergedAll(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// asMapped gives records of recs as mapped from uri, and the same sorted by ID (what the
// iteration must yield).
func asMapped(source, uri string, recs []store.Encoded) (in, sorted []store.MappedRecord) {
	for _, r := range recs {
		in = append(in, store.MappedRecord{Source: source, DocumentURI: uri, Encoded: r})
	}
	sorted = slices.Clone(in)
	slices.SortFunc(sorted, func(a, b store.MappedRecord) int { return cmpString(a.ID, b.ID) })
	return in, sorted
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func upsert(t *testing.T, s store.Store, recs []store.MappedRecord) {
	t.Helper()
	if err := s.UpsertMapped(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

func testMappedRoundTrip(t *testing.T, e *env) {
	put(t, e.s, doc("osv:crates.io", "a.zip", "a", e.clock.Now()), store.Created)
	put(t, e.s, doc("osv:crates.io", "b.zip", "b", e.clock.Now()), store.Created)
	inA, _ := asMapped("osv:crates.io", "a.zip", e.fx.small[:150])
	inB, _ := asMapped("osv:crates.io", "b.zip", e.fx.small[150:])
	all := append(slices.Clone(inA), inB...)
	upsert(t, e.s, all)
	want := slices.Clone(all)
	slices.SortFunc(want, func(a, b store.MappedRecord) int { return cmpString(a.ID, b.ID) })
	got := mapped(t, e.s, "osv:crates.io")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("mapped records (-want +got):\n%s", diff)
	}
	if a := decode(t, got[0].JSON); a.ID != got[0].ID || len(a.Sources) == 0 {
		t.Errorf("decoded %s: %+v", got[0].ID, a)
	}
	if n := len(mapped(t, e.s, "osv:Go")); n != 0 {
		t.Errorf("another source has %d records", n)
	}
	// Breaking out of the iteration early is fine and leaves the store usable.
	for range e.s.MappedBySource(context.Background(), "osv:crates.io") {
		break
	}
	if n := len(mapped(t, e.s, "osv:crates.io")); n != len(all) {
		t.Errorf("after early break: %d records, want %d", n, len(all))
	}
}

func testMappedUpsertReplaces(t *testing.T, e *env) {
	put(t, e.s, doc("osv:crates.io", "a.zip", "a", e.clock.Now()), store.Created)
	put(t, e.s, doc("osv:crates.io", "b.zip", "b", e.clock.Now()), store.Created)
	in, _ := asMapped("osv:crates.io", "a.zip", e.fx.small[:10])
	upsert(t, e.s, in)
	// Record 3 now comes from b.zip with other content (record 20's bytes); the digest is left
	// for the store to fill in. Within one call the later of two records wins.
	changed := store.MappedRecord{Source: "osv:crates.io", DocumentURI: "b.zip",
		Encoded: store.Encoded{ID: in[3].ID, JSON: e.fx.small[20].JSON}}
	first := changed
	first.JSON = e.fx.small[21].JSON
	upsert(t, e.s, []store.MappedRecord{first, changed})
	got := mapped(t, e.s, "osv:crates.io")
	if len(got) != 10 {
		t.Fatalf("%d records, want 10", len(got))
	}
	i := slices.IndexFunc(got, func(r store.MappedRecord) bool { return r.ID == in[3].ID })
	want := changed
	want.Digest = e.fx.small[20].Digest
	if diff := cmp.Diff(want, got[i]); diff != "" {
		t.Errorf("replaced record (-want +got):\n%s", diff)
	}
	// A digest that does not match the bytes is refused.
	bad := in[4]
	bad.JSON = e.fx.small[22].JSON
	if err := e.s.UpsertMapped(context.Background(), []store.MappedRecord{bad}); err == nil {
		t.Error("a record whose digest does not match its bytes was stored")
	}
}

func testMappedAtomic(t *testing.T, e *env) {
	put(t, e.s, doc("osv:crates.io", "a.zip", "a", e.clock.Now()), store.Created)
	in, _ := asMapped("osv:crates.io", "a.zip", e.fx.small[:100])
	upsert(t, e.s, in[:50])
	before := mapped(t, e.s, "osv:crates.io")
	cases := map[string][]store.MappedRecord{
		// The last record names a document that was never stored.
		"unknown document": append(slices.Clone(in[50:]), store.MappedRecord{Source: "osv:crates.io",
			DocumentURI: "missing.zip", Encoded: e.fx.small[200]}),
		"empty id": append(slices.Clone(in[50:]), store.MappedRecord{Source: "osv:crates.io", DocumentURI: "a.zip",
			Encoded: store.Encoded{JSON: []byte(`{}`)}}),
	}
	for name, recs := range cases {
		if err := e.s.UpsertMapped(context.Background(), recs); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if diff := cmp.Diff(before, mapped(t, e.s, "osv:crates.io")); diff != "" {
			t.Errorf("%s: a failed upsert changed the records (-want +got):\n%s", name, diff)
		}
	}
}

func testMappedDelete(t *testing.T, e *env) {
	ctx := context.Background()
	put(t, e.s, doc("osv:crates.io", "a.zip", "a", e.clock.Now()), store.Created)
	put(t, e.s, doc("osv:crates.io", "b.zip", "b", e.clock.Now()), store.Created)
	put(t, e.s, doc("osv:Go", "a.zip", "a", e.clock.Now()), store.Created)
	inA, _ := asMapped("osv:crates.io", "a.zip", e.fx.small[:40])
	inB, wantB := asMapped("osv:crates.io", "b.zip", e.fx.small[40:100])
	inGo, wantGo := asMapped("osv:Go", "a.zip", e.fx.small[:40])
	upsert(t, e.s, append(append(inA, inB...), inGo...))
	n, err := e.s.DeleteMappedByDocument(ctx, "osv:crates.io", "a.zip")
	if err != nil || n != 40 {
		t.Fatalf("delete: %d, %v; want 40", n, err)
	}
	if diff := cmp.Diff(wantB, mapped(t, e.s, "osv:crates.io")); diff != "" {
		t.Errorf("left in source (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantGo, mapped(t, e.s, "osv:Go")); diff != "" {
		t.Errorf("same uri in another source (-want +got):\n%s", diff)
	}
	if n, err := e.s.DeleteMappedByDocument(ctx, "osv:crates.io", "a.zip"); err != nil || n != 0 {
		t.Errorf("second delete: %d, %v; want 0", n, err)
	}
}

// Writes while an iteration is open must not block (SQLite's single writer, a small pool).
func testIterateWhileWriting(t *testing.T, e *env) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	put(t, e.s, doc("osv:crates.io", "a.zip", "a", e.clock.Now()), store.Created)
	in, _ := asMapped("osv:crates.io", "a.zip", e.fx.small[:20])
	upsert(t, e.s, in)
	if err := e.s.ReplaceMerged(ctx, "r1", e.fx.small[:20], nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	for r, err := range e.s.MappedBySource(ctx, "osv:crates.io") {
		if err != nil {
			t.Fatal(err)
		}
		for m, err := range e.s.MergedAll(ctx) {
			if err != nil || m.ID == "" {
				t.Fatal(err)
			}
			break
		}
		// What a merge does: read a source, write the verdict.
		if err := e.s.AppendMergeEvents(ctx, []store.MergeEvent{{AdvisoryID: r.ID, Field: "summary", RunID: "r2"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.DeleteMappedByDocument(ctx, "osv:crates.io", "none"); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 20 || ctx.Err() != nil {
		t.Errorf("iterated %d of 20 (%v)", n, ctx.Err())
	}
}

func testMergedReplace(t *testing.T, e *env) {
	ctx := context.Background()
	if n, err := e.s.CountMerged(ctx); err != nil || n != 0 {
		t.Fatalf("empty store: count %d, %v", n, err)
	}
	setA, setB := e.fx.small[:200], e.fx.small[150:]
	for _, step := range []struct {
		run string
		set []store.Encoded
	}{{"run-1", setA}, {"run-2", setB}, {"run-3", nil}, {"run-4", setA}} {
		if err := e.s.ReplaceMerged(ctx, step.run, step.set, nil); err != nil {
			t.Fatalf("%s: %v", step.run, err)
		}
		var want []store.MergedRecord
		for _, r := range step.set {
			want = append(want, store.MergedRecord{RunID: step.run, Encoded: r})
		}
		slices.SortFunc(want, func(a, b store.MergedRecord) int { return cmpString(a.ID, b.ID) })
		if diff := cmp.Diff(want, merged(t, e.s)); diff != "" {
			t.Errorf("%s: merged set (-want +got):\n%s", step.run, diff)
		}
		if n, err := e.s.CountMerged(ctx); err != nil || n != len(step.set) {
			t.Errorf("%s: count %d, %v; want %d", step.run, n, err, len(step.set))
		}
	}
}

func testMergedFailedReplace(t *testing.T, e *env) {
	setA := e.fx.small[:100]
	ev := store.MergeEvent{AdvisoryID: setA[0].ID, Field: "affected", WinnerSource: "osv:crates.io", Reason: "precedence", RunID: "good"}
	if err := e.s.ReplaceMerged(context.Background(), "good", setA, []store.MergeEvent{ev}); err != nil {
		t.Fatal(err)
	}
	want := merged(t, e.s)
	next := slices.Clone(e.fx.small[100:300])
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	badDigest := next[199]
	badDigest.Digest = setA[0].Digest
	cases := []struct {
		name     string
		ctx      context.Context
		recs     []store.Encoded
		conflict bool
	}{
		{"duplicate id last", context.Background(), append(slices.Clone(next), next[3]), true},
		{"empty id last", context.Background(), append(slices.Clone(next), store.Encoded{JSON: []byte(`{}`)}), false},
		{"digest mismatch last", context.Background(), append(slices.Clone(next[:199]), badDigest), false},
		{"cancelled mid-way", newTripCtx(60), next, false},
		{"cancelled before", cancelled, next, false},
	}
	for _, tc := range cases {
		evs := []store.MergeEvent{{AdvisoryID: setA[0].ID, Field: "summary", RunID: "bad"}}
		err := e.s.ReplaceMerged(tc.ctx, "bad", tc.recs, evs)
		if err == nil {
			t.Errorf("%s: replace succeeded", tc.name)
			continue
		}
		if tc.conflict && !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: err %v, want ErrConflict", tc.name, err)
		}
		if diff := cmp.Diff(want, merged(t, e.s)); diff != "" {
			t.Errorf("%s: previous set changed (-want +got):\n%s", tc.name, diff)
		}
		if n, err := e.s.CountMerged(context.Background()); err != nil || n != len(setA) {
			t.Errorf("%s: count %d, %v; want %d", tc.name, n, err, len(setA))
		}
	}
	evs, err := e.s.MergeEvents(context.Background(), setA[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].RunID != "good" {
		t.Errorf("events of failed runs were kept: %+v", evs)
	}
}

func testMergeEvents(t *testing.T, e *env) {
	ctx := context.Background()
	a, b := e.fx.small[0], e.fx.small[1]
	explicit := time.Date(2026, 1, 2, 3, 4, 5, 6007, time.UTC)
	first := []store.MergeEvent{
		{AdvisoryID: a.ID, Field: "affected", WinnerSource: "debian", LoserSource: "osv:crates.io", Reason: "precedence",
			DigestBefore: a.Digest, DigestAfter: b.Digest, RunID: "run-1"},
		{AdvisoryID: b.ID, Field: "summary", WinnerSource: "osv:crates.io", LoserSource: "nvd", Reason: "freshness", RunID: "run-1"},
		{AdvisoryID: a.ID, Field: "severity", WinnerSource: "nvd", LoserSource: "osv:crates.io", Reason: "tie-breaker",
			At: explicit, RunID: "run-1"},
	}
	if err := e.s.ReplaceMerged(ctx, "run-1", e.fx.small[:2], first); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	second := []store.MergeEvent{{AdvisoryID: a.ID, Field: "affected", WinnerSource: "debian", LoserSource: "ubuntu",
		Reason: "precedence", DigestBefore: b.Digest, DigestAfter: a.Digest, RunID: "run-2"}}
	if err := e.s.AppendMergeEvents(ctx, second); err != nil {
		t.Fatal(err)
	}
	want := []store.MergeEvent{first[0], first[2], second[0]}
	want[0].At = store.Timestamp(e.clock.Now().Add(-time.Minute))
	want[1].At = store.Timestamp(explicit)
	want[2].At = store.Timestamp(e.clock.Now())
	got, err := e.s.MergeEvents(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events of %s (-want +got):\n%s", a.ID, diff)
	}
	if got, err := e.s.MergeEvents(ctx, "CVE-0000-0000"); err != nil || len(got) != 0 {
		t.Errorf("unknown advisory: %v, %v", got, err)
	}
	if err := e.s.AppendMergeEvents(ctx, []store.MergeEvent{{Field: "x"}}); err == nil {
		t.Error("an event without an advisory id was accepted")
	}
}
