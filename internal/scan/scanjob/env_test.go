package scanjob_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/list"
	"github.com/stellaops/stellaops/internal/layercache"
	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/queue"
	"github.com/stellaops/stellaops/internal/queue/memqueue"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/scan/scanjob"
	"github.com/stellaops/stellaops/internal/scan/scanstore"
	"github.com/stellaops/stellaops/internal/scan/scanstore/sqlitestore"
)

// env is one process's scan service on SQLite and an in-process queue (real clock), with a
// snapshot of the real Go advisories that concern the postgres-stretch SBOM.
type env struct {
	svc   *scanjob.Service
	store scanstore.Store
	q     queue.Queue
	cfg   scanjob.Config
	data  string
}

// repoTestdata is the repository's testdata directory.
func repoTestdata(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "..", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sbomPath(t testing.TB) string {
	return filepath.Join(repoTestdata(t), "sbom", "postgres-stretch.cdx.xml.gz")
}

// testLog sends the service's logs to the test's log.
func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

// snapshotStore publishes the fixture advisories into a new store under data.
func snapshotStore(t testing.TB, data string) *snapshot.Store {
	t.Helper()
	res, err := advisory.LoadOSV(context.Background(), "osv:Go", filepath.Join("testdata", "osv"))
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("load: %v %+v", err, res.Errors)
	}
	st, err := snapshot.OpenStore(filepath.Join(data, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Publish(context.Background(), res.Advisories, []snapshot.SourceInfo{{Name: "osv:Go", Documents: res.Documents,
		Advisories: len(res.Advisories)}}, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	return st
}

// newEnv builds a service; mod adjusts its configuration first. data may be shared by two
// envs (two processes on one data directory); "" makes a new one.
func newEnv(t testing.TB, data string, st scanstore.Store, q queue.Queue, mod func(*scanjob.Config)) *env {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	if st == nil {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(data, "scans.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st = s
	}
	if q == nil {
		mq, err := memqueue.New(queue.Config{PollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mq.Close() })
		q = mq
	}
	snaps := snapshotStore(t, data)
	dir, err := layercache.Open(filepath.Join(data, "cache", "layers"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(data, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	log := testLog(t)
	analyzers := list.Default()
	cache := &scanjob.LayerCache{Dir: dir, Store: st, MaxShared: 32 << 20, Now: time.Now, Log: log}
	pipe := &scanjob.Pipeline{Snapshots: snaps, Analyzers: analyzers, Cache: cache, Decoder: sbom.NewDecoder(sbom.DefaultConfig()),
		TempDir: tmp, PolicyConfig: policy.Config{}, Now: time.Now, Log: log}
	cfg := scanjob.Config{Store: st, Queue: q, Pipeline: pipe, Fingerprint: analyzer.Fingerprint(analyzers), Log: log,
		LeaseDuration: 600 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		PollInterval: 20 * time.Millisecond, FlushInterval: 20 * time.Millisecond, SweepInterval: 50 * time.Millisecond,
		LocalDirectories: []string{repoTestdata(t)}, TempDir: tmp, MaxAttempts: queue.DefaultMaxAttempts}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := scanjob.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, store: st, q: q, cfg: cfg, data: data}
}

// run starts a background loop of the service until the test ends.
func (e *env) run(t testing.TB, loop func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = loop(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("a background loop did not stop")
		}
	})
}

func (e *env) wait(t testing.TB, id string) scanstore.Scan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc, err := e.svc.Wait(ctx, id)
	if err != nil {
		t.Fatalf("waiting for %s: %v (%+v)", id, err, sc)
	}
	return sc
}

func (e *env) events(t testing.TB, id string) []scanstore.Event {
	t.Helper()
	evs, err := e.store.Events(context.Background(), id, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func messages(evs []scanstore.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.State)+":"+e.Message)
	}
	return out
}

func count(evs []scanstore.Event, state scanstore.Status) int {
	n := 0
	for _, e := range evs {
		if e.State == state {
			n++
		}
	}
	return n
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
