package scanjob_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stellaops/stellaops/internal/queue"
	"github.com/stellaops/stellaops/internal/queue/memqueue"
	"github.com/stellaops/stellaops/internal/queue/redisqueue"
	"github.com/stellaops/stellaops/internal/scan/scanjob"
	"github.com/stellaops/stellaops/internal/scan/scanstore"
	"github.com/stellaops/stellaops/internal/scan/scanstore/pgstore"
	"github.com/stellaops/stellaops/internal/testenv"
)

func enqueue(t *testing.T, e *env, req scanjob.EnqueueRequest) scanstore.Scan {
	t.Helper()
	n, errs := scanjob.Normalize(req)
	if errs != nil {
		t.Fatalf("normalize: %v", errs)
	}
	if err := e.svc.CheckTarget(n); err != nil {
		t.Fatal(err)
	}
	sc, _, err := e.svc.Enqueue(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestQueuedScan runs a queued scan of the SBOM in an allowed local directory: the worker
// claims, scans, finishes and acks; the result is the library's; the events are in order.
func TestQueuedScan(t *testing.T) {
	e := newEnv(t, "", nil, nil, nil)
	sc := enqueue(t, e, scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: sbomPath(t)}, Metadata: map[string]string{"pipeline": "github"}})
	e.run(t, e.svc.RunWorkers)
	sc = e.wait(t, sc.ID)
	if sc.Status != scanstore.StatusSucceeded || sc.Attempt != 1 {
		t.Fatalf("scan %+v", sc)
	}
	out, err := scanjob.OutcomeOf(sc)
	if err != nil || out.Findings != 13 || out.Policy.Source != "threshold" || out.Components != 136 {
		t.Fatalf("outcome %+v %v", out, err)
	}
	res, err := scanjob.DecodeResult(must[[]byte](t)(e.store.Result(context.Background(), sc.ID)))
	if err != nil || len(res.Findings) != 13 || res.Summary != out.Summary {
		t.Fatalf("result: %v", err)
	}
	got := messages(e.events(t, sc.ID))
	want := []string{"Pending:queued", "Running:started", "Running:matching", "Running:policy " + out.PolicyStatus, "Succeeded:completed"}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if d, _ := e.q.Depth(context.Background()); d != (queue.Stats{}) {
		t.Fatalf("queue after the scan: %+v", d)
	}
}

// TestWorkerKilledMidScan: a worker takes the job and dies mid-scan (its lease runs out
// without ack); a second worker gets the job again and finishes it. When the first comes
// back it can write nothing and its ack fails: the scan finished exactly once.
func TestWorkerKilledMidScan(t *testing.T) {
	workerKilledMidScan(t, newEnv(t, "", nil, nil, nil))
}

