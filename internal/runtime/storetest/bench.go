package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/runtime"
)

// benchEnvelope is the spec's example event (§2.8) with a realistic set of loaded libraries:
// about 1.5 KB of canonical JSON per event, running one of images images.
func benchEnvelope(i, images int) runtime.Envelope {
	libs := []runtime.LoadedLib{}
	for _, l := range []string{"libssl.so.3", "libcrypto.so.3", "libc.so.6", "libz.so.1", "libpthread.so.0", "libm.so.6"} {
		libs = append(libs, runtime.LoadedLib{Path: "/lib/x86_64-linux-gnu/" + l, Inode: ptr(uint64(123456 + i)),
			SHA256: "4f1c8a0e1b2d3c4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6"})
	}
	return runtime.Envelope{SchemaVersion: runtime.SchemaVersion, Event: runtime.Event{
		EventID: fmt.Sprintf("evt-%08x", i), When: runtime.FormatTime(base.Add(time.Duration(i) * time.Millisecond)),
		Kind: runtime.KindContainerStart, Tenant: "tenant-alpha", Node: fmt.Sprintf("cluster-a/node-%02d", i%40),
		Runtime: &runtime.Engine{Engine: "containerd", Version: "1.7.19"},
		Workload: &runtime.Workload{Platform: "kubernetes", Namespace: fmt.Sprintf("ns-%d", i%25), Pod: fmt.Sprintf("api-7c9fbbd8b7-%05d", i),
			Container: "api", ContainerID: fmt.Sprintf("containerd://%064x", i), ImageRef: fmt.Sprintf("ghcr.io/acme/api@sha256:%064x", i%images)},
		Process:     &runtime.Process{PID: ptr(int64(12345)), Entrypoint: []string{"/start.sh", "--serve"}},
		LoadedLibs:  libs,
		Posture:     &runtime.Posture{ImageSigned: ptr(true), SBOMReferrer: "present"},
		Evidence:    []runtime.Evidence{{Signal: "proc.maps", Value: "libssl.so.3@0x7f3a2c000000"}},
		Annotations: map[string]string{"observerVersion": "1.0.0"},
	}}
}

// BenchmarkInsert measures bulk ingestion into s: batches of 256 new events (the spec's
// largest batch), one Insert each, and reports events per second. It runs twice: events of 8
// images (a node's batch names few images) and of 500 (every event of a batch another image,
// the worst case for the image index, whose random inserts dirty a page each).
func BenchmarkInsert(b *testing.B, s runtime.Store) {
	const batch = 256
	ctx := context.Background()
	next := 0
	for _, images := range []int{8, 500} {
		b.Run(fmt.Sprintf("images=%d", images), func(b *testing.B) {
			b.ReportAllocs()
			done := 0
			for b.Loop() {
				b.StopTimer()
				recs := make([]runtime.Record, batch)
				for i := range recs {
					r, err := runtime.NewRecord(benchEnvelope(next, images), "bench", base, 45*24*time.Hour)
					if err != nil {
						b.Fatal(err)
					}
					recs[i] = r
					next++
				}
				b.StartTimer()
				n, err := s.Insert(ctx, recs)
				if err != nil {
					b.Fatal(err)
				}
				if n != batch {
					b.Fatalf("stored %d of %d", n, batch)
				}
				done += n
			}
			b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkInsertParallel is BenchmarkInsert (500 images) from several goroutines at once,
// building the records as the service does (canonical JSON included), as several observers
// posting to several replicas are: a database that commits concurrent batches together
// (PostgreSQL's group commit) shows it here, SQLite's single writer does not.
func BenchmarkInsertParallel(b *testing.B, s runtime.Store) {
	const batch = 256
	var mu sync.Mutex
	next := 0
	take := func() int {
		mu.Lock()
		defer mu.Unlock()
		next++
		return next
	}
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			recs := make([]runtime.Record, batch)
			for i := range recs {
				r, err := runtime.NewRecord(benchEnvelope(take(), 500), "bench", base, 45*24*time.Hour)
				if err != nil {
					b.Error(err)
					return
				}
				recs[i] = r
			}
			if n, err := s.Insert(context.Background(), recs); err != nil || n != batch {
				b.Errorf("stored %d of %d: %v", n, batch, err)
				return
			}
		}
	})
	b.ReportMetric(float64(next)/b.Elapsed().Seconds(), "events/s")
}
