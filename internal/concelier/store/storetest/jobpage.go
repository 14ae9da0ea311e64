package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

// RunJobPager is the conformance test of store.JobPager: paging through the job history by
// cursor yields exactly what ListJobs returns, in its order, whatever the page size, with ties
// on the start time broken by id, and a run recorded between two pages does not shift them.
// open returns a new, empty store using opts.
func RunJobPager(t *testing.T, open func(t *testing.T, opts store.Options) store.Store) {
	ctx := context.Background()
	clk := NewClock(time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC))
	s := open(t, store.Options{Now: clk.Now})
	p, ok := s.(store.JobPager)
	if !ok {
		t.Fatalf("%T does not implement store.JobPager", s)
	}
	kinds := []string{"source:osv:fetch", "merge:reconcile", "export:json"}
	for i := range 23 {
		// Every third run starts in the same microsecond as the one before: ids decide.
		if i%3 != 0 {
			clk.Advance(1500 * time.Nanosecond)
		}
		if _, err := s.StartJob(ctx, store.Job{ID: fmt.Sprintf("job-%02d-%c", i, 'z'-i), Kind: kinds[i%len(kinds)], Trigger: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(js []store.Job) []string {
		var out []string
		for _, j := range js {
			out = append(out, j.ID)
		}
		return out
	}
	for _, kind := range []string{"", "source:osv:fetch", "export:trivy-db"} {
		want, err := s.ListJobs(ctx, kind, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{1, 3, 7, 100} {
			var got []string
			var c store.JobCursor
			for range 100 {
				page, err := p.ListJobsBefore(ctx, kind, c, size)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > size {
					t.Fatalf("kind %q size %d: a page of %d", kind, size, len(page))
				}
				got = append(got, ids(page)...)
				if len(page) < size {
					break
				}
				// The cursor goes through its text form, as it does through an API.
				if c, err = store.ParseJobCursor(store.CursorAfter(page[len(page)-1]).String()); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(ids(want), got); diff != "" {
				t.Errorf("kind %q, pages of %d (-ListJobs +pages):\n%s", kind, size, diff)
			}
		}
	}

	// A run recorded after the first page does not move the second one.
	first, err := p.ListJobsBefore(ctx, "", store.JobCursor{}, 5)
	if err != nil || len(first) != 5 {
		t.Fatalf("first page %d, %v", len(first), err)
	}
	clk.Advance(time.Second)
	newest, err := s.StartJob(ctx, store.Job{Kind: "export:json", Trigger: "test"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.ListJobs(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.ListJobsBefore(ctx, "", store.CursorAfter(first[4]), 5)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(all[6:11]), ids(second)); diff != "" || all[0].ID != newest.ID {
		t.Errorf("second page after a new run (-want +got):\n%s", diff)
	}
	// Records come back whole.
	if second[0].Kind == "" || second[0].Trigger != "test" || second[0].StartedAt.IsZero() {
		t.Errorf("paged record %+v", second[0])
	}
}
