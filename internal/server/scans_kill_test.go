//go:build unix

package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stellaops/stellaops/internal/queue"
	"github.com/stellaops/stellaops/internal/queue/redisqueue"
	"github.com/stellaops/stellaops/internal/scan/scanstore"
	"github.com/stellaops/stellaops/internal/scan/scanstore/pgstore"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/testenv"
	"github.com/stellaops/stellaops/pkg/client"
)

// killChildEnv names the file that tells the test binary, re-executed, to be a worker
// process (TestWorkerChildProcess) and with what configuration.
const killChildEnv = "STELLAOPS_TEST_WORKER_CHILD"

// killLease is the scan lease of every process of the test: the least scanner.leaseDuration
// validates (renewed every third), so a dead holder's lease runs out within seconds.
const killLease = 3 * time.Second

// killSpec is what the worker process needs to join the installation.
type killSpec struct {
	DSN         string `json:"dsn"`
	RedisAddr   string `json:"redisAddr"`
	RedisPrefix string `json:"redisPrefix"`
	DataDir     string `json:"dataDir"`
	KeyDir      string `json:"keyDir"`
	Registry    string `json:"registry"`
}

// killConfig is the configuration of one replica of the test installation, in either process.
func killConfig(t testing.TB, s killSpec, role string) server.Config {
	cfg := scansConfig(t)
	cfg.Storage = server.StorageConfig{Driver: "postgres", DSN: s.DSN}
	cfg.Redis = server.RedisConfig{Addr: s.RedisAddr, Prefix: s.RedisPrefix}
	cfg.Authority.Issuer = "https://stellaops.test"
	cfg.Authority.KeyDirectory = s.KeyDir
	cfg.Server.Roles = []string{role}
	cfg.Scanner.LeaseDuration = killLease
	cfg.Scanner.Registries.Allowed = []string{s.Registry}
	cfg.Scanner.Registries.Insecure = []string{s.Registry}
	return cfg
}

