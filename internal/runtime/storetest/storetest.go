// Package storetest is the conformance suite of the runtime event stores: every backend runs
// Run on fresh, empty stores and Replicas on two handles of one database, and must pass both
// unchanged.
//
// Fixtures use millisecond times with a non-zero millisecond part and names whose byte order
// differs from a natural-language collation's, so a backend that sorts by locale fails.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/runtime"
)

// Run runs the suite. open is called once per test and returns a new, empty store; the suite
// closes it when the test ends.
func Run(t *testing.T, open func(t *testing.T) runtime.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s runtime.Store)
	}{
		{"InsertGet", testInsertGet},
		{"Idempotent", testIdempotent},
		{"TenantScopesEventID", testTenantScope},
		{"LargeBatch", testLargeBatch},
		{"CanceledContextWritesNothing", testCanceled},
		{"Sweep", testSweep},
		{"Image", testImage},
		{"ImageTenantAndExpiry", testImageTenantExpiry},
		{"ImageNamesBounded", testImageNames},
		{"ConcurrentInsert", func(t *testing.T, s runtime.Store) { concurrentInsert(t, []runtime.Store{s}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// Replicas runs the checks that need two handles on one database: each sees the other's
// writes, and concurrent overlapping batches through both store every event exactly once.
func Replicas(t *testing.T, fresh func(t *testing.T) (a, b runtime.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b runtime.Store)
	}{
		{"SeeEachOthersWrites", testReplicaWrites},
		{"ConcurrentInsert", func(t *testing.T, a, b runtime.Store) { concurrentInsert(t, []runtime.Store{a, b}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := fresh(t)
			t.Cleanup(func() {
				if err := errors.Join(a.Close(), b.Close()); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, a, b)
		})
	}
}

// base is the fixtures' clock.
var base = time.Date(2025, 10, 20, 15, 3, 8, 123_000_000, time.UTC)

func ptr[T any](v T) *T { return &v }

// rec is a record as the service builds them, from a real envelope.
func rec(t testing.TB, tenant, id, node, digest, namespace string, kind runtime.Kind, observed time.Time) runtime.Record {
	t.Helper()
	env := runtime.Envelope{SchemaVersion: runtime.SchemaVersion, Event: runtime.Event{
		EventID: id, When: runtime.FormatTime(observed), Kind: kind, Tenant: tenant, Node: node,
		Runtime:  &runtime.Engine{Engine: "containerd", Version: "1.7.19"},
		Workload: &runtime.Workload{Platform: "kubernetes", Namespace: namespace, Pod: "api-7c9fbbd8b7-ktd84", Container: "api", ImageRef: "ghcr.io/acme/api@" + digest},
		Process:  &runtime.Process{PID: ptr[int64](12345), Entrypoint: []string{"/start.sh", "--serve"}},
	}}
	if digest == "" {
		env.Event.Workload.ImageRef = "ghcr.io/acme/api:1.0"
	}
	r, err := runtime.NewRecord(env, "batch-1", base, 45*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func insert(t testing.TB, s runtime.Store, want int, recs ...runtime.Record) {
	t.Helper()
	n, err := s.Insert(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("Insert of %d records stored %d, want %d", len(recs), n, want)
	}
}

func count(t testing.TB, s runtime.Store) int {
	t.Helper()
	n, err := s.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testInsertGet(t *testing.T, s runtime.Store) {
	ctx := context.Background()
	a := rec(t, "tenant-alpha", "evt-1", "cluster-a/node-01", "sha256:deadbeef", "payments", runtime.KindContainerStart, base)
	a.ImageSigned, a.SBOMReferrer = ptr(true), "present"
	b := rec(t, "tenant-alpha", "evt-2", "cluster-a/node-02", "", "", runtime.KindDrift, base.Add(time.Second))
	c := rec(t, "tenant-alpha", "evt-3", "cluster-a/node-02", "sha256:deadbeef", "payments", runtime.KindContainerStop, base)
	c.ImageSigned = ptr(false)
	insert(t, s, 3, a, b, c)
	for _, want := range []runtime.Record{a, b, c} {
		got, err := s.Get(ctx, want.Tenant, want.EventID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Get %s (-want +got):\n%s", want.EventID, d)
		}
		if got.ObservedAt.Location() != time.UTC || got.ExpiresAt.Location() != time.UTC {
			t.Errorf("times not in UTC: %v %v", got.ObservedAt, got.ExpiresAt)
		}
	}
	if _, err := s.Get(ctx, "tenant-alpha", "evt-4"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Get of an unknown event: %v, want ErrNotFound", err)
	}
	if n := count(t, s); n != 3 {
		t.Errorf("Count %d, want 3", n)
	}
}

func testIdempotent(t *testing.T, s runtime.Store) {
	ctx := context.Background()
	first := rec(t, "t", "evt-1", "n1", "sha256:aa", "ns", runtime.KindContainerStart, base)
	insert(t, s, 1, first)
	// The same key again, with other content: a duplicate, and the stored event stays.
	again := rec(t, "t", "evt-1", "n2", "sha256:bb", "other", runtime.KindDrift, base.Add(time.Hour))
	insert(t, s, 0, again)
	got, err := s.Get(ctx, "t", "evt-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(first, got); d != "" {
		t.Errorf("a duplicate changed the stored event (-want +got):\n%s", d)
	}
	// A repeated key within one call counts once; new ones beside duplicates are stored.
	insert(t, s, 2, again, rec(t, "t", "evt-2", "n1", "sha256:aa", "ns", runtime.KindContainerStart, base),
		rec(t, "t", "evt-2", "n1", "sha256:aa", "ns", runtime.KindContainerStart, base),
		rec(t, "t", "evt-3", "n1", "sha256:aa", "ns", runtime.KindContainerStart, base))
	if n := count(t, s); n != 3 {
		t.Errorf("Count %d, want 3", n)
	}
	if n, err := s.Insert(ctx, nil); err != nil || n != 0 {
		t.Errorf("Insert(nil) = %d, %v", n, err)
	}
}

func testTenantScope(t *testing.T, s runtime.Store) {
	insert(t, s, 2, rec(t, "tenant-a", "evt-1", "n", "sha256:aa", "", runtime.KindContainerStart, base),
		rec(t, "tenant-b", "evt-1", "n", "sha256:aa", "", runtime.KindContainerStart, base))
	for _, tenant := range []string{"tenant-a", "tenant-b"} {
		if r, err := s.Get(context.Background(), tenant, "evt-1"); err != nil || r.Tenant != tenant {
			t.Errorf("Get %s: %+v %v", tenant, r, err)
		}
	}
}

func testLargeBatch(t *testing.T, s runtime.Store) {
	var recs []runtime.Record
	for i := range 1000 {
		recs = append(recs, rec(t, "t", fmt.Sprintf("evt-%04d", i), fmt.Sprintf("node-%d", i%7), "sha256:aa", "ns", runtime.KindContainerStart, base))
	}
	insert(t, s, 1000, recs...)
	insert(t, s, 0, recs[500:]...)
	recs = append(recs[:1], rec(t, "t", "evt-new", "n", "sha256:aa", "ns", runtime.KindContainerStart, base))
	insert(t, s, 1, recs...)
	if n := count(t, s); n != 1001 {
		t.Errorf("Count %d, want 1001", n)
	}
}

func testCanceled(t *testing.T, s runtime.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Insert(ctx, []runtime.Record{rec(t, "t", "evt-1", "n", "sha256:aa", "", runtime.KindContainerStart, base)}); err == nil {
		t.Error("Insert with a canceled context succeeded")
	}
	if n := count(t, s); n != 0 {
		t.Errorf("Count %d after a canceled insert, want 0", n)
	}
}

func testSweep(t *testing.T, s runtime.Store) {
	ctx := context.Background()
	var recs []runtime.Record
	for i := range 10 {
		r := rec(t, "t", fmt.Sprintf("evt-%d", i), "n", "sha256:aa", "", runtime.KindContainerStart, base)
		r.ExpiresAt = base.Add(time.Duration(i) * time.Second)
		recs = append(recs, r)
	}
	insert(t, s, 10, recs...)
	// Expired at or before now: evt-0 … evt-4; the limit takes the earliest first.
	now := base.Add(4 * time.Second)
	if n, err := s.Sweep(ctx, now, 3); err != nil || n != 3 {
		t.Fatalf("Sweep(limit 3) = %d, %v", n, err)
	}
	for _, id := range []string{"evt-0", "evt-1", "evt-2"} {
		if _, err := s.Get(ctx, "t", id); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("%s survived the sweep: %v", id, err)
		}
	}
	if n, err := s.Sweep(ctx, now, 100); err != nil || n != 2 {
		t.Fatalf("second Sweep = %d, %v; want 2", n, err)
	}
	if n, err := s.Sweep(ctx, now, 100); err != nil || n != 0 {
		t.Fatalf("third Sweep = %d, %v; want 0", n, err)
	}
	if n := count(t, s); n != 5 {
		t.Errorf("Count %d, want 5", n)
	}
	if _, err := s.Get(ctx, "t", "evt-5"); err != nil {
		t.Errorf("evt-5 (expires after now) was swept: %v", err)
	}
	if n, err := s.Sweep(ctx, now.Add(time.Hour), 0); err != nil || n != 0 {
		t.Errorf("Sweep(limit 0) = %d, %v", n, err)
	}
}

func testImage(t *testing.T, s runtime.Store) {
	ctx := context.Background()
	d := "sha256:deadbeef"
	r1 := rec(t, "t", "evt-1", "node-b", d, "payments", runtime.KindContainerStart, base)
	r2 := rec(t, "t", "evt-2", "node-a", d, "Payments", runtime.KindDrift, base.Add(2*time.Second))
	r2.ImageSigned, r2.SBOMReferrer = ptr(true), "present"
	r3 := rec(t, "t", "evt-3", "node-a", d, "payments", runtime.KindDrift, base.Add(time.Second))
	r3.ImageSigned, r3.SBOMReferrer = ptr(false), "missing"
	r4 := rec(t, "t", "evt-4", "node-c", d, "", runtime.KindPolicyViolation, base.Add(-time.Second))
	other := rec(t, "t", "evt-5", "node-z", "sha256:beef", "zz", runtime.KindContainerStart, base)
	insert(t, s, 5, r1, r2, r3, r4, other)
	got, err := s.Image(ctx, runtime.ImageQuery{Digest: d, Namespace: "payments", Now: base})
	if err != nil {
		t.Fatal(err)
	}
	want := runtime.ImageActivity{
		Events: 4, FirstSeen: base.Add(-time.Second), LastSeen: base.Add(2 * time.Second),
		ByKind:     map[runtime.Kind]int{runtime.KindContainerStart: 1, runtime.KindDrift: 2, runtime.KindPolicyViolation: 1},
		Namespaces: []string{"Payments", "payments"}, NamespaceCount: 2,
		Nodes: []string{"node-a", "node-b", "node-c"}, NodeCount: 3, InNamespace: 2,
		Posture: &runtime.ObservedPosture{ImageSigned: ptr(true), SBOMReferrer: "present", ObservedAt: base.Add(2 * time.Second), Node: "node-a"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Image (-want +got):\n%s", diff)
	}
	none, err := s.Image(ctx, runtime.ImageQuery{Digest: "sha256:0000", Now: base})
	if err != nil || none.Events != 0 || none.Posture != nil || none.Namespaces != nil {
		t.Errorf("Image of an unseen digest: %+v %v", none, err)
	}
	// Without a namespace, InNamespace stays 0 (events without one are not "in" it).
	got, err = s.Image(ctx, runtime.ImageQuery{Digest: d, Now: base})
	if err != nil || got.InNamespace != 0 || got.Events != 4 {
		t.Errorf("Image without namespace: %+v %v", got, err)
	}
}

func testImageTenantExpiry(t *testing.T, s runtime.Store) {
	ctx := context.Background()
	d := "sha256:aa"
	a := rec(t, "tenant-a", "evt-1", "n1", d, "ns-a", runtime.KindContainerStart, base)
	b := rec(t, "tenant-b", "evt-1", "n2", d, "ns-b", runtime.KindContainerStart, base)
	old := rec(t, "tenant-a", "evt-2", "n3", d, "ns-old", runtime.KindContainerStart, base)
	old.ExpiresAt = base.Add(time.Minute)
	insert(t, s, 3, a, b, old)
	got, err := s.Image(ctx, runtime.ImageQuery{Digest: d, Tenant: "tenant-a", Now: base})
	if err != nil || got.Events != 2 || !cmp.Equal(got.Namespaces, []string{"ns-a", "ns-old"}) {
		t.Errorf("tenant-a: %+v %v", got, err)
	}
	got, err = s.Image(ctx, runtime.ImageQuery{Digest: d, Now: base})
	if err != nil || got.Events != 3 || got.NodeCount != 3 {
		t.Errorf("every tenant: %+v %v", got, err)
	}
	// Expired events are hidden before the sweeper gets to them: at their expiry exactly.
	got, err = s.Image(ctx, runtime.ImageQuery{Digest: d, Tenant: "tenant-a", Now: base.Add(time.Minute)})
	if err != nil || got.Events != 1 || !cmp.Equal(got.Namespaces, []string{"ns-a"}) {
		t.Errorf("after evt-2's expiry: %+v %v", got, err)
	}
	if n := count(t, s); n != 3 {
		t.Errorf("Count %d, want 3 (nothing swept)", n)
	}
}

func testImageNames(t *testing.T, s runtime.Store) {
	var recs []runtime.Record
	for i := range 30 {
		recs = append(recs, rec(t, "t", fmt.Sprintf("evt-%d", i), fmt.Sprintf("node-%02d", i), "sha256:aa", fmt.Sprintf("ns-%02d", 29-i), runtime.KindContainerStart, base))
	}
	insert(t, s, 30, recs...)
	got, err := s.Image(context.Background(), runtime.ImageQuery{Digest: "sha256:aa", Now: base, MaxNames: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(got.Namespaces, []string{"ns-00", "ns-01", "ns-02"}) || got.NamespaceCount != 30 ||
		!cmp.Equal(got.Nodes, []string{"node-00", "node-01", "node-02"}) || got.NodeCount != 30 {
		t.Errorf("bounded names: %+v", got)
	}
}

// concurrentInsert sends overlapping batches from several goroutines through the stores:
// every event is stored once and the stored counts add up to the distinct events.
func concurrentInsert(t *testing.T, stores []runtime.Store) {
	const workers, events, batch = 6, 600, 50
	all := make([]runtime.Record, events)
	for i := range all {
		all[i] = rec(t, fmt.Sprintf("tenant-%d", i%3), fmt.Sprintf("evt-%04d", i), "n", "sha256:aa", "ns", runtime.KindContainerStart, base)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := 0
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%len(stores)]
			// Each worker walks the events from its own offset, in reverse for odd workers,
			// so batches overlap in every order.
			for k := 0; k < events; k += batch {
				var b []runtime.Record
				for j := range batch {
					i := (w*97 + k + j) % events
					if w%2 == 1 {
						i = events - 1 - i
					}
					b = append(b, all[i])
				}
				n, err := s.Insert(context.Background(), b)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				stored += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := count(t, stores[0]); n != events || stored != events {
		t.Fatalf("%d stored by the calls, %d counted; want %d each", stored, n, events)
	}
}

func testReplicaWrites(t *testing.T, a, b runtime.Store) {
	ctx := context.Background()
	r := rec(t, "t", "evt-1", "n", "sha256:aa", "ns", runtime.KindContainerStart, base)
	insert(t, a, 1, r)
	insert(t, b, 0, r)
	if got, err := b.Get(ctx, "t", "evt-1"); err != nil || got.EventID != "evt-1" {
		t.Fatalf("B reads A's write: %+v %v", got, err)
	}
	if act, err := b.Image(ctx, runtime.ImageQuery{Digest: "sha256:aa", Now: base}); err != nil || act.Events != 1 {
		t.Fatalf("B's summary of A's write: %+v %v", act, err)
	}
	if n, err := b.Sweep(ctx, base.Add(46*24*time.Hour), 10); err != nil || n != 1 {
		t.Fatalf("B sweeps A's write: %d %v", n, err)
	}
	if n := count(t, a); n != 0 {
		t.Fatalf("A counts %d after B's sweep", n)
	}
}
