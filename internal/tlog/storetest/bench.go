package storetest

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/tlog"
	"github.com/stellaops/stellaops/internal/tlog/tlogtest"
)

// BenchmarkAppend measures single-entry appends (one transaction each) on a fresh store.
func BenchmarkAppend(b *testing.B, open func(b *testing.B) tlog.Store) {
	e := &env{clock: newBenchClock()}
	l := e.newLog(b, open(b))
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := l.Append(ctx, body(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkAppendBatch measures appends in batches of batch entries (one transaction each).
func BenchmarkAppendBatch(b *testing.B, open func(b *testing.B) tlog.Store, batch int) {
	e := &env{clock: newBenchClock()}
	l := e.newLog(b, open(b))
	ctx := context.Background()
	n := 0
	bodies := make([][]byte, batch)
	for b.Loop() {
		for j := range bodies {
			bodies[j] = body(n + j)
		}
		if _, err := l.AppendBatch(ctx, bodies); err != nil {
			b.Fatal(err)
		}
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkProofs fills a store with size entries (batches of 5,000; the fill time is logged)
// and measures, at that size, proofs for random entries: the inclusion proof alone, the whole
// bundle (entry, newest tree head, proof), its offline verification, and a consistency proof.
func BenchmarkProofs(b *testing.B, open func(b *testing.B) tlog.Store, size int) {
	e := &env{clock: newBenchClock()}
	l := e.newLog(b, open(b))
	ctx := context.Background()
	start := time.Now()
	appendBatches(b, l, 0, size, 5000)
	fill := time.Since(start)
	b.Logf("filled %d entries in %v (%.0f entries/s in batches of 5000)", size, fill, float64(size)/fill.Seconds())
	sth, err := l.SignTreeHead(ctx)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	b.Run("InclusionProof", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.InclusionProof(ctx, uint64(rng.IntN(size)), sth.TreeSize); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Bundle", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.Bundle(ctx, tlog.EntryID(body(rng.IntN(size)))); err != nil {
				b.Fatal(err)
			}
		}
	})
	bundle, err := l.Bundle(ctx, tlog.EntryID(body(size/3)))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("VerifyInclusion", func(b *testing.B) {
		for b.Loop() {
			if err := tlog.VerifyInclusion(bundle, l.PublicKey()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ConsistencyProof", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.ConsistencyProof(ctx, uint64(1+rng.IntN(size)), sth.TreeSize); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func newBenchClock() *tlogtest.Clock {
	return tlogtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
}