// TestWorkerChildProcess is the worker process of TestWorkerKilledMidScanBySIGKILL: the test
// binary re-executed with killChildEnv set runs a worker-role server on the parent's
// PostgreSQL, Redis and registry until it is killed. It also stops when its standard input
// closes (the parent died), so a failed run leaves no process behind.
func TestWorkerChildProcess(t *testing.T) {
	path := os.Getenv(killChildEnv)
	if path == "" {
		t.Skip("only runs as the worker process started by TestWorkerKilledMidScanBySIGKILL")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec killSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(context.Background(), killConfig(t, spec, "worker"), server.Options{DataDir: spec.DataDir, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ctx, ln); err != nil {
		t.Fatal(err)
	}
}

// blobGate serves a registry, holding GETs of one blob until released: a scan pulling that
// blob is provably mid-scan for as long as the test wants.
type blobGate struct {
	next    http.Handler
	release chan struct{}
	once    sync.Once
	arrived chan struct{} // one per held request
	aborted chan struct{} // one per held request whose client went away

	mu     sync.Mutex
	blob   string // the held path suffix; "" holds nothing
	served int    // held requests passed on after the release
}

func newBlobGate(next http.Handler) *blobGate {
	return &blobGate{next: next, release: make(chan struct{}), arrived: make(chan struct{}, 8), aborted: make(chan struct{}, 8)}
}

func (g *blobGate) hold(digest string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.blob = "/blobs/" + digest
}

func (g *blobGate) open() { g.once.Do(func() { close(g.release) }) }

func (g *blobGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	held := g.blob != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, g.blob)
	g.mu.Unlock()
	if held {
		g.arrived <- struct{}{}
		select {
		case <-g.release:
			g.mu.Lock()
			g.served++
			g.mu.Unlock()
		case <-r.Context().Done():
			g.aborted <- struct{}{}
			return
		}
	}
	g.next.ServeHTTP(w, r)
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// killPoll calls f until it returns true, failing the test after d.
func killPoll(t *testing.T, what string, d time.Duration, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, last := f()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (last: %s)", what, d, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func killMessages(evs []scanstore.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.State) + ":" + e.Message
	}
	return out
}

// killStarted is the data of a "started" event.
type killStarted struct {
	Attempt int    `json:"attempt"`
	Worker  string `json:"worker"`
}

// TestWorkerKilledMidScanBySIGKILL is issue 7's crash test with a real process: a worker
// process (this test binary, re-executed) leases a queued registry scan and is SIGKILLed
// while it is provably mid-scan, blocked on the image's layer download with the scan Running
// under its lease. A second worker takes the scan over once the lease runs out; the dead
// worker's fence can no longer write, nor its lease settle the job; the scan succeeds exactly
// once, on attempt 2, and the queue is left empty. Scale mode: PostgreSQL and Redis, shared
// by the API replica, the killed worker process and the second worker.
func TestWorkerKilledMidScanBySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a worker process")
	}
	t0 := time.Now()
	ctx := context.Background()
	dsn := testenv.PostgresSchemaDSN(t, "server_scans_kill")
	addr := testenv.RedisAddr(t)
	prefix := "test-" + testenv.RandomHex(6)
	testenv.DeleteRedisKeysAtCleanup(t, addr, "*"+prefix+"*")

	// A registry with alpine:3.10 (one layer), whose layer blob is held once armed.
	gate := newBlobGate(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	reg := httptest.NewServer(gate)
	t.Cleanup(reg.Close)
	t.Cleanup(gate.open) // before reg.Close: held handlers return
	host := strings.TrimPrefix(reg.URL, "http://")
	archive := filepath.Join(scansTestdata(t), "images", "alpine-3.10.4.docker-save.tar.gz")
	img, err := tarball.Image(func() (io.ReadCloser, error) {
		f, err := os.Open(archive)
		if err != nil {
			return nil, err
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{zr, f}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/library/alpine:3.10", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	imgDigest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d %v", len(layers), err)
	}
	layerDigest, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	gate.hold(layerDigest.String())

	// The installation: an API replica here (no workers), the worker process, later a second
	// worker here. Each has its own data directory; they share the database, Redis and keys.
	spec := killSpec{DSN: dsn, RedisAddr: addr, RedisPrefix: prefix, KeyDir: t.TempDir(), Registry: host}
	a := start(t, killConfig(t, spec, "api"), server.Options{DataDir: scansDataDir(t)})
	admin := validated(t, a.url, client.WithBootstrapKey(bootstrap))
	tok := scansToken(t, a.url, admin, "ci", "scanner.scans.enqueue", "scanner.scans.read")
	c := validated(t, a.url, client.WithToken(tok))
	// The test also reads the shared store and queue directly, as another replica would.
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	q, err := redisqueue.New(testenv.RedisClient(t, addr), redisqueue.DefaultPrefix+":"+prefix, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })

	acc, _, err := c.EnqueueScan(ctx, client.ScanRequest{Image: client.ScanImage{Reference: host + "/library/alpine:3.10"}})
	if err != nil || !acc.Created || acc.Status != "Pending" {
		t.Fatalf("enqueue: %+v %v", acc, err)
	}
	id := acc.ScanID
	jobID := id + ":1"

	// A watcher on the API replica, live from the start to the end of the run.
	type stream struct {
		evs []client.ScanEvent
		err error
	}
	live := make(chan stream, 1)
	watchCtx, stopWatch := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(stopWatch)
	watcher := validated(t, a.url, client.WithToken(tok))
	go func() {
		var s stream
		_, s.err = watcher.ScanEvents(watchCtx, id, client.ScanEventsOptions{}, func(e client.ScanEvent) error {
			s.evs = append(s.evs, e)
			return nil
		})
		live <- s
	}()

	// The worker process.
	spec.DataDir = scansDataDir(t)
	specPath := filepath.Join(t.TempDir(), "worker.json")
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(specPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerChildProcess$", "-test.count=1", "-test.timeout=4m")
	cmd.Env = append(os.Environ(), killChildEnv+"="+specPath)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe() // held open: the child stops when it closes
	if err != nil {
		t.Fatal(err)
	}
	tSpawn := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	waited := false
	t.Cleanup(func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		stdin.Close()
		if t.Failed() {
			t.Logf("worker process output:\n%s", out)
		}
	})

	// Mid-scan: the child's download of the layer is held; the scan is Running on attempt 1
	// and its progress up to the layer is stored.
	select {
	case <-gate.arrived:
	case <-time.After(90 * time.Second):
		t.Fatal("the worker process never reached the layer download")
	}
	tHeld := time.Now()
	var first scanstore.Scan
	killPoll(t, "the worker process's progress stored", 10*time.Second, func() (bool, string) {
		sc, err := st.Get(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		evs, err := st.Events(ctx, id, 0, 100)
		if err != nil {
			return false, err.Error()
		}
		first = sc
		m := killMessages(evs)
		return slices.Equal(m, []string{"Pending:queued", "Running:started", "Running:pulling", "Running:layer 1/1 analysing"}),
			fmt.Sprintf("%s attempt %d, events %v", sc.Status, sc.Attempt, m)
	})
	if first.Status != scanstore.StatusRunning || first.Attempt != 1 || first.Fence == "" || !first.LeaseUntil.After(time.Now()) {
		t.Fatalf("mid-scan: %+v", first)
	}
	if s, err := c.Scan(ctx, id); err != nil || s.Status != "Running" || s.Attempt != 1 || s.StartedAt == nil {
		t.Fatalf("mid-scan status: %+v %v", s, err)
	}
	if d, err := q.Depth(ctx); err != nil || d != (queue.Stats{Leased: 1}) {
		t.Fatalf("queue mid-scan: %+v %v", d, err)
	}
	// The store's fence is the token of the live queue lease, held by the worker process
	// (the only worker yet): the queue renews only the current delivery. (It is what the
	// child's own heartbeat does.)
	old := queue.Lease{Job: queue.Job{ID: jobID, Kind: "scan"}, Attempt: 1, Token: first.Fence}
	if _, err := q.Extend(ctx, old, killLease); err != nil {
		t.Fatalf("the worker process's lease, by the store's fence: %v", err)
	}

	// SIGKILL: no shutdown, no release, no nack.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	tKill := time.Now()
	waitErr = cmd.Wait()
	waited = true
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) {
		t.Fatalf("the worker process ended with %v", waitErr)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the worker process ended with %v, not by SIGKILL", ee.ProcessState)
	}
	// Its held download broke with its connection: the request was the child's.
	select {
	case <-gate.aborted:
	case <-time.After(10 * time.Second):
		t.Fatal("the killed process's layer download did not end")
	}
	// The dead worker left the scan as it was: Running under its fence.
	if sc, err := st.Get(ctx, id); err != nil || sc.Status != scanstore.StatusRunning || sc.Attempt != 1 || sc.Fence != first.Fence {
		t.Fatalf("after the kill: %+v %v", sc, err)
	}

	// The second worker takes the scan over when the lease runs out; its download is held
	// too, so the dead worker's fence is tried while the new holder runs.
	start(t, killConfig(t, spec, "worker"), server.Options{DataDir: scansDataDir(t)})
	var second scanstore.Scan
	killPoll(t, "the second worker's claim", 30*time.Second, func() (bool, string) {
		sc, err := st.Get(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		second = sc
		return sc.Attempt == 2, fmt.Sprintf("%s attempt %d", sc.Status, sc.Attempt)
	})
	tClaim := time.Now()
	if second.Status != scanstore.StatusRunning || second.Fence == "" || second.Fence == first.Fence {
		t.Fatalf("second claim: %+v (first fence %s)", second, first.Fence)
	}
	select {
	case <-gate.arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the second worker never reached the layer download")
	}
	killPoll(t, "the second worker's progress stored", 10*time.Second, func() (bool, string) {
		sc, err := st.Get(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		second = sc
		evs, _ := st.Events(ctx, id, 0, 100)
		m := killMessages(evs)
		return len(m) == 7 && m[6] == "Running:layer 1/1 analysing", fmt.Sprint(m)
	})

	// Fencing: every write under the dead worker's fence and lease is refused and changes
	// nothing.
	now := time.Now()
	zombie := scanstore.Event{State: scanstore.StatusRunning, Message: "zombie", Time: now}
	if err := st.Append(ctx, id, first.Fence, []scanstore.Event{zombie}); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Errorf("append under the dead fence: %v", err)
	}
	if sc, err := st.Heartbeat(ctx, id, first.Fence, now.Add(time.Hour)); !errors.Is(err, scanstore.ErrFenceLost) || sc.Fence != second.Fence {
		t.Errorf("heartbeat under the dead fence: %v (%+v)", err, sc)
	}
	if err := st.Release(ctx, id, first.Fence, now, scanstore.Event{State: scanstore.StatusPending, Message: "zombie", Time: now}); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Errorf("release under the dead fence: %v", err)
	}
	if err := st.Finish(ctx, scanstore.Finish{ID: id, Fence: first.Fence, Status: scanstore.StatusFailed, Now: now, FailureReason: "zombie"},
		scanstore.Event{State: scanstore.StatusFailed, Message: "zombie", Time: now}); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Errorf("finish under the dead fence: %v", err)
	}
	if _, err := q.Extend(ctx, old, killLease); !errors.Is(err, queue.ErrLeaseLost) {
		t.Errorf("extend of the dead lease: %v", err)
	}
	if err := q.Nack(ctx, old, 0, "zombie"); !errors.Is(err, queue.ErrLeaseLost) {
		t.Errorf("nack of the dead lease: %v", err)
	}
	if err := q.Ack(ctx, old); !errors.Is(err, queue.ErrLeaseLost) {
		t.Errorf("ack of the dead lease: %v", err)
	}
	if sc, err := st.Get(ctx, id); err != nil || sc.Status != scanstore.StatusRunning || sc.Attempt != 2 || sc.Fence != second.Fence ||
		sc.LastSequence != second.LastSequence {
		t.Fatalf("after the dead worker's writes: %+v %v (was %+v)", sc, err, second)
	}
	if d, err := q.Depth(ctx); err != nil || d != (queue.Stats{Leased: 1}) {
		t.Fatalf("queue after the dead worker's writes: %+v %v", d, err)
	}

	// Release the download: the scan finishes, once.
	gate.open()
	tOpen := time.Now()
	done := scansWait(t, c, id)
	tDone := time.Now()
	if done.Status != "Succeeded" || done.Attempt != 2 || done.Run != 1 || done.FailureReason != nil || done.Result == nil ||
		done.Result.Digest != imgDigest.String() || done.StartedAt == nil || done.FinishedAt == nil {
		t.Fatalf("the scan: %+v", done)
	}
	raw, err := c.ScanResult(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Target struct{ Digest string }
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Target.Digest != imgDigest.String() {
		t.Fatalf("result: %v %+v", err, doc)
	}
	// The job is acked: nothing ready, leased, delayed or dead.
	killPoll(t, "the queue emptied", 10*time.Second, func() (bool, string) {
		d, err := q.Depth(ctx)
		return err == nil && d == (queue.Stats{}), fmt.Sprintf("%+v %v", d, err)
	})
	if dead, err := q.Dead(ctx); err != nil || len(dead) != 0 {
		t.Fatalf("dead jobs: %+v %v", dead, err)
	}

	// The live stream shows both attempts, the retry by another worker, and ends with one
	// completion.
	var s stream
	select {
	case s = <-live:
	case <-time.After(30 * time.Second):
		t.Fatal("the live stream did not end")
	}
	if s.err != nil {
		t.Fatalf("live stream: %v", s.err)
	}
	scansCheckFrames(t, id, s.evs, true, 1, "Succeeded")
	want := []string{"Pending:queued", "Running:started", "Running:pulling", "Running:layer 1/1 analysing",
		"Running:started", "Running:pulling", "Running:layer 1/1 analysing", "Running:layer 1/1 analysed", "Running:matching",
		"Running:policy " + done.Result.PolicyStatus, "Succeeded:completed"}
	if got := scansStates(s.evs); !slices.Equal(got, want) {
		t.Fatalf("live frames %v, want %v", got, want)
	}
	var starts []killStarted
	for _, e := range s.evs {
		if e.Message == "started" {
			var k killStarted
			if err := json.Unmarshal(e.Data, &k); err != nil {
				t.Fatal(err)
			}
			starts = append(starts, k)
		}
	}
	if len(starts) != 2 || starts[0].Attempt != 1 || starts[1].Attempt != 2 || starts[0].Worker == "" || starts[0].Worker == starts[1].Worker {
		t.Fatalf("started frames %+v: want attempts 1 and 2 by two workers", starts)
	}
	var completed struct{ Digest string }
	if err := json.Unmarshal(s.evs[len(s.evs)-1].Data, &completed); err != nil || completed.Digest != imgDigest.String() {
		t.Fatalf("completed frame %s", s.evs[len(s.evs)-1].Data)
	}
	// A late reader sees the same history.
	if again, _ := scansEvents(t, c, id, "jsonl", 0); len(again) != len(s.evs) {
		t.Fatalf("late reader: %d frames, live %d", len(again), len(s.evs))
	}

	// After the end the dead worker still can do nothing: the stored outcome and events stay.
	final, err := st.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	now = time.Now()
	if err := st.Finish(ctx, scanstore.Finish{ID: id, Fence: first.Fence, Status: scanstore.StatusSucceeded, Now: now, ImageDigest: "sha256:zombie",
		Outcome: []byte(`{"by":"zombie"}`), Result: []byte("zombie")}, scanstore.Event{State: scanstore.StatusSucceeded, Message: "zombie", Time: now}); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Errorf("late finish under the dead fence: %v", err)
	}
	if err := q.Ack(ctx, old); !errors.Is(err, queue.ErrLeaseLost) {
		t.Errorf("late ack of the dead lease: %v", err)
	}
	if sc, err := st.Get(ctx, id); err != nil || sc.LastSequence != final.LastSequence || !bytes.Equal(sc.Outcome, final.Outcome) ||
		sc.Status != scanstore.StatusSucceeded || sc.Fence != "" {
		t.Fatalf("after the late writes: %+v %v", sc, err)
	}
	gate.mu.Lock()
	served := gate.served
	gate.mu.Unlock()
	if served != 1 || len(gate.aborted) != 0 {
		t.Fatalf("layer downloads: %d served, %d more aborted; want the second worker's only", served, len(gate.aborted))
	}
	t.Logf("worker process: started→held download %v; kill→second claim %v (lease %v); release→Succeeded %v; total %v",
		tHeld.Sub(tSpawn).Round(time.Millisecond), tClaim.Sub(tKill).Round(time.Millisecond), killLease,
		tDone.Sub(tOpen).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
}
