package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

func doc(source, uri, content string, at time.Time) store.Document {
	return store.Document{Source: source, URI: uri, FetchedAt: at, ETag: `"e-` + content + `"`,
		LastModified: "Sat, 21 Nov 2026 08:00:00 GMT", ContentType: "application/json", Content: []byte(content)}
}

func put(t *testing.T, s store.Store, d store.Document, want store.PutOutcome) {
	t.Helper()
	got, err := s.PutDocument(context.Background(), d)
	if err != nil {
		t.Fatalf("put %s: %v", d.URI, err)
	}
	if got != want {
		t.Fatalf("put %s: outcome %v, want %v", d.URI, got, want)
	}
}

func get(t *testing.T, s store.Store, source, uri string) store.Document {
	t.Helper()
	d, err := s.GetDocument(context.Background(), source, uri)
	if err != nil {
		t.Fatalf("get %s: %v", uri, err)
	}
	return d
}

// docDiff compares documents with nil and empty content equal.
func docDiff(want, got store.Document) string {
	return cmp.Diff(want, got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) }))
}

func testDocumentRoundTrip(t *testing.T, e *env) {
	ctx := context.Background()
	// A real document: an OSV record as fetched, nanoseconds and a non-UTC zone on the time.
	content := e.fx.small[0].JSON
	at := time.Date(2026, 11, 21, 9, 30, 15, 987654321, time.FixedZone("CET", 3600))
	d := store.Document{Source: "osv:crates.io", URI: "https://osv.dev/" + e.fx.small[0].ID + ".json", FetchedAt: at,
		ETag: `W/"abc"`, LastModified: "Sat, 21 Nov 2026 08:00:00 GMT", ContentType: "application/json", Content: content}
	put(t, e.s, d, store.Created)
	want := d
	want.Digest = store.Digest(content)
	want.FetchedAt = time.Date(2026, 11, 21, 8, 30, 15, 987654000, time.UTC)
	want.Status = store.StatusPendingParse
	if diff := docDiff(want, get(t, e.s, d.Source, d.URI)); diff != "" {
		t.Errorf("document (-want +got):\n%s", diff)
	}
	// An empty body is a document too.
	put(t, e.s, store.Document{Source: "s", URI: "empty"}, store.Created)
	if got := get(t, e.s, "s", "empty"); len(got.Content) != 0 || got.Digest != store.Digest(nil) {
		t.Errorf("empty document: %+v", got)
	}
	if _, err := e.s.GetDocument(ctx, d.Source, "https://osv.dev/missing.json"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing uri: err %v, want ErrNotFound", err)
	}
	if _, err := e.s.GetDocument(ctx, "osv:Go", d.URI); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("same uri, other source: err %v, want ErrNotFound", err)
	}
}

func testDocumentNoop(t *testing.T, e *env) {
	d := doc("osv:Go", "u1", "body", e.clock.Now())
	put(t, e.s, d, store.Created)
	before := get(t, e.s, "osv:Go", "u1")
	if err := e.s.SetDocumentStatus(context.Background(), "osv:Go", "u1", before.Digest, store.StatusParsed, ""); err != nil {
		t.Fatal(err)
	}
	// A re-fetch of the same bytes with new metadata writes nothing: status stays parsed.
	again := d
	again.ETag, again.FetchedAt = `"other"`, d.FetchedAt.Add(time.Hour)
	put(t, e.s, again, store.Unchanged)
	want := before
	want.Status = store.StatusParsed
	if diff := docDiff(want, get(t, e.s, "osv:Go", "u1")); diff != "" {
		t.Errorf("after identical put (-want +got):\n%s", diff)
	}
	// The same bytes under another URI or source are their own documents.
	put(t, e.s, doc("osv:Go", "u2", "body", e.clock.Now()), store.Created)
	put(t, e.s, doc("osv:PyPI", "u1", "body", e.clock.Now()), store.Created)
}