// TestWorkerKilledMidScanPostgresRedis is the same with the scale-mode backends: two
// processes sharing PostgreSQL and a Redis queue (on Redis' clock).
func TestWorkerKilledMidScanPostgresRedis(t *testing.T) {
	st, err := pgstore.Open(context.Background(), testenv.PostgresSchemaDSN(t, "scanjob_test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	addr := testenv.RedisAddr(t)
	prefix := "scanjob-test-" + testenv.RandomHex(6)
	testenv.DeleteRedisKeysAtCleanup(t, addr, "{"+prefix+"}:*")
	q, err := redisqueue.New(testenv.RedisClient(t, addr), prefix, queue.Config{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	workerKilledMidScan(t, newEnv(t, "", st, q, nil))
}

func workerKilledMidScan(t *testing.T, a *env) {
	ctx := context.Background()
	sc := enqueue(t, a, scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: sbomPath(t)}})

	// Worker A leases and claims, reports progress, then stops dead.
	la, err := a.q.Lease(ctx, "worker-a", a.cfg.LeaseDuration)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.Claim(ctx, scanstore.Claim{ID: sc.ID, Run: 1, Fence: la.Token, Attempt: la.Attempt, LeaseUntil: time.Now().Add(time.Second), Now: time.Now()},
		scanstore.Event{State: scanstore.StatusRunning, Message: "started by a", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := a.store.Append(ctx, sc.ID, la.Token, []scanstore.Event{{State: scanstore.StatusRunning, Message: "a: layer 1/3", Time: time.Now()}}); err != nil {
		t.Fatal(err)
	}

	// Worker B (another process on the same store and queue) takes over after the lease.
	b := newEnv(t, a.data, a.store, a.q, nil)
	b.run(t, b.svc.RunWorkers)
	done := b.wait(t, sc.ID)
	if done.Status != scanstore.StatusSucceeded || done.Attempt != 2 {
		t.Fatalf("after the takeover: %+v", done)
	}

	// A wakes up: every write is refused, its ack too, and running Handle on its old lease
	// (a paused worker resuming) changes nothing.
	if err := a.store.Append(ctx, sc.ID, la.Token, []scanstore.Event{{State: scanstore.StatusRunning, Message: "a: late", Time: time.Now()}}); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Fatalf("A's late append: %v", err)
	}
	if err := a.store.Finish(ctx, scanstore.Finish{ID: sc.ID, Fence: la.Token, Status: scanstore.StatusFailed, Now: time.Now(), FailureReason: "a"},
		scanstore.Event{State: scanstore.StatusFailed, Message: "a", Time: time.Now()}); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Fatalf("A's late finish: %v", err)
	}
	if err := a.q.Ack(ctx, la); !errors.Is(err, queue.ErrLeaseLost) {
		t.Fatalf("A's late ack: %v", err)
	}
	a.svc.Handle(ctx, la)

	after, _ := a.store.Get(ctx, sc.ID)
	evs := a.events(t, sc.ID)
	if after.Status != scanstore.StatusSucceeded || after.Attempt != 2 || count(evs, scanstore.StatusSucceeded) != 1 ||
		count(evs, scanstore.StatusFailed) != 0 || slices.Contains(messages(evs), "Running:a: late") {
		t.Fatalf("after A's return: %+v, events %v", after, messages(evs))
	}
	m := messages(evs)
	ia, ib := slices.Index(m, "Running:a: layer 1/3"), slices.Index(m, "Running:started")
	if ia < 0 || ib < ia {
		t.Fatalf("events %v", m)
	}
	if d, _ := a.q.Depth(ctx); d != (queue.Stats{}) {
		t.Fatalf("queue: %+v", d)
	}
}

// TestWorkerDiesAfterFinish: the result is stored under the first delivery's fence, then its
// worker dies before acking; the redelivery finds the scan finished and only acks.
func TestWorkerDiesAfterFinish(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "", nil, nil, nil)
	sc := enqueue(t, e, scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: sbomPath(t)}})
	la, err := e.q.Lease(ctx, "worker-a", e.cfg.LeaseDuration)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := e.store.Claim(ctx, scanstore.Claim{ID: sc.ID, Run: 1, Fence: la.Token, Attempt: la.Attempt, LeaseUntil: now.Add(time.Second), Now: now},
		scanstore.Event{State: scanstore.StatusRunning, Message: "started", Time: now}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Finish(ctx, scanstore.Finish{ID: sc.ID, Fence: la.Token, Status: scanstore.StatusSucceeded, Now: now, ImageDigest: "sha256:a",
		Outcome: []byte(`{"by":"a"}`), Result: []byte("a")}, scanstore.Event{State: scanstore.StatusSucceeded, Message: "completed", Time: now}); err != nil {
		t.Fatal(err)
	}
	e.run(t, e.svc.RunWorkers)
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, _ := e.q.Depth(ctx)
		if d == (queue.Stats{}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the redelivered job was not acked: %+v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, _ := e.store.Get(ctx, sc.ID)
	if string(got.Outcome) != `{"by":"a"}` || got.Attempt != 1 || count(e.events(t, sc.ID), scanstore.StatusSucceeded) != 1 {
		t.Fatalf("the redelivery changed the scan: %+v %v", got, messages(e.events(t, sc.ID)))
	}
}

// TestCancelStopsWorker: a scan stuck pulling from a registry that never answers is
// cancelled; the worker notices at its next heartbeat, stops, and acks without a result.
func TestCancelStopsWorker(t *testing.T) {
	ctx := context.Background()
	release := make(chan struct{})
	hits := make(chan struct{}, 10)
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case hits <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer reg.Close()
	defer close(release)
	host := strings.TrimPrefix(reg.URL, "http://")
	e := newEnv(t, "", nil, nil, func(c *scanjob.Config) { c.InsecureRegistries = []string{host} })
	sc := enqueue(t, e, scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: host + "/acme/app:1.2.3"}})
	e.run(t, e.svc.RunWorkers)
	select {
	case <-hits:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker never reached the registry")
	}
	got, ok, err := e.svc.Cancel(ctx, sc.ID, "ci-bot")
	if err != nil || !ok || got.Status != scanstore.StatusCancelled {
		t.Fatalf("cancel: %+v %v %v", got, ok, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if d, _ := e.q.Depth(ctx); d == (queue.Stats{}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cancelled scan's job was not acked")
		}
		time.Sleep(20 * time.Millisecond)
	}
	evs := e.events(t, sc.ID)
	if last := evs[len(evs)-1]; last.State != scanstore.StatusCancelled || last.Message != "cancelled by ci-bot" {
		t.Fatalf("events %v", messages(evs))
	}
}

