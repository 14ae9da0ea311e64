package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/transparency-dev/merkle/compact"

	"github.com/stellaops/stellaops/internal/tlog"
	"github.com/stellaops/stellaops/internal/tlog/tlogtest"
)

func testAppendAndRead(t *testing.T, e *env) {
	ctx := context.Background()
	if n, err := e.log.Size(ctx); err != nil || n != 0 {
		t.Fatalf("empty log: size %d, %v", n, err)
	}
	var want []tlog.Entry
	for i := range 5 {
		e.clock.Advance(time.Second)
		a, err := e.log.Append(ctx, body(i))
		if err != nil {
			t.Fatal(err)
		}
		w := tlog.Entry{Index: uint64(i), LeafHash: tlogtest.RefLeaf(body(i)), Body: body(i), IntegratedTime: tlog.Timestamp(e.clock.Now())}
		if a.Duplicate || !entryEqual(a.Entry, w) {
			t.Fatalf("append %d: got %+v, want %+v", i, a, w)
		}
		if a.ID() != tlog.EntryID(body(i)) {
			t.Errorf("append %d: id %s, want %s", i, a.ID(), tlog.EntryID(body(i)))
		}
		want = append(want, w)
	}
	for _, w := range want {
		got, err := e.log.EntryAt(ctx, w.Index)
		if err != nil || !entryEqual(got, w) {
			t.Errorf("EntryAt(%d) = %+v, %v; want %+v", w.Index, got, err, w)
		}
		got, err = e.log.Entry(ctx, w.ID())
		if err != nil || !entryEqual(got, w) {
			t.Errorf("Entry(%s) = %+v, %v; want %+v", w.ID(), got, err, w)
		}
	}
	// A batch: one transaction, one integrated time, consecutive indexes.
	e.clock.Advance(time.Minute)
	res, err := e.log.AppendBatch(ctx, [][]byte{body(5), body(6), body(7)})
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range res {
		if a.Index != uint64(5+i) || a.Duplicate || !a.IntegratedTime.Equal(tlog.Timestamp(e.clock.Now())) {
			t.Errorf("batch result %d: %+v", i, a)
		}
	}
	if n, err := e.log.Size(ctx); err != nil || n != 8 {
		t.Errorf("size %d, %v; want 8", n, err)
	}
}

func entryEqual(a, b tlog.Entry) bool {
	return a.Index == b.Index && a.LeafHash == b.LeafHash && bytes.Equal(a.Body, b.Body) && a.IntegratedTime.Equal(b.IntegratedTime)
}

func testDuplicate(t *testing.T, e *env) {
	ctx := context.Background()
	first, err := e.log.Append(ctx, body(0))
	if err != nil {
		t.Fatal(err)
	}
	e.appendN(t, 1, 3)
	e.clock.Advance(time.Hour)
	again, err := e.log.Append(ctx, body(0))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || !entryEqual(again.Entry, first.Entry) {
		t.Errorf("re-append: got %+v, want the first entry %+v marked duplicate", again, first)
	}
	// In a batch: a body already in the log, a new body twice, another new one.
	res, err := e.log.AppendBatch(ctx, [][]byte{body(1), body(10), body(10), body(11)})
	if err != nil {
		t.Fatal(err)
	}
	got := []struct {
		Index uint64
		Dup   bool
	}{}
	for _, a := range res {
		got = append(got, struct {
			Index uint64
			Dup   bool
		}{a.Index, a.Duplicate})
	}
	want := []struct {
		Index uint64
		Dup   bool
	}{{1, true}, {3, false}, {3, true}, {4, false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batch with duplicates (-want +got):\n%s", diff)
	}
	if n, _ := e.log.Size(ctx); n != 5 {
		t.Errorf("size %d, want 5: duplicates must not be stored", n)
	}
	// Lookup finds exactly the stored hashes, in one call.
	got2, err := e.s.Lookup(ctx, []tlog.Hash{tlogtest.RefLeaf(body(10)), tlogtest.RefLeaf(body(99)), tlogtest.RefLeaf(body(0))})
	if err != nil {
		t.Fatal(err)
	}
	want2 := map[tlog.Hash]uint64{tlogtest.RefLeaf(body(10)): 3, tlogtest.RefLeaf(body(0)): 0}
	if diff := cmp.Diff(want2, got2); diff != "" {
		t.Errorf("Lookup (-want +got):\n%s", diff)
	}
	// A batch of only duplicates writes nothing and still succeeds.
	if _, err := e.log.AppendBatch(ctx, [][]byte{body(0), body(11)}); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.log.Size(ctx); n != 5 {
		t.Errorf("size %d after a batch of duplicates, want 5", n)
	}
}

var errBoom = errors.New("boom")

func testAtomic(t *testing.T, e *env) {
	ctx := context.Background()
	e.appendN(t, 0, 3)
	// fn stores a valid entry and its node, then fails: nothing may remain.
	err := e.s.Append(ctx, func(ctx context.Context, tx tlog.Tx) error {
		h := tlogtest.RefLeaf(body(3))
		err := tx.Put(ctx, []tlog.Entry{{Index: 3, LeafHash: h, Body: body(3), IntegratedTime: e.clock.Now()}},
			[]tlog.Node{{ID: compact.NewNodeID(0, 3), Hash: h}})
		if err != nil {
			return err
		}
		return errBoom
	})
	wantErr(t, err, errBoom, "failing append")
	if n, _ := e.s.Size(ctx); n != 3 {
		t.Errorf("size %d after a failed append, want 3", n)
	}
	if _, err := e.s.EntryByHash(ctx, tlogtest.RefLeaf(body(3))); !errors.Is(err, tlog.ErrNotFound) {
		t.Errorf("entry of a failed append: %v, want ErrNotFound", err)
	}
	if _, err := e.s.Hashes(ctx, []compact.NodeID{compact.NewNodeID(0, 3)}); !errors.Is(err, tlog.ErrNotFound) {
		t.Errorf("node of a failed append: %v, want ErrNotFound", err)
	}
	// A Put that would leave a gap is refused by the store itself.
	err = e.s.Append(ctx, func(ctx context.Context, tx tlog.Tx) error {
		h := tlogtest.RefLeaf(body(9))
		return tx.Put(ctx, []tlog.Entry{{Index: 9, LeafHash: h, Body: body(9), IntegratedTime: e.clock.Now()}}, nil)
	})
	if err == nil {
		t.Error("a Put at index 9 of a 3-entry log succeeded")
	}
	// A cancelled context fails the append and stores nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.log.AppendBatch(cctx, [][]byte{body(20), body(21)}); !errors.Is(err, context.Canceled) {
		t.Errorf("append with a cancelled context: %v", err)
	}
	// The log goes on where it was.
	if a, err := e.log.Append(ctx, body(3)); err != nil || a.Index != 3 {
		t.Errorf("append after failures: %+v, %v; want index 3", a, err)
	}
}