func testDocumentReplace(t *testing.T, e *env) {
	ctx := context.Background()
	put(t, e.s, doc("osv:Go", "u1", "v1", e.clock.Now()), store.Created)
	old := get(t, e.s, "osv:Go", "u1")
	if err := e.s.SetDocumentStatus(ctx, "osv:Go", "u1", old.Digest, store.StatusFailed, "bad json"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	d2 := doc("osv:Go", "u1", "v2", e.clock.Now())
	d2.ContentType = "application/zip"
	put(t, e.s, d2, store.Replaced)
	want := d2
	want.Digest, want.Status, want.FetchedAt = store.Digest([]byte("v2")), store.StatusPendingParse, store.Timestamp(d2.FetchedAt)
	if diff := docDiff(want, get(t, e.s, "osv:Go", "u1")); diff != "" {
		t.Errorf("replaced document (-want +got):\n%s", diff)
	}
	// Back to the first bytes is a change too.
	put(t, e.s, doc("osv:Go", "u1", "v1", e.clock.Now()), store.Replaced)
	if got := get(t, e.s, "osv:Go", "u1"); got.Digest != old.Digest || string(got.Content) != "v1" {
		t.Errorf("after reverting: %+v", got)
	}
}

func testDocumentStatus(t *testing.T, e *env) {
	ctx := context.Background()
	put(t, e.s, doc("osv:Go", "u1", "v1", e.clock.Now()), store.Created)
	d := get(t, e.s, "osv:Go", "u1")
	steps := []struct {
		status    store.DocumentStatus
		reason    string
		wantError string
	}{
		{store.StatusParsed, "", ""},
		{store.StatusMapped, "ignored", ""}, // a reason is only kept on failure
		{store.StatusFailed, "map: unknown ecosystem", "map: unknown ecosystem"},
		{store.StatusPendingParse, "", ""},
	}
	for _, st := range steps {
		if err := e.s.SetDocumentStatus(ctx, "osv:Go", "u1", d.Digest, st.status, st.reason); err != nil {
			t.Fatalf("to %s: %v", st.status, err)
		}
		got := get(t, e.s, "osv:Go", "u1")
		if got.Status != st.status || got.Error != st.wantError {
			t.Errorf("after %s: status %s error %q, want %s %q", st.status, got.Status, got.Error, st.status, st.wantError)
		}
	}
	if err := e.s.SetDocumentStatus(ctx, "osv:Go", "u1", d.Digest, "done", ""); err == nil {
		t.Error("an unknown status was accepted")
	}
	if err := e.s.SetDocumentStatus(ctx, "osv:Go", "nope", d.Digest, store.StatusParsed, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown document: err %v, want ErrNotFound", err)
	}
	// A parse of the old bytes finishing after a re-fetch must not mark the new bytes parsed.
	put(t, e.s, doc("osv:Go", "u1", "v2", e.clock.Now()), store.Replaced)
	if err := e.s.SetDocumentStatus(ctx, "osv:Go", "u1", d.Digest, store.StatusParsed, ""); !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale digest: err %v, want ErrConflict", err)
	}
	if got := get(t, e.s, "osv:Go", "u1"); got.Status != store.StatusPendingParse {
		t.Errorf("status after stale update = %s, want pending_parse", got.Status)
	}
}