// TestRegistryScans pulls from a real (in-memory) registry: a pull by tag succeeds and records
// the layer's names; the image's second scan reuses the cached layer; a missing image fails at
// once (no retry); a digest pins the pull.
func TestRegistryScans(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	archive := filepath.Join(repoTestdata(t), "images", "alpine-3.10.4.docker-save.tar.gz")
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
	for _, tag := range []string{"alpine:3.10", "alpine:again"} {
		ref, err := name.ParseReference(host+"/library/"+tag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	digest, _ := img.Digest()
	layers, _ := img.Layers()
	blob, _ := layers[0].Digest()
	diffID, _ := layers[0].DiffID()

	e := newEnv(t, "", nil, nil, func(c *scanjob.Config) { c.InsecureRegistries = []string{host} })
	e.run(t, e.svc.RunWorkers)
	if missing, _ := e.svc.MissingLayers(ctx, []string{blob.String(), diffID.String()}); len(missing) != 2 {
		t.Fatalf("before: missing %v", missing)
	}
	first := e.wait(t, enqueue(t, e, scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: host + "/library/alpine:3.10"}}).ID)
	if first.Status != scanstore.StatusSucceeded || first.ImageDigest != digest.String() {
		t.Fatalf("pull by tag: %+v", first)
	}
	if !slices.Contains(messages(e.events(t, first.ID)), "Running:layer 1/1 analysed") {
		t.Fatalf("first scan events %v", messages(e.events(t, first.ID)))
	}
	if missing, _ := e.svc.MissingLayers(ctx, []string{blob.String(), diffID.String()}); len(missing) != 0 {
		t.Fatalf("after: missing %v", missing)
	}
	second := e.wait(t, enqueue(t, e, scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: host + "/library/alpine:again", Digest: digest.String()}}).ID)
	if second.Status != scanstore.StatusSucceeded || !slices.Contains(messages(e.events(t, second.ID)), "Running:layer 1/1 cached") {
		t.Fatalf("second scan %+v: %v", second, messages(e.events(t, second.ID)))
	}
	gone := e.wait(t, enqueue(t, e, scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: host + "/library/nothing:1"}}).ID)
	if gone.Status != scanstore.StatusFailed || gone.Attempt != 1 || !strings.Contains(gone.FailureReason, "NAME_UNKNOWN") {
		t.Fatalf("missing image: %+v", gone)
	}
	wrong := e.wait(t, enqueue(t, e, scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: host + "/library/alpine:3.10",
		Digest: "sha256:" + strings.Repeat("0", 64)}}).ID)
	if wrong.Status != scanstore.StatusFailed || wrong.Attempt != 1 {
		t.Fatalf("wrong digest: %+v", wrong)
	}
	// An allowlist keeps other registries out, at enqueue and in the worker.
	locked := newEnv(t, "", nil, nil, func(c *scanjob.Config) { c.AllowedRegistries = []string{"ghcr.io"} })
	n, _ := scanjob.Normalize(scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: host + "/library/alpine:3.10"}})
	if err := locked.svc.CheckTarget(n); !errors.Is(err, scanjob.ErrRefused) {
		t.Fatalf("allowlist: %v", err)
	}
}

// TestRetriesThenGivesUp: a transient failure is retried with backoff, the scan back in
// Pending between attempts; the last attempt fails the scan.
func TestRetriesThenGivesUp(t *testing.T) {
	ctx := context.Background()
	// A registry answering a status that is neither a known permanent refusal (401, 403,
	// 404) nor one go-containerregistry retries itself: the worker's own retries handle it.
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	mq, err := memqueue.New(queue.Config{MaxAttempts: 3, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer mq.Close()
	e := newEnv(t, "", nil, mq, func(c *scanjob.Config) { c.InsecureRegistries = []string{host}; c.MaxAttempts = 3 })
	sc := enqueue(t, e, scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: host + "/acme/app:1"}})
	e.run(t, e.svc.RunWorkers)
	sc = e.wait(t, sc.ID)
	m := messages(e.events(t, sc.ID))
	if sc.Status != scanstore.StatusFailed || sc.Attempt != 3 || !strings.HasPrefix(sc.FailureReason, "gave up after 3 attempts: ") {
		t.Fatalf("scan %+v\n%v", sc, m)
	}
	retries := 0
	for _, s := range m {
		if strings.HasPrefix(s, "Pending:attempt ") && strings.Contains(s, "; retrying in ") {
			retries++
		}
	}
	if retries != 2 || count(e.events(t, sc.ID), scanstore.StatusFailed) != 1 {
		t.Fatalf("events %v", m)
	}
	if d, _ := mq.Depth(ctx); d != (queue.Stats{}) {
		t.Fatalf("queue %+v", d)
	}
}

