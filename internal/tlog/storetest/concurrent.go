package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/tlog"
	"github.com/stellaops/stellaops/internal/tlog/tlogtest"
)

// testConcurrent appends from many goroutines through two handles on the same location (as two
// processes would) and checks the log is dense, has each body once, and has the reference root
// of its entries in index order.
func testConcurrent(t *testing.T, e *env) {
	ctx := context.Background()
	second := e.newLog(t, e.open(t))
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		l := e.log
		if w%2 == 1 {
			l = second
		}
		wg.Go(func() {
			for i := range each {
				n := w*each + i
				var err error
				if i%5 == 4 { // some batches, interleaved with single appends
					_, err = l.AppendBatch(ctx, [][]byte{body(n), body(100000 + n)})
				} else {
					_, err = l.Append(ctx, body(n))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const total = workers*each + workers*each/5
	checkDense(t, e.log, total)
}

// checkDense reads back every entry: indexes 0..total-1, no body twice, and the reference root.
func checkDense(t *testing.T, l *tlog.Log, total int) {
	t.Helper()
	ctx := context.Background()
	size, err := l.Size(ctx)
	if err != nil || size != uint64(total) {
		t.Fatalf("size %d, %v; want %d", size, err, total)
	}
	seen := map[tlog.Hash]uint64{}
	leaves := make([]tlog.Hash, 0, total)
	for i := range uint64(total) {
		en, err := l.EntryAt(ctx, i)
		if err != nil {
			t.Fatalf("entry %d: %v (a gap)", i, err)
		}
		if en.Index != i || en.LeafHash != tlogtest.RefLeaf(en.Body) {
			t.Fatalf("entry %d: index %d, leaf %s of body %q", i, en.Index, en.LeafHash, en.Body)
		}
		if j, dup := seen[en.LeafHash]; dup {
			t.Fatalf("entries %d and %d have the same body", j, i)
		}
		seen[en.LeafHash] = i
		leaves = append(leaves, en.LeafHash)
	}
	sth, err := l.SignTreeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := tlogtest.RefRoot(leaves); sth.TreeSize != uint64(total) || sth.RootHash != want {
		t.Fatalf("tree head %d %s, want %d %s", sth.TreeSize, sth.RootHash, total, want)
	}
}

// testConcurrentDuplicates submits the same bodies from many goroutines at once: each is stored
// once and every caller gets that one entry.
func testConcurrentDuplicates(t *testing.T, e *env) {
	ctx := context.Background()
	second := e.newLog(t, e.open(t))
	const workers, bodies = 8, 10
	results := make([][]tlog.Appended, workers)
	var wg sync.WaitGroup
	for w := range workers {
		l := e.log
		if w%2 == 1 {
			l = second
		}
		wg.Go(func() {
			for i := range bodies {
				a, err := l.Append(ctx, body(i))
				if err != nil {
					t.Error(err)
					return
				}
				results[w] = append(results[w], a)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i := range bodies {
		created := 0
		for w := range workers {
			a := results[w][i]
			if !a.Duplicate {
				created++
			}
			if a.Index != results[0][i].Index || a.LeafHash != tlogtest.RefLeaf(body(i)) {
				t.Errorf("body %d: worker %d got index %d, worker 0 got %d", i, w, a.Index, results[0][i].Index)
			}
		}
		if created != 1 {
			t.Errorf("body %d: %d callers were told they created it, want exactly 1", i, created)
		}
	}
	checkDense(t, e.log, bodies)
}

// testConcurrentTreeHeads signs the same size from many goroutines and two handles at once:
// one head is stored and every caller gets it.
func testConcurrentTreeHeads(t *testing.T, e *env) {
	ctx := context.Background()
	second := e.newLog(t, e.open(t))
	e.appendN(t, 0, 5)
	const workers = 8
	heads := make([]tlog.SignedTreeHead, workers)
	var wg sync.WaitGroup
	for w := range workers {
		l := e.log
		if w%2 == 1 {
			l = second
		}
		wg.Go(func() {
			e.clock.Advance(time.Millisecond) // each signer would sign a different timestamp
			sth, err := l.SignTreeHead(ctx)
			if err != nil {
				t.Error(err)
			}
			heads[w] = sth
		})
	}
	wg.Wait()
	for w, h := range heads {
		if !headEqual(h, heads[0]) {
			t.Errorf("signer %d got %+v, signer 0 got %+v", w, h, heads[0])
		}
	}
	if err := tlog.VerifyTreeHead(heads[0], e.log.PublicKey()); err != nil || heads[0].TreeSize != 5 {
		t.Errorf("tree head of size %d: %v", heads[0].TreeSize, err)
	}
}
