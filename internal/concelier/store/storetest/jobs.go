package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

func testJobRecords(t *testing.T, e *env) {
	ctx := context.Background()
	j, err := e.s.StartJob(ctx, store.Job{Kind: "source:osv:fetch", Trigger: "scheduler",
		Params: json.RawMessage(`{"since": "2026-11-01", "full": false}`)})
	if err != nil {
		t.Fatal(err)
	}
	want := store.Job{ID: j.ID, Kind: "source:osv:fetch", Trigger: "scheduler",
		Params: json.RawMessage(`{"full":false,"since":"2026-11-01"}`), StartedAt: store.Timestamp(e.clock.Now())}
	if j.ID == "" {
		t.Error("no id generated")
	}
	if diff := cmp.Diff(want, j); diff != "" {
		t.Errorf("started (-want +got):\n%s", diff)
	}
	got, err := e.s.GetJob(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored running job (-want +got):\n%s", diff)
	}
	e.clock.Advance(90 * time.Second)
	if err := e.s.FinishJob(ctx, j.ID, store.OutcomeFailed, json.RawMessage(`{"fetched": 12, "failed": 1}`), "osv: 503"); err != nil {
		t.Fatal(err)
	}
	want.FinishedAt, want.Outcome, want.Error = store.Timestamp(e.clock.Now()), store.OutcomeFailed, "osv: 503"
	want.Counts = json.RawMessage(`{"failed":1,"fetched":12}`)
	if got, err = e.s.GetJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("finished job (-want +got):\n%s", diff)
	}
	if err := e.s.FinishJob(ctx, j.ID, store.OutcomeSucceeded, nil, ""); !errors.Is(err, store.ErrConflict) {
		t.Errorf("finish twice: err %v, want ErrConflict", err)
	}
	if err := e.s.FinishJob(ctx, "nope", store.OutcomeSucceeded, nil, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("finish unknown: err %v, want ErrNotFound", err)
	}
	if _, err := e.s.GetJob(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get unknown: err %v, want ErrNotFound", err)
	}
	// Caller-chosen IDs, no params; a duplicate is a conflict, bad input is refused.
	own, err := e.s.StartJob(ctx, store.Job{ID: "run-7", Kind: "merge:reconcile", Trigger: "user:alice"})
	if err != nil || own.ID != "run-7" || own.Params != nil {
		t.Fatalf("own id: %+v, %v", own, err)
	}
	if err := e.s.FinishJob(ctx, "run-7", store.OutcomeCancelled, nil, ""); err != nil {
		t.Fatal(err)
	}
	if got, err := e.s.GetJob(ctx, "run-7"); err != nil || got.Counts != nil || got.Outcome != store.OutcomeCancelled {
		t.Errorf("cancelled job: %+v, %v", got, err)
	}
	if _, err := e.s.StartJob(ctx, store.Job{ID: "run-7", Kind: "merge:reconcile"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate id: err %v, want ErrConflict", err)
	}
	if _, err := e.s.StartJob(ctx, store.Job{Trigger: "x"}); err == nil {
		t.Error("a job without a kind was accepted")
	}
	if _, err := e.s.StartJob(ctx, store.Job{Kind: "k", Params: json.RawMessage(`{`)}); err == nil {
		t.Error("invalid params accepted")
	}
	j2, err := e.s.StartJob(ctx, store.Job{Kind: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.FinishJob(ctx, j2.ID, "done", nil, ""); err == nil {
		t.Error("an unknown outcome was accepted")
	}
}

func testListJobs(t *testing.T, e *env) {
	ctx := context.Background()
	var fetch, all []string
	for i := range 7 {
		kind := "source:osv:fetch"
		if i%3 == 2 {
			kind = "merge:reconcile"
		}
		j, err := e.s.StartJob(ctx, store.Job{ID: fmt.Sprintf("job-%d", i), Kind: kind, Trigger: "scheduler"})
		if err != nil {
			t.Fatal(err)
		}
		all = append([]string{j.ID}, all...) // newest first
		if kind == "source:osv:fetch" {
			fetch = append([]string{j.ID}, fetch...)
		}
		e.clock.Advance(time.Second)
	}
	ids := func(kind string, limit int) []string {
		js, err := e.s.ListJobs(ctx, kind, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, j := range js {
			out = append(out, j.ID)
		}
		return out
	}
	if diff := cmp.Diff(all, ids("", 100)); diff != "" {
		t.Errorf("all (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(fetch[:3], ids("source:osv:fetch", 3)); diff != "" {
		t.Errorf("fetch, limit 3 (-want +got):\n%s", diff)
	}
	if got := ids("source:nvd:fetch", 10); len(got) != 0 {
		t.Errorf("unknown kind: %v", got)
	}
}

func acquire(t *testing.T, s store.Store, kind, holder string, ttl time.Duration, want bool) {
	t.Helper()
	got, err := s.AcquireLock(context.Background(), kind, holder, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("AcquireLock(%s, %s) = %v, want %v", kind, holder, got, want)
	}
}

func testLockExclusive(t *testing.T, e *env) {
	ctx := context.Background()
	const kind = "source:osv:fetch"
	acquire(t, e.s, kind, "worker-a", time.Minute, true)
	acquire(t, e.s, kind, "worker-b", time.Minute, false)
	acquire(t, e.s, "merge:reconcile", "worker-b", time.Minute, true) // kinds are independent
	acquire(t, e.s, kind, "worker-a", time.Minute, true)              // renewal
	if err := e.s.ReleaseLock(ctx, kind, "worker-b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("release by non-holder: err %v, want ErrNotFound", err)
	}
	acquire(t, e.s, kind, "worker-b", time.Minute, false)
	if err := e.s.ReleaseLock(ctx, kind, "worker-a"); err != nil {
		t.Fatal(err)
	}
	acquire(t, e.s, kind, "worker-b", time.Minute, true)
	if _, err := e.s.AcquireLock(ctx, kind, "", time.Minute); err == nil {
		t.Error("an empty holder was accepted")
	}
	if _, err := e.s.AcquireLock(ctx, kind, "worker-c", 0); err == nil {
		t.Error("a zero ttl was accepted")
	}
}

func testLockExpiry(t *testing.T, e *env) {
	const kind = "merge:reconcile"
	acquire(t, e.s, kind, "dead", time.Minute, true)
	e.clock.Advance(59 * time.Second)
	acquire(t, e.s, kind, "live", time.Minute, false)
	// Renewal by the holder pushes the expiry out from now.
	acquire(t, e.s, kind, "dead", time.Minute, true)
	e.clock.Advance(59 * time.Second)
	acquire(t, e.s, kind, "live", time.Minute, false)
	e.clock.Advance(time.Second) // exactly at expiry: the lease is over
	acquire(t, e.s, kind, "live", 10*time.Minute, true)
	if err := e.s.ReleaseLock(context.Background(), kind, "dead"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("release by the expired holder: err %v, want ErrNotFound", err)
	}
	acquire(t, e.s, kind, "dead", time.Minute, false)
}

func testLockConcurrent(t *testing.T, e *env) {
	const workers = 12
	for round := range 5 {
		kind := fmt.Sprintf("source:k%d:fetch", round)
		var wg sync.WaitGroup
		results := make([]bool, workers)
		errs := make([]error, workers)
		start := make(chan struct{})
		for w := range workers {
			wg.Go(func() {
				<-start
				results[w], errs[w] = e.s.AcquireLock(context.Background(), kind, fmt.Sprintf("worker-%d", w), time.Minute)
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for w := range workers {
			if errs[w] != nil {
				t.Fatalf("worker %d: %v", w, errs[w])
			}
			if results[w] {
				won++
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d holders, want exactly 1", round, won)
		}
	}
}

func testReopen(t *testing.T, e *env) {
	ctx := context.Background()
	put(t, e.s, doc("osv:crates.io", "a.zip", "a", e.clock.Now()), store.Created)
	in, want := asMapped("osv:crates.io", "a.zip", e.fx.small[:50])
	upsert(t, e.s, in)
	if err := e.s.ReplaceMerged(ctx, "run-1", e.fx.small[:30], []store.MergeEvent{{AdvisoryID: in[0].ID, Field: "f", RunID: "run-1"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetCursor(ctx, "osv:crates.io", json.RawMessage(`{"page":2}`)); err != nil {
		t.Fatal(err)
	}
	j, err := e.s.StartJob(ctx, store.Job{Kind: "merge:reconcile", Trigger: "t"})
	if err != nil {
		t.Fatal(err)
	}
	acquire(t, e.s, "merge:reconcile", "holder", time.Hour, true)
	wantDoc := get(t, e.s, "osv:crates.io", "a.zip")
	wantMerged := merged(t, e.s)

	for range 2 { // migrations run again on every Open and must find nothing to do
		e.reopen(t)
		if diff := docDiff(wantDoc, get(t, e.s, "osv:crates.io", "a.zip")); diff != "" {
			t.Errorf("document (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, mapped(t, e.s, "osv:crates.io")); diff != "" {
			t.Errorf("mapped (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantMerged, merged(t, e.s)); diff != "" {
			t.Errorf("merged (-want +got):\n%s", diff)
		}
		if c, err := e.s.GetCursor(ctx, "osv:crates.io"); err != nil || string(c) != `{"page":2}` {
			t.Errorf("cursor %s, %v", c, err)
		}
		if got, err := e.s.GetJob(ctx, j.ID); err != nil || got.StartedAt != j.StartedAt {
			t.Errorf("job %+v, %v", got, err)
		}
		if evs, err := e.s.MergeEvents(ctx, in[0].ID); err != nil || len(evs) != 1 {
			t.Errorf("events %+v, %v", evs, err)
		}
		acquire(t, e.s, "merge:reconcile", "other", time.Hour, false)
	}
	// A reopened store is fully writable.
	put(t, e.s, doc("osv:crates.io", "b.zip", "b", e.clock.Now()), store.Created)
}

// testBulk ingests all bundled feeds (13,970 records) in one UpsertMapped and publishes them as
// the merged set; the timings are logged (the benchmarks measure them properly).
func testBulk(t *testing.T, e *env) {
	ctx := context.Background()
	recs := e.fx.bulkRecords(t)
	for _, f := range e.fx.feeds {
		d := f.Document
		d.FetchedAt = e.clock.Now()
		put(t, e.s, d, store.Created)
	}
	start := time.Now()
	if err := e.s.UpsertMapped(ctx, recs); err != nil {
		t.Fatal(err)
	}
	t.Logf("UpsertMapped of %d records: %v", len(recs), time.Since(start))
	// Sources repeat IDs (AlmaLinux errata of one CVE): the last record of each wins.
	var distinct []store.Encoded
	seen := map[string]bool{}
	total := 0
	for _, f := range e.fx.feeds {
		lastOf := map[string]store.Encoded{}
		for _, r := range recs {
			if r.Source == f.Source {
				lastOf[r.ID] = r.Encoded
			}
		}
		got := mapped(t, e.s, f.Source)
		if len(got) != len(lastOf) {
			t.Errorf("%s: %d records, want %d", f.Source, len(got), len(lastOf))
		}
		for i, r := range got {
			if i > 0 && got[i-1].ID >= r.ID {
				t.Fatalf("%s: %s after %s", f.Source, r.ID, got[i-1].ID)
			}
			if w := lastOf[r.ID]; w.Digest != r.Digest || string(w.JSON) != string(r.JSON) {
				t.Fatalf("%s %s: stored record differs", f.Source, r.ID)
			}
			if !seen[r.ID] {
				seen[r.ID] = true
				distinct = append(distinct, r.Encoded)
			}
		}
		total += len(got)
	}
	if total < 13000 {
		t.Errorf("only %d records stored", total)
	}
	start = time.Now()
	if err := e.s.ReplaceMerged(ctx, "bulk", distinct, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("ReplaceMerged of %d records: %v", len(distinct), time.Since(start))
	if n, err := e.s.CountMerged(ctx); err != nil || n != len(distinct) {
		t.Errorf("count %d, %v; want %d", n, err, len(distinct))
	}
	if diff := cmp.Diff(sortedIDs(distinct), mergedIDs(t, e.s)); diff != "" {
		t.Errorf("merged ids (-want +got):\n%s", diff)
	}
}

func mergedIDs(t *testing.T, s store.Store) []string {
	var out []string
	for _, r := range merged(t, s) {
		out = append(out, r.ID)
	}
	return out
}

// BenchmarkUpsert is BenchmarkUpsert14k for a backend: each iteration stores all bundled feeds'
// records (13,970, about 35 MB of canonical JSON) with one UpsertMapped into a store that already
// holds them (the steady state of a re-import). Encoding is done once, outside the timer.
func BenchmarkUpsert(b *testing.B, open func(b *testing.B) store.Store) {
	feeds := LoadBundled(b)
	recs := MappedRecords(b, feeds)
	s := open(b)
	ctx := context.Background()
	for _, f := range feeds {
		if _, err := s.PutDocument(ctx, f.Document); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(totalBytes(recs)))
	b.ResetTimer()
	for b.Loop() {
		if err := s.UpsertMapped(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplaceMerged publishes the distinct bundled records as the merged set per iteration.
func BenchmarkReplaceMerged(b *testing.B, open func(b *testing.B) store.Store) {
	recs := MappedRecords(b, LoadBundled(b))
	seen := map[string]bool{}
	var set []store.Encoded
	for _, r := range recs {
		if !seen[r.ID] {
			seen[r.ID] = true
			set = append(set, r.Encoded)
		}
	}
	s := open(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if err := s.ReplaceMerged(ctx, "bench", set, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func totalBytes(recs []store.MappedRecord) int {
	n := 0
	for _, r := range recs {
		n += len(r.JSON)
	}
	return n
}