// TestSweeper fails an upload whose replica stopped beating and a queued scan whose job died
// in the queue.
func TestSweeper(t *testing.T) {
	ctx := context.Background()
	mq, err := memqueue.New(queue.Config{MaxAttempts: 1, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer mq.Close()
	e := newEnv(t, "", nil, mq, nil)
	old := time.Now().Add(-time.Hour)
	up := scanstore.Scan{ID: strings.Repeat("a", 32), Kind: scanstore.KindUpload, Request: []byte(`{}`), Status: scanstore.StatusPending,
		Run: 1, LeaseUntil: old, CreatedAt: old, UpdatedAt: old}
	if _, _, err := e.store.Create(ctx, up, scanstore.Event{State: scanstore.StatusPending, Message: "received", Time: old}); err != nil {
		t.Fatal(err)
	}
	sc := enqueue(t, e, scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: sbomPath(t)}})
	l, err := mq.Lease(ctx, "dies", 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Claim(ctx, scanstore.Claim{ID: sc.ID, Run: 1, Fence: l.Token, Attempt: l.Attempt, LeaseUntil: time.Now(), Now: time.Now()},
		scanstore.Event{State: scanstore.StatusRunning, Message: "started", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if d, _ := mq.Depth(ctx); d.Dead != 1 {
		t.Fatalf("queue %+v", d)
	}
	if err := e.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := e.store.Get(ctx, up.ID)
	if got.Status != scanstore.StatusFailed || !strings.HasPrefix(got.FailureReason, "interrupted: the replica running the scan stopped") {
		t.Fatalf("upload %+v", got)
	}
	got, _ = e.store.Get(ctx, sc.ID)
	if got.Status != scanstore.StatusFailed || got.FailureReason != "gave up after 1 attempts: "+queue.ReasonLeaseExpired {
		t.Fatalf("queued %+v", got)
	}
	// A second sweep changes nothing.
	n := len(e.events(t, sc.ID))
	if err := e.svc.Sweep(ctx); err != nil || len(e.events(t, sc.ID)) != n {
		t.Fatalf("second sweep: %v", err)
	}
}

// TestUploads runs uploads: an SBOM inventory and a URL, their events and outcomes; an
// identical request after the end runs again; a stopped service refuses.
func TestUploads(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "", nil, nil, nil)
	if _, err := e.svc.SubmitUpload(ctx, scanjob.Upload{}); !errors.Is(err, scanjob.ErrStopping) {
		t.Fatalf("before RunUploads: %v", err)
	}
	e.run(t, e.svc.RunUploads)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := e.svc.SubmitUpload(ctx, scanjob.Upload{Request: scanjob.UploadRequest{ContentDigest: "sha256:probe", Threshold: "critical"},
			Target: scanjob.Target{Path: filepath.Join(e.data, "does-not-exist")}})
		if !errors.Is(err, scanjob.ErrStopping) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("RunUploads did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	req := scanjob.UploadRequest{ContentDigest: "sha256:" + strings.Repeat("1", 64), Threshold: "low"}
	sub, err := e.svc.SubmitUpload(ctx, scanjob.Upload{Request: req, Target: scanjob.Target{Path: sbomPath(t)}, Threshold: "Low"})
	if err != nil || sub.Joined {
		t.Fatalf("submit: %+v %v", sub, err)
	}
	<-sub.Done()
	if sub.Err() != nil {
		t.Fatal(sub.Err())
	}
	sc := must[scanstore.Scan](t)(e.store.Get(ctx, sub.Scan.ID))
	out, _ := scanjob.OutcomeOf(sc)
	if sc.Status != scanstore.StatusSucceeded || out.Findings != 13 || out.Policy.Threshold != "Low" || sc.Kind != scanstore.KindUpload {
		t.Fatalf("upload %+v %+v", sc, out)
	}
	if m := messages(e.events(t, sc.ID)); m[0] != "Pending:received" || m[1] != "Running:started" || m[len(m)-1] != "Succeeded:completed" {
		t.Fatalf("events %v", m)
	}
	again, err := e.svc.SubmitUpload(ctx, scanjob.Upload{Request: req, Target: scanjob.Target{Path: sbomPath(t)}, Threshold: "Low"})
	if err != nil || again.Joined || again.Scan.ID != sc.ID || again.Scan.Run != 2 {
		t.Fatalf("again: %+v %v", again, err)
	}
	<-again.Done()

	// A URL that cannot be fetched fails the scan for what it is.
	bad, err := e.svc.SubmitUpload(ctx, scanjob.Upload{Request: scanjob.UploadRequest{URL: "http://127.0.0.1:1/x", Threshold: "critical"},
		URL: must[*url.URL](t)(url.Parse("http://127.0.0.1:1/x"))})
	if err != nil {
		t.Fatal(err)
	}
	<-bad.Done()
	if !errors.Is(bad.Err(), scanjob.ErrURLRefused) || !scanjob.IsPermanent(bad.Err()) {
		t.Fatalf("refused URL: %v", bad.Err())
	}
	if sc := must[scanstore.Scan](t)(e.store.Get(ctx, bad.Scan.ID)); sc.Status != scanstore.StatusFailed || !strings.Contains(sc.FailureReason, "fetching uploads from URLs is disabled") {
		t.Fatalf("refused URL scan %+v", sc)
	}
}

// TestStream writes the history then live frames, and ends after the terminal one.
func TestStream(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "", nil, nil, nil)
	sc := enqueue(t, e, scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: sbomPath(t)}})
	got := make(chan []scanjob.Frame, 1)
	go func() {
		var all []scanjob.Frame
		err := e.svc.Stream(ctx, sc.ID, 0, func(fs []scanjob.Frame) error { all = append(all, fs...); return nil }, nil)
		if err != nil {
			all = nil
		}
		got <- all
	}()
	time.Sleep(50 * time.Millisecond) // the stream has sent the queued frame and waits
	e.run(t, e.svc.RunWorkers)
	var frames []scanjob.Frame
	select {
	case frames = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("the stream did not end")
	}
	evs := e.events(t, sc.ID)
	if len(frames) != len(evs) || frames[len(frames)-1].State != "Succeeded" {
		t.Fatalf("%d frames, %d events", len(frames), len(evs))
	}
	for i, f := range frames {
		var d map[string]any
		if f.Sequence != int64(i+1) || f.CorrelationID != scanstore.DefaultCorrelationID(sc.ID, f.Sequence) || json.Unmarshal(f.Data, &d) != nil {
			t.Fatalf("frame %d: %+v", i, f)
		}
	}
	line := string(frames[0].AppendSSE(nil))
	if !strings.HasPrefix(line, "id: 1\nevent: pending\ndata: {\"scanId\":\""+sc.ID+"\",\"sequence\":1,\"state\":\"Pending\",\"message\":\"queued\",\"timestamp\":\"") ||
		!strings.HasSuffix(line, ",\"correlationId\":\""+sc.ID+":0001\",\"data\":{\"force\":false}}\n\n") {
		t.Fatalf("SSE frame %q", line)
	}
	// RunStreams ending (shutdown) ends a stream of an unfinished scan.
	sctx, stop := context.WithCancel(ctx)
	ended := make(chan error, 1)
	pending := enqueueRaw(t, e)
	go func() {
		ended <- e.svc.Stream(ctx, pending, 0, func([]scanjob.Frame) error { return nil }, nil)
	}()
	go func() { _ = e.svc.RunStreams(sctx) }()
	time.Sleep(50 * time.Millisecond)
	stop()
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("stream at shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream outlived RunStreams")
	}
}

// enqueueRaw stores a pending queued scan that no job will run.
func enqueueRaw(t *testing.T, e *env) string {
	t.Helper()
	id := strings.Repeat("b", 32)
	now := time.Now()
	if _, _, err := e.store.Create(context.Background(), scanstore.Scan{ID: id, Kind: scanstore.KindQueued, Request: []byte(`{}`),
		Status: scanstore.StatusPending, Run: 1, LeaseUntil: now, CreatedAt: now, UpdatedAt: now},
		scanstore.Event{State: scanstore.StatusPending, Message: "queued", Time: now}); err != nil {
		t.Fatal(err)
	}
	return id
}