func testReopen(t *testing.T, e *env) {
	ctx := context.Background()
	leaves := e.appendN(t, 0, 7)
	sth, err := e.log.SignTreeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.reopen(t)
	if n, err := e.log.Size(ctx); err != nil || n != 7 {
		t.Fatalf("size after reopen: %d, %v", n, err)
	}
	got, err := e.log.LatestTreeHead(ctx)
	if err != nil || !headEqual(got, sth) {
		t.Errorf("tree head after reopen: %+v, %v; want %+v", got, err, sth)
	}
	leaves = append(leaves, e.appendN(t, 7, 12)...)
	if root, err := e.log.Root(ctx, 12); err != nil || root != tlogtest.RefRoot(leaves) {
		t.Errorf("root after reopen and appends: %s, %v; want %s", root, err, tlogtest.RefRoot(leaves))
	}
	if a, err := e.log.Append(ctx, body(2)); err != nil || !a.Duplicate || a.Index != 2 {
		t.Errorf("duplicate after reopen: %+v, %v", a, err)
	}
}

func headEqual(a, b tlog.SignedTreeHead) bool {
	return a.Origin == b.Origin && a.TreeSize == b.TreeSize && a.RootHash == b.RootHash &&
		a.Timestamp.Equal(b.Timestamp) && a.KeyID == b.KeyID && bytes.Equal(a.Signature, b.Signature)
}

func testErrors(t *testing.T, e *env) {
	ctx := context.Background()
	_, err := e.log.EntryAt(ctx, 0)
	wantErr(t, err, tlog.ErrNotFound, "EntryAt on an empty log")
	_, err = e.log.Entry(ctx, tlog.EntryID(body(0)))
	wantErr(t, err, tlog.ErrNotFound, "Entry on an empty log")
	_, err = e.log.Entry(ctx, "ABC")
	wantErr(t, err, tlog.ErrInvalid, "Entry with a malformed id")
	_, err = e.log.LatestTreeHead(ctx)
	wantErr(t, err, tlog.ErrNotFound, "LatestTreeHead before any")
	_, err = e.log.Append(ctx, nil)
	wantErr(t, err, tlog.ErrInvalid, "empty body")
	e.appendN(t, 0, 4)
	_, err = e.log.EntryAt(ctx, 4)
	wantErr(t, err, tlog.ErrNotFound, "EntryAt(size)")
	_, err = e.log.EntryAt(ctx, 1<<63)
	wantErr(t, err, tlog.ErrNotFound, "EntryAt(2^63)")
	_, err = e.log.InclusionProof(ctx, 4, 4)
	wantErr(t, err, tlog.ErrInvalid, "inclusion of index == size")
	_, err = e.log.InclusionProof(ctx, 1, 5)
	wantErr(t, err, tlog.ErrNotFound, "inclusion at a size beyond the log")
	_, err = e.log.ConsistencyProof(ctx, 3, 2)
	wantErr(t, err, tlog.ErrInvalid, "consistency with old > new")
	_, err = e.log.ConsistencyProof(ctx, 2, 9)
	wantErr(t, err, tlog.ErrNotFound, "consistency to a size beyond the log")
	_, err = e.log.Root(ctx, 5)
	wantErr(t, err, tlog.ErrNotFound, "root beyond the log")
	_, err = e.log.TreeHeadAt(ctx, 4)
	wantErr(t, err, tlog.ErrNotFound, "TreeHeadAt never signed")
	_, err = e.log.ConsistencyBundle(ctx, 2)
	wantErr(t, err, tlog.ErrNotFound, "consistency bundle from an unsigned size")
	// A node of the incomplete subtree [0, 8) is not stored while the log has 4 entries.
	_, err = e.s.Hashes(ctx, []compact.NodeID{compact.NewNodeID(2, 0), compact.NewNodeID(3, 0)})
	wantErr(t, err, tlog.ErrNotFound, "Hashes of an incomplete node")
}