func testDocumentList(t *testing.T, e *env) {
	ctx := context.Background()
	var uris []string
	for _, r := range e.fx.small[:50] {
		uris = append(uris, "https://osv.dev/vulnerability/"+r.ID)
	}
	shuffled := append([]string(nil), uris...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i, u := range shuffled {
		put(t, e.s, doc("osv:crates.io", u, u, e.clock.Now()), store.Created)
		if i%5 == 0 {
			put(t, e.s, doc("osv:Go", u, u, e.clock.Now()), store.Created) // another source: never listed
		}
	}
	sorted := append([]string(nil), uris...)
	slicesSort(sorted)
	// Every third one parsed, one failed.
	var parsed []string
	for i, u := range sorted {
		st := store.StatusPendingParse
		switch {
		case i == 7:
			st = store.StatusFailed
		case i%3 == 0:
			st = store.StatusParsed
			parsed = append(parsed, u)
		}
		if st != store.StatusPendingParse {
			if err := e.s.SetDocumentStatus(ctx, "osv:crates.io", u, store.Digest([]byte(u)), st, "x"); err != nil {
				t.Fatal(err)
			}
		}
	}
	uriList := func(status store.DocumentStatus) []string {
		ds, err := e.s.ListDocuments(ctx, "osv:crates.io", status)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range ds {
			if d.Status != status || string(d.Content) != d.URI {
				t.Errorf("listed %s: status %s content %q", d.URI, d.Status, d.Content)
			}
			out = append(out, d.URI)
		}
		return out
	}
	if diff := cmp.Diff(parsed, uriList(store.StatusParsed)); diff != "" {
		t.Errorf("parsed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{sorted[7]}, uriList(store.StatusFailed)); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
	if got := uriList(store.StatusPendingParse); len(got)+len(parsed)+1 != len(uris) || !slicesIsSorted(got) {
		t.Errorf("pending: %d, not sorted or wrong count (want %d)", len(got), len(uris)-len(parsed)-1)
	}
	if got := uriList(store.StatusMapped); len(got) != 0 {
		t.Errorf("mapped: %v, want none", got)
	}
}

func testCursors(t *testing.T, e *env) {
	ctx := context.Background()
	if _, err := e.s.GetCursor(ctx, "osv:Go"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("no cursor: err %v, want ErrNotFound", err)
	}
	set := func(source, v string) {
		t.Helper()
		if err := e.s.SetCursor(ctx, source, json.RawMessage(v)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(source, want string) {
		t.Helper()
		got, err := e.s.GetCursor(ctx, source)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("cursor %s = %s, want %s", source, got, want)
		}
	}
	set("osv:Go", `{"modified": "2026-11-21T00:00:00Z", "etag": "\"x\"", "n": 1.0, "pages": [3, 1]}`)
	set("osv:PyPI", `"opaque"`)
	check("osv:Go", `{"etag":"\"x\"","modified":"2026-11-21T00:00:00Z","n":1,"pages":[3,1]}`)
	check("osv:PyPI", `"opaque"`)
	set("osv:Go", `{"modified":"2026-11-22T00:00:00Z"}`)
	check("osv:Go", `{"modified":"2026-11-22T00:00:00Z"}`)
	for _, bad := range []string{``, `{"a":`, `not json`} {
		if err := e.s.SetCursor(ctx, "osv:Go", json.RawMessage(bad)); err == nil {
			t.Errorf("cursor %q accepted", bad)
		}
	}
	check("osv:Go", `{"modified":"2026-11-22T00:00:00Z"}`)
}

// testDocumentBatches: PutDocuments and SetDocumentStatuses behave as their one-document forms,
// in one transaction: an invalid update aborts the whole batch, a stale one is skipped.
func testDocumentBatches(t *testing.T, e *env) {
	ctx := context.Background()
	put(t, e.s, doc("osv:Go", "b", "old", e.clock.Now()), store.Created)
	put(t, e.s, doc("osv:Go", "c", "same", e.clock.Now()), store.Created)
	docs := []store.Document{
		doc("osv:Go", "a", "new", e.clock.Now()),
		doc("osv:Go", "b", "changed", e.clock.Now()),
		doc("osv:Go", "c", "same", e.clock.Now()),
	}
	outs, err := e.s.PutDocuments(ctx, docs)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.PutOutcome{store.Created, store.Replaced, store.Unchanged}, outs); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	a, b, c := get(t, e.s, "osv:Go", "a"), get(t, e.s, "osv:Go", "b"), get(t, e.s, "osv:Go", "c")
	upd := func(d store.Document, digest string, st store.DocumentStatus, reason string) store.StatusUpdate {
		return store.StatusUpdate{Source: d.Source, URI: d.URI, Digest: digest, Status: st, Reason: reason}
	}
	// An unknown document aborts everything: a stays pending.
	_, err = e.s.SetDocumentStatuses(ctx, []store.StatusUpdate{upd(a, a.Digest, store.StatusParsed, ""), {Source: "osv:Go", URI: "zz", Digest: "x", Status: store.StatusParsed}})
	if !errors.Is(err, store.ErrNotFound) || get(t, e.s, "osv:Go", "a").Status != store.StatusPendingParse {
		t.Errorf("batch with an unknown document: %v, a is %s", err, get(t, e.s, "osv:Go", "a").Status)
	}
	if _, err := e.s.SetDocumentStatuses(ctx, []store.StatusUpdate{upd(a, a.Digest, "done", "")}); err == nil {
		t.Error("an invalid status was accepted")
	}
	stale, err := e.s.SetDocumentStatuses(ctx, []store.StatusUpdate{
		upd(a, a.Digest, store.StatusParsed, "dropped"),
		upd(b, store.Digest([]byte("old")), store.StatusParsed, ""), // b changed since: skipped
		upd(c, c.Digest, store.StatusFailed, "bad json"),
	})
	if err != nil || !slices.Equal(stale, []int{1}) {
		t.Fatalf("stale %v, err %v", stale, err)
	}
	if got := get(t, e.s, "osv:Go", "a"); got.Status != store.StatusParsed || got.Error != "" {
		t.Errorf("a: %s %q", got.Status, got.Error)
	}
	if got := get(t, e.s, "osv:Go", "b"); got.Status != store.StatusPendingParse || got.Digest != b.Digest {
		t.Errorf("b: %s", got.Status)
	}
	if got := get(t, e.s, "osv:Go", "c"); got.Status != store.StatusFailed || got.Error != "bad json" {
		t.Errorf("c: %s %q", got.Status, got.Error)
	}
	// A cancelled batch writes nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.s.PutDocuments(cctx, []store.Document{doc("osv:Go", "e", "x", e.clock.Now())}); err == nil {
		t.Error("a cancelled batch reported success")
	}
	if _, err := e.s.GetDocument(ctx, "osv:Go", "e"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a cancelled batch was written: %v", err)
	}
}

// testDocumentPages: walking a source with ListDocumentsAfter visits every document of the status
// once, in URI order, whatever the page size.
func testDocumentPages(t *testing.T, e *env) {
	ctx := context.Background()
	var docs []store.Document
	for i := range 23 {
		docs = append(docs, doc("osv:Go", fmt.Sprintf("https://x/all.zip#GO-%03d.json", (i*7)%23), fmt.Sprint(i), e.clock.Now()))
	}
	docs = append(docs, doc("osv:PyPI", "https://x/all.zip#GO-000.json", "other source", e.clock.Now()))
	if _, err := e.s.PutDocuments(ctx, docs); err != nil {
		t.Fatal(err)
	}
	all, err := e.s.ListDocuments(ctx, "osv:Go", store.StatusPendingParse)
	if err != nil || len(all) != 23 {
		t.Fatalf("ListDocuments: %d, %v", len(all), err)
	}
	for _, size := range []int{1, 5, 23, 100} {
		var got []string
		after := ""
		for {
			page, err := e.s.ListDocumentsAfter(ctx, "osv:Go", store.StatusPendingParse, after, size)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > size {
				t.Fatalf("page of %d with limit %d", len(page), size)
			}
			if len(page) == 0 {
				break
			}
			for _, d := range page {
				got = append(got, d.URI)
			}
			after = page[len(page)-1].URI
		}
		var want []string
		for _, d := range all {
			want = append(want, d.URI)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("pages of %d (-want +got):\n%s", size, diff)
		}
	}
	// Only the status asked for.
	first := all[0]
	if err := e.s.SetDocumentStatus(ctx, "osv:Go", first.URI, first.Digest, store.StatusParsed, ""); err != nil {
		t.Fatal(err)
	}
	if page, _ := e.s.ListDocumentsAfter(ctx, "osv:Go", store.StatusParsed, "", 10); len(page) != 1 || page[0].URI != first.URI {
		t.Errorf("parsed page: %+v", page)
	}
}
