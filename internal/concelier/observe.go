package concelier

import (
	"context"
	"iter"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

// Counter receives how much work a job has done, by kind: "documents stored", "documents
// checked", "records mapped", "records read", "advisories written". It may be called from
// several goroutines.
type Counter func(what string, n int)

// Observe wraps st so that every write (and every record read by a merge or export) is counted
// into c. Progress is seen at the store because every stage of every job goes through it, so
// connectors, the merge and the exports need no reporting code of their own.
func Observe(st store.Store, c Counter) store.Store {
	if c == nil {
		return st
	}
	return &observed{Store: st, c: c}
}

type observed struct {
	store.Store
	c Counter
}

func (o *observed) PutDocument(ctx context.Context, d store.Document) (store.PutOutcome, error) {
	out, err := o.Store.PutDocument(ctx, d)
	if err == nil {
		o.c("documents stored", 1)
	}
	return out, err
}

func (o *observed) PutDocuments(ctx context.Context, docs []store.Document) ([]store.PutOutcome, error) {
	out, err := o.Store.PutDocuments(ctx, docs)
	if err == nil {
		o.c("documents stored", len(docs))
	}
	return out, err
}

func (o *observed) SetDocumentStatus(ctx context.Context, source, uri, digest string, status store.DocumentStatus, reason string) error {
	err := o.Store.SetDocumentStatus(ctx, source, uri, digest, status, reason)
	if err == nil {
		o.c("documents checked", 1)
	}
	return err
}

func (o *observed) SetDocumentStatuses(ctx context.Context, updates []store.StatusUpdate) ([]int, error) {
	stale, err := o.Store.SetDocumentStatuses(ctx, updates)
	if err == nil {
		o.c("documents checked", len(updates)-len(stale))
	}
	return stale, err
}

func (o *observed) UpsertMapped(ctx context.Context, recs []store.MappedRecord) error {
	err := o.Store.UpsertMapped(ctx, recs)
	if err == nil {
		o.c("records mapped", len(recs))
	}
	return err
}

func (o *observed) MappedBySource(ctx context.Context, source string) iter.Seq2[store.MappedRecord, error] {
	return counted(o.Store.MappedBySource(ctx, source), o.c, "records read")
}

func (o *observed) MergedAll(ctx context.Context) iter.Seq2[store.MergedRecord, error] {
	return counted(o.Store.MergedAll(ctx), o.c, "advisories read")
}

func (o *observed) ReplaceMerged(ctx context.Context, runID string, recs []store.Encoded, events []store.MergeEvent) error {
	err := o.Store.ReplaceMerged(ctx, runID, recs, events)
	if err == nil {
		o.c("advisories written", len(recs))
	}
	return err
}

// counted reports every 256 records of seq (and the remainder at the end).
func counted[T any](seq iter.Seq2[T, error], c Counter, what string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		n := 0
		defer func() {
			if n > 0 {
				c(what, n)
			}
		}()
		for v, err := range seq {
			if err == nil {
				if n++; n == 256 {
					c(what, n)
					n = 0
				}
			}
			if !yield(v, err) {
				return
			}
		}
	}
}
