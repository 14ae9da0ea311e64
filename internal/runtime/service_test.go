package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/runtime"
	"github.com/stellaops/stellaops/internal/runtime/sqlitestore"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newService(t *testing.T, cfg runtime.Config) (*runtime.Service, *fakeClock) {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "runtime.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &fakeClock{t: t0}
	cfg.Now = clk.Now
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := runtime.New(st, runtime.NewMemoryBuckets(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func decoded(t *testing.T, envs ...string) *runtime.Batch {
	t.Helper()
	b, err := runtime.DecodeBatch(batch(envs...), runtime.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIngestDuplicatesAndLimits(t *testing.T) {
	ctx := context.Background()
	cfg := runtime.DefaultConfig()
	cfg.Node = runtime.RateLimit{PerSecond: 50, Burst: 4}
	cfg.Tenant = runtime.RateLimit{PerSecond: 100, Burst: 6}
	s, clk := newService(t, cfg)
	onNode := func(id, node string) string {
		return envelope(t, id, func(ev map[string]any) { ev["node"] = node })
	}
	res, err := s.Ingest(ctx, decoded(t, onNode("a", "n1"), onNode("b", "n1"), onNode("c", "n2")))
	if err != nil || res != (runtime.IngestResult{Accepted: 3}) {
		t.Fatalf("first batch: %+v %v", res, err)
	}
	// Duplicates across batches are counted, not stored again, but still charged.
	res, err = s.Ingest(ctx, decoded(t, onNode("a", "n1"), onNode("d", "n1")))
	if err != nil || res != (runtime.IngestResult{Accepted: 1, Duplicates: 1}) {
		t.Fatalf("second batch: %+v %v", res, err)
	}
	// n1 has used its burst of 4: one more waits 1/50 s, and nothing is stored.
	_, err = s.Ingest(ctx, decoded(t, onNode("e", "n1")))
	var rl *runtime.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 20*time.Millisecond || rl.Node != "cluster-a/node-01" && rl.Node != "n1" {
		t.Fatalf("over n1's burst: %v", err)
	}
	if !strings.Contains(rl.Error(), `node "n1" of tenant "tenant-alpha" (50 events/s, burst 4)`) {
		t.Errorf("message %q", rl.Error())
	}
	// n2 still has room, but the tenant has used 5 of its 6.
	_, err = s.Ingest(ctx, decoded(t, onNode("f", "n2"), onNode("g", "n2")))
	if !errors.As(err, &rl) || rl.Node != "" || rl.Tenant != "tenant-alpha" || rl.RetryAfter != 10*time.Millisecond {
		t.Fatalf("over the tenant: %v", err)
	}
	if n, _ := s.Store().Count(ctx); n != 4 {
		t.Fatalf("%d stored, want 4", n)
	}
	clk.Add(time.Second)
	res, err = s.Ingest(ctx, decoded(t, onNode("e", "n1"), onNode("f", "n2"), onNode("g", "n2")))
	if err != nil || res.Accepted != 3 {
		t.Fatalf("after a second: %+v %v", res, err)
	}
	r, err := s.Store().Get(ctx, "tenant-alpha", "g")
	if err != nil || !r.ReceivedAt.Equal(t0.Add(time.Second)) || !r.ExpiresAt.Equal(t0.Add(time.Second+45*24*time.Hour)) || r.BatchID != "b-1" {
		t.Fatalf("stored %+v %v", r, err)
	}
}

func TestIngestDisabledLimits(t *testing.T) {
	cfg := runtime.DefaultConfig()
	cfg.Node, cfg.Tenant = runtime.RateLimit{PerSecond: -1}, runtime.RateLimit{PerSecond: -1}
	s, _ := newService(t, cfg)
	for i := range 5 {
		var envs []string
		for j := range 256 {
			envs = append(envs, envelope(t, fmt.Sprintf("e-%d-%d", i, j), nil))
		}
		if res, err := s.Ingest(context.Background(), decoded(t, envs...)); err != nil || res.Accepted != 256 {
			t.Fatalf("batch %d: %+v %v", i, res, err)
		}
	}
	if _, err := runtime.New(s.Store(), runtime.NewMemoryBuckets(), runtime.Config{Node: runtime.RateLimit{PerSecond: 5}}); err == nil {
		t.Fatal("a rate without a burst was accepted")
	}
}

func TestSweepAndExpiry(t *testing.T) {
	ctx := context.Background()
	cfg := runtime.DefaultConfig()
	cfg.TTL = time.Hour
	s, clk := newService(t, cfg)
	var envs []string
	for i := range 12 {
		envs = append(envs, envelope(t, fmt.Sprintf("e-%d", i), nil))
	}
	if _, err := s.Ingest(ctx, decoded(t, envs...)); err != nil {
		t.Fatal(err)
	}
	clk.Add(30 * time.Minute)
	if _, err := s.Ingest(ctx, decoded(t, envelope(t, "late", nil))); err != nil {
		t.Fatal(err)
	}
	req := &runtime.PolicyRequest{Images: []string{"sha256:deadbeef"}}
	v, err := s.Verdicts(ctx, req, "", "", nil)
	if err != nil || v.Results["sha256:deadbeef"].Runtime.Events != 13 {
		t.Fatalf("before expiry: %+v %v", v, err)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("early sweep deleted %d, %v", n, err)
	}
	clk.Add(30 * time.Minute) // the first 12 expire now
	v, _ = s.Verdicts(ctx, req, "", "", nil)
	if got := v.Results["sha256:deadbeef"].Runtime; got == nil || got.Events != 1 {
		t.Fatalf("expired events still counted: %+v", got)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 12 {
		t.Fatalf("sweep deleted %d, %v; want 12", n, err)
	}
	// The sweeper loop sweeps at once and stops with its context.
	clk.Add(time.Hour)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.RunSweeper(sctx, time.Hour) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, _ := s.Store().Count(ctx); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not delete the last event")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("sweeper returned %v", err)
	}
}

func TestVerdicts(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t, runtime.DefaultConfig())
	posture := func(signed bool) func(ev map[string]any) {
		return func(ev map[string]any) {
			ev["posture"] = map[string]any{"imageSigned": signed, "sbomReferrer": "present"}
		}
	}
	_, err := s.Ingest(ctx, decoded(t,
		envelope(t, "a", func(ev map[string]any) { ev["kind"] = "ContainerStart"; posture(false)(ev) }),
		envelope(t, "b", func(ev map[string]any) {
			ev["when"] = "2025-10-20T15:04:00Z"
			ev["node"] = "cluster-a/node-02"
			ev["workload"] = map[string]any{"namespace": "batch", "imageRef": "ghcr.io/acme/api@sha256:deadbeef"}
			posture(true)(ev)
		}),
		envelope(t, "c", func(ev map[string]any) { ev["tenant"] = "tenant-beta"; ev["kind"] = "PolicyViolation" }),
	))
	if err != nil {
		t.Fatal(err)
	}
	evidence := map[string]runtime.ImageEvidence{
		"sha256:deadbeef": {Signed: true, HasSBOM: true, PolicyVerdict: "pass", PolicyRevision: "rev-2", ReportID: "report-1",
			QuietedBy: []string{"Quiet Dev", "Ignore Low", "Quiet Dev"}, Attestation: &runtime.Attestation{UUID: "uuid-1", Index: 7, Verified: true}},
		"sha256:0001": {Signed: true, PolicyVerdict: "blocked", PolicyRevision: "rev-1", ReportID: "report-2",
			Attestation: &runtime.Attestation{UUID: "uuid-2", Index: 8}},
	}
	source := func(_ context.Context, d string) (runtime.ImageEvidence, error) { return evidence[d], nil }
	req := &runtime.PolicyRequest{Namespace: "payments", Images: []string{"sha256:0001", "sha256:0002", "sha256:deadbeef"}}
	got, err := s.Verdicts(ctx, req, "tenant-alpha", "rev-2", source)
	if err != nil {
		t.Fatal(err)
	}
	one := 1
	want := &runtime.PolicyResponse{
		TTLSeconds: 300, ExpiresAtUTC: "2025-10-20T15:08:12.000Z", PolicyRevision: "rev-2",
		Results: map[string]runtime.ImageVerdict{
			"sha256:deadbeef": {
				PolicyVerdict: "pass", Signed: true, HasSBOMReferrers: true, Quiet: true, QuietedBy: []string{"Ignore Low", "Quiet Dev"},
				Confidence: 1, Rekor: &runtime.Rekor{UUID: "uuid-1", Index: 7, Verified: true}, ReportID: "report-1", PolicyRevision: "rev-2",
				Reasons: []string{"observers reported 1 drift event(s) for this image"},
				Runtime: &runtime.Observation{
					Events: 2, FirstSeen: "2025-10-20T15:03:08.500Z", LastSeen: "2025-10-20T15:04:00.000Z",
					Kinds:      map[string]int{"ContainerStart": 1, "Drift": 1},
					Namespaces: []string{"batch", "payments"}, NamespaceCount: 2, Nodes: []string{"cluster-a/node-01", "cluster-a/node-02"}, NodeCount: 2,
					InNamespace: &one,
					Posture:     &runtime.PostureReport{ImageSigned: ptr(true), SBOMReferrer: "present", ObservedAt: "2025-10-20T15:04:00.000Z", Node: "cluster-a/node-02"},
				},
			},
			"sha256:0001": {
				PolicyVerdict: "fail", Signed: true, Confidence: 0.25, Rekor: &runtime.Rekor{UUID: "uuid-2", Index: 8}, ReportID: "report-2", PolicyRevision: "rev-1",
				Reasons: []string{
					"the policy report report-2 blocks this image",
					`the report was evaluated under policy revision "rev-1"; the active revision is "rev-2"`,
					"no SBOM referrer is stored for this image digest",
					"the transparency-log entry uuid-2 did not verify",
				},
			},
			"sha256:0002": {
				PolicyVerdict: "unknown", Reasons: []string{
					"no policy report names this image digest",
					"no trusted signature names this image digest",
					"no SBOM referrer is stored for this image digest",
					"no transparency-log entry attests this image digest",
				},
			},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("verdicts (-want +got):\n%s", d)
	}
	// Without an evidence source nothing is claimed, and the verdict says why; a token
	// without a tenant sees every tenant's events.
	got, err = s.Verdicts(ctx, &runtime.PolicyRequest{Images: []string{"sha256:deadbeef"}}, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	v := got.Results["sha256:deadbeef"]
	if v.PolicyVerdict != "unknown" || v.Signed || v.HasSBOMReferrers || v.Confidence != 0 || v.Rekor != nil || got.PolicyRevision != "" ||
		len(v.Reasons) != 3 || !strings.Contains(v.Reasons[0], "no supply-chain evidence") || v.Runtime.Events != 3 || v.Runtime.InNamespace != nil ||
		v.Runtime.Kinds["PolicyViolation"] != 1 || !strings.Contains(v.Reasons[2], "1 policy violation") {
		t.Errorf("without evidence: %+v", v)
	}
	// A failing evidence source fails the request rather than answering a guess.
	_, err = s.Verdicts(ctx, req, "", "", func(context.Context, string) (runtime.ImageEvidence, error) {
		return runtime.ImageEvidence{}, errors.New("report store down")
	})
	if err == nil || !strings.Contains(err.Error(), "report store down") {
		t.Errorf("failing source: %v", err)
	}
}
