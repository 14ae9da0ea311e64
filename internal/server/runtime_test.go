package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/config"
	"github.com/stellaops/stellaops/internal/runtime/pgstore"
	"github.com/stellaops/stellaops/internal/runtime/sqlitestore"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/testenv"
	"github.com/stellaops/stellaops/pkg/client"
)

// runtimeConfig is the runtime area as the tests run it: the spec's rates and bursts, a
// smaller batch and payload cap (configurable, as the spec says), a fast sweeper, and no
// per-token request limit (the clock stands still, so every request falls in one second).
func runtimeConfig() server.Config {
	cfg := baseConfig()
	cfg.Quota.RatePerSecond = -1
	cfg.Runtime.MaxBatchSize = 100
	cfg.Runtime.MaxPayloadBytes = 64 << 10
	cfg.Runtime.SweepInterval = 20 * time.Millisecond
	return cfg
}

// runtimeEnv is one or more replicas of a server with the runtime area, and a way to count
// what their store holds.
type runtimeEnv struct {
	t     *testing.T
	urls  []string
	clk   *clock
	count func() int
	// secrets of the clients made on the first replica
	secrets map[string]string
}

func newRuntimeEnv(t *testing.T, urls []string, clk *clock, count func() int) *runtimeEnv {
	e := &runtimeEnv{t: t, urls: urls, clk: clk, count: count, secrets: map[string]string{}}
	admin := newClient(t, urls[0], client.WithBootstrapKey(bootstrap))
	for _, c := range []client.NewClient{
		{ClientID: "zastava-observer", Scopes: []string{authority.ScopeRuntimeIngest}},
		{ClientID: "zastava-beta", Scopes: []string{authority.ScopeRuntimeIngest}, Tenant: "tenant-beta"},
		{ClientID: "admission-webhook", Scopes: []string{authority.ScopeScansRead}},
	} {
		info, err := admin.CreateClient(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		e.secrets[c.ClientID] = info.Secret
	}
	return e
}

// as returns a validating client of replica i with a fresh token of clientID.
func (e *runtimeEnv) as(clientID string, i int) *client.Client {
	e.t.Helper()
	url := e.urls[i%len(e.urls)]
	tok, err := newClient(e.t, url).Token(context.Background(), client.TokenRequest{ClientID: clientID, ClientSecret: e.secrets[clientID]})
	if err != nil {
		e.t.Fatal(err)
	}
	return validated(e.t, url, client.WithToken(tok.AccessToken))
}

// observers returns one observer client per replica.
func (e *runtimeEnv) observers() []*client.Client {
	var out []*client.Client
	for i := range e.urls {
		out = append(out, e.as("zastava-observer", i))
	}
	return out
}

func runtimeFloodEvent(i int, node string) client.RuntimeEnvelope {
	pid := int64(1000 + i)
	return client.RuntimeEnvelope{SchemaVersion: client.RuntimeSchemaVersion, Event: client.RuntimeEvent{
		EventID: fmt.Sprintf("flood-%04d", i), When: time.Date(2025, 10, 20, 15, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		Kind: "ContainerStart", Tenant: "tenant-alpha", Node: node,
		Runtime:  &client.RuntimeEngine{Engine: "containerd", Version: "1.7.19"},
		Workload: &client.RuntimeWorkload{Platform: "kubernetes", Namespace: fmt.Sprintf("ns-%d", i%3), Pod: fmt.Sprintf("api-%04d", i), Container: "api", ImageRef: "ghcr.io/acme/flood@sha256:f100d"},
		Process:  &client.RuntimeProcess{PID: &pid, Entrypoint: []string{"/start.sh"}},
	}}
}

// runtimeScenario runs the area's walk-through on the replicas of e, spreading requests over
// them: the spec's example replayed verbatim, every 400, a flood that the token buckets cut
// (429 + Retry-After) without losing an accepted event, concurrent batches, duplicates across
// batches and replicas, verdicts, and the sweep.
func runtimeScenario(t *testing.T, e *runtimeEnv) {
	ctx := context.Background()
	n := len(e.urls)
	obs := e.observers()
	last := obs[n-1]

	// The spec's request example, byte for byte; replayed (on another replica if there is
	// one) it is a duplicate.
	spec, err := os.ReadFile("../runtime/testdata/spec-example.json")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []client.RuntimeIngestResult{{Accepted: 1}, {Duplicates: 1}} {
		resp, err := obs[i%n].Raw(ctx, http.MethodPost, "/api/v1/runtime/events", nil, "application/json", bytes.NewReader(spec))
		if err != nil {
			t.Fatalf("spec example (%d): %v", i, err)
		}
		var got client.RuntimeIngestResult
		if err := json.Unmarshal(resp.Body, &got); err != nil || resp.StatusCode != http.StatusAccepted || got != want {
			t.Fatalf("spec example (%d): %d %s; want 202 %+v", i, resp.StatusCode, resp.Body, want)
		}
	}
	if c := e.count(); c != 1 {
		t.Fatalf("%d events stored after the example, want 1", c)
	}
	hook := e.as("admission-webhook", n-1)
	v, resp, err := hook.RuntimePolicy(ctx, client.RuntimePolicyRequest{Namespace: "payments", Labels: map[string]string{"app": "api"},
		Images: []string{"sha256:DEADBEEF", "sha256:deadbeef"}})
	if err != nil {
		t.Fatal(err)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "private, max-age=300" || v.TTLSeconds != 300 || !v.ExpiresAtUTC.Equal(e.clk.Now().Truncate(time.Millisecond).Add(5*time.Minute)) ||
		v.PolicyRevision != "" || len(v.Results) != 1 {
		t.Fatalf("verdict response %+v (Cache-Control %q)", v, cc)
	}
	runtimeCheckUnknown(t, v.Results["sha256:deadbeef"])
	one := 1
	pos := v.Results["sha256:deadbeef"].Runtime
	if pos == nil || pos.Events != 1 || !slices.Equal(pos.Namespaces, []string{"payments"}) || !slices.Equal(pos.Nodes, []string{"cluster-a/node-01"}) ||
		pos.InNamespace == nil || *pos.InNamespace != one || pos.Kinds["ContainerStart"] != 1 ||
		!pos.FirstSeen.Equal(time.Date(2025, 10, 20, 15, 3, 8, 0, time.UTC)) ||
		pos.Posture == nil || pos.Posture.ImageSigned == nil || !*pos.Posture.ImageSigned || pos.Posture.SBOMReferrer != "present" {
		t.Fatalf("runtime of the example: %+v", pos)
	}

	runtimeRefusals(t, e, obs[0])

	// The flood: 1000 events of one tenant from 4 nodes in batches of 50, spread over the
	// replicas, retried after Retry-After (the clock moves on instead of the test waiting).
	const total, size = 1000, 50
	e.clk.Add(10 * time.Second) // full buckets: the example above took two tokens
	var events []client.RuntimeEnvelope
	for i := range total {
		events = append(events, runtimeFloodEvent(i, fmt.Sprintf("cluster-a/node-%02d", (i/size)%4)))
	}
	start := e.clk.Now()
	before := e.count()
	accepted, limited := 0, 0
	for b := 0; b < total/size; {
		res, resp, err := obs[b%n].PostRuntimeEvents(ctx, client.RuntimeEventBatch{BatchID: fmt.Sprintf("flood-%d", b), Events: events[b*size : (b+1)*size]})
		if client.IsStatus(err, http.StatusTooManyRequests) {
			limited++
			var ce *client.Error
			_ = runtimeErr(err, &ce)
			ra, perr := strconv.Atoi(resp.Header.Get("Retry-After"))
			if perr != nil || ra < 1 || ce.Type != api.ProbRateLimited || !strings.Contains(ce.Detail, `tenant "tenant-alpha" (200 events/s, burst 200)`) {
				t.Fatalf("429: Retry-After %q, %+v", resp.Header.Get("Retry-After"), ce)
			}
			e.clk.Add(time.Duration(ra) * time.Second)
			continue
		}
		if err != nil || res.Accepted != size || res.Duplicates != 0 {
			t.Fatalf("batch %d: %+v %v", b, res, err)
		}
		accepted += res.Accepted
		// Within the limits: never more than the burst plus the rate times the time elapsed.
		if elapsed := e.clk.Now().Sub(start).Seconds(); float64(accepted) > 200+200*elapsed {
			t.Fatalf("%d events accepted in %.0fs: over 200 + 200/s", accepted, elapsed)
		}
		b++
	}
	// 200 at once, then 200 a second: four waits of a second, shared by every replica.
	if accepted != total || limited != 4 || e.clk.Now().Sub(start) != 4*time.Second {
		t.Fatalf("flood: %d accepted, %d limited, %v elapsed; want 1000, 4, 4s", accepted, limited, e.clk.Now().Sub(start))
	}
	if c := e.count() - before; c != accepted {
		t.Fatalf("%d events stored, %d accepted", c, accepted)
	}

	// Concurrent batches at one instant with full buckets: exactly the burst is accepted,
	// whichever replicas they reach, and everything accepted is stored.
	e.clk.Add(10 * time.Second)
	before = e.count()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sum, refused := 0, 0
	for g := range 8 {
		var batch []client.RuntimeEnvelope
		for i := range size {
			batch = append(batch, runtimeFloodEvent(total+g*size+i, fmt.Sprintf("cluster-b/node-%02d", g)))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, _, err := obs[g%n].PostRuntimeEvents(ctx, client.RuntimeEventBatch{Events: batch})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case client.IsStatus(err, http.StatusTooManyRequests):
				refused++
			case err != nil:
				t.Error(err)
			default:
				sum += res.Accepted
			}
		}()
	}
	wg.Wait()
	if sum != 200 || refused != 4 || e.count()-before != 200 {
		t.Fatalf("concurrent: %d accepted, %d refused, %d stored; want 200, 4, 200", sum, refused, e.count()-before)
	}

	// Duplicates across batches and replicas.
	e.clk.Add(10 * time.Second)
	before = e.count()
	res, _, err := last.PostRuntimeEvents(ctx, client.RuntimeEventBatch{Events: events[:size]})
	if err != nil || res != (client.RuntimeIngestResult{Duplicates: size}) {
		t.Fatalf("a stored batch again: %+v %v", res, err)
	}
	mixed := append(slices.Clone(events[size:size+25]), runtimeFloodEvent(5000, "cluster-a/node-00"), runtimeFloodEvent(5001, "cluster-a/node-00"))
	if res, _, err = obs[0].PostRuntimeEvents(ctx, client.RuntimeEventBatch{Events: mixed}); err != nil || res != (client.RuntimeIngestResult{Accepted: 2, Duplicates: 25}) {
		t.Fatalf("mixed batch: %+v %v", res, err)
	}
	// The same new batch to every replica at once: stored once in all.
	var fresh []client.RuntimeEnvelope
	for i := range 20 {
		fresh = append(fresh, runtimeFloodEvent(6000+i, "cluster-c/node-00"))
	}
	got := make([]client.RuntimeIngestResult, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := obs[i].PostRuntimeEvents(ctx, client.RuntimeEventBatch{Events: fresh})
			if err != nil {
				t.Error(err)
			}
			got[i] = r
		}()
	}
	wg.Wait()
	acc, dup := 0, 0
	for _, r := range got {
		acc, dup = acc+r.Accepted, dup+r.Duplicates
	}
	if acc != 20 || dup != 20*(n-1) || e.count()-before != 22 {
		t.Fatalf("same batch on %d replicas: %d accepted, %d duplicates, %d stored", n, acc, dup, e.count()-before)
	}

	// The flood's image as the webhook sees it, from the last replica.
	v, _, err = hook.RuntimePolicy(ctx, client.RuntimePolicyRequest{Images: []string{"sha256:f100d"}})
	if err != nil {
		t.Fatal(err)
	}
	fv := v.Results["sha256:f100d"]
	runtimeCheckUnknown(t, fv)
	if fv.Runtime == nil || fv.Runtime.Events != total+200+22 || !slices.Equal(fv.Runtime.Namespaces, []string{"ns-0", "ns-1", "ns-2"}) ||
		fv.Runtime.NodeCount != 9 || fv.Runtime.InNamespace != nil || fv.Runtime.Posture != nil {
		t.Fatalf("flood verdict runtime %+v", fv.Runtime)
	}

	// TTL: 45 days after they were received events are hidden at once, then swept.
	e.clk.Add(45*24*time.Hour + time.Minute)
	hook = e.as("admission-webhook", 0)
	v, _, err = hook.RuntimePolicy(ctx, client.RuntimePolicyRequest{Images: []string{"sha256:f100d", "sha256:deadbeef"}})
	if err != nil {
		t.Fatal(err)
	}
	for d, r := range v.Results {
		if r.Runtime != nil {
			t.Fatalf("%s: expired events still in the verdict: %+v", d, r.Runtime)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.count() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d events left 10s after their TTL", e.count())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runtimeErr(err error, dst **client.Error) bool { return errors.As(err, dst) }

// runtimeCheckUnknown: a digest without any report is unknown, unsigned, without SBOM, with
// confidence 0, and says why (whether or not this server has image reports).
func runtimeCheckUnknown(t *testing.T, v client.RuntimeImageVerdict) {
	t.Helper()
	if v.PolicyVerdict != "unknown" || v.Signed || v.HasSBOMReferrers || v.Quiet || v.Confidence != 0 || v.Rekor != nil || v.ReportID != "" || len(v.Reasons) == 0 {
		t.Fatalf("verdict of a digest without evidence: %+v", v)
	}
	noReports := "no supply-chain evidence is available on this server (image reports are not enabled): signature, SBOM and policy verdict are unknown"
	if v.Reasons[0] != noReports && !slices.Equal(v.Reasons[:4], []string{"no policy report names this image digest",
		"no trusted signature names this image digest", "no SBOM referrer is stored for this image digest",
		"no transparency-log entry attests this image digest"}) {
		t.Fatalf("reasons %q", v.Reasons)
	}
}

// runtimeRefusals sends each refused request and checks that nothing was stored.
func runtimeRefusals(t *testing.T, e *runtimeEnv, obs *client.Client) {
	ctx := context.Background()
	before := e.count()
	ev := func(id string) client.RuntimeEnvelope { return runtimeFloodEvent(9000, "cluster-a/node-01") }
	dupe := []client.RuntimeEnvelope{runtimeFloodEvent(9000, "n"), runtimeFloodEvent(9001, "n"), runtimeFloodEvent(9000, "n")}
	var many []client.RuntimeEnvelope
	for i := range 101 {
		many = append(many, runtimeFloodEvent(9100+i, "n"))
	}
	big := runtimeFloodEvent(9500, "n")
	big.Event.Annotations = map[string]string{"blob": strings.Repeat("x", 8000)}
	var bigBatch []client.RuntimeEnvelope
	for i := range 9 {
		b := big
		b.Event.EventID = fmt.Sprintf("big-%d", i)
		bigBatch = append(bigBatch, b)
	}
	body := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v2 := body(client.RuntimeEventBatch{Events: []client.RuntimeEnvelope{ev("x")}})
	v2 = bytes.Replace(v2, []byte("@v1"), []byte("@v2"), 1)
	oversize := body(client.RuntimeEventBatch{Events: bigBatch})
	if len(oversize) <= 64<<10 {
		t.Fatalf("oversize batch is only %d bytes", len(oversize))
	}
	for _, tc := range []struct {
		name   string
		body   io.Reader
		ctype  string
		status int
		typ    string
		detail string
		path   string
	}{
		{"empty batch", strings.NewReader(`{"batchId":"b","events":[]}`), "application/json", 400, api.ProbValidation, "empty batch", "$.events"},
		{"too many events", bytes.NewReader(body(client.RuntimeEventBatch{Events: many})), "application/json", 400, api.ProbValidation, "too many events: $.events: the batch has 101 events; at most 100", "$.events"},
		{"duplicate ids", bytes.NewReader(body(client.RuntimeEventBatch{Events: dupe})), "application/json", 400, api.ProbValidation, "duplicate event ids", "$.events[2].event.eventId"},
		{"unsupported schema version", bytes.NewReader(v2), "application/json", 400, api.ProbValidation, "unsupported schema version", "$.events[0].schemaVersion"},
		{"payload too large", bytes.NewReader(oversize), "application/json", 400, api.ProbTooLarge, "payload too large: the batch is", ""},
		// Without a Content-Length (chunked) the limit is found while reading.
		{"payload too large, chunked", io.MultiReader(bytes.NewReader(oversize)), "application/json", 400, api.ProbTooLarge, "payload too large: the batch exceeds 65536 bytes", ""},
		{"malformed JSON", strings.NewReader(`{"events":[`), "application/json", 400, api.ProbValidation, "invalid: $: malformed JSON", "$"},
		{"invalid field", strings.NewReader(`{"events":[{"schemaVersion":"zastava.runtime.event@v1","event":{"eventId":"e","when":"now","kind":"ContainerStart","tenant":"t","node":"n"}}]}`),
			"application/json", 400, api.ProbValidation, "invalid", "$.events[0].event.when"},
		{"not JSON", strings.NewReader(`events`), "text/plain", 415, api.ProbUnsupportedType, "application/json", ""},
	} {
		resp, err := obs.Raw(ctx, http.MethodPost, "/api/v1/runtime/events", nil, tc.ctype, tc.body)
		var ce *client.Error
		if !runtimeErr(err, &ce) || ce.StatusCode != tc.status || ce.Type != tc.typ || !strings.Contains(ce.Detail, tc.detail) ||
			(tc.path != "" && (len(ce.Errors) == 0 || ce.Errors[0].Path != tc.path)) {
			t.Errorf("%s: %v %+v; want %d %s %q at %q", tc.name, err, ce, tc.status, tc.typ, tc.detail, tc.path)
		}
		if resp != nil && resp.Header.Get("Retry-After") != "" {
			t.Errorf("%s: Retry-After on a 400", tc.name)
		}
	}
	// Authentication and authorisation.
	one := client.RuntimeEventBatch{Events: []client.RuntimeEnvelope{ev("x")}}
	if _, _, err := newClient(t, e.urls[0]).PostRuntimeEvents(ctx, one); !client.IsStatus(err, 401) {
		t.Errorf("no token: %v", err)
	}
	if _, _, err := e.as("admission-webhook", 0).PostRuntimeEvents(ctx, one); !client.IsStatus(err, 403) {
		t.Errorf("without scanner.runtime.ingest: %v", err)
	}
	_, _, err := e.as("zastava-beta", 0).PostRuntimeEvents(ctx, one)
	var ce *client.Error
	if !runtimeErr(err, &ce) || ce.StatusCode != 403 || !strings.Contains(ce.Detail, `bound to tenant "tenant-beta" and cannot report events of tenant "tenant-alpha"`) {
		t.Errorf("another tenant's events: %v", err)
	}
	if _, _, err := obs.RuntimePolicy(ctx, client.RuntimePolicyRequest{Images: []string{"sha256:aa"}}); !client.IsStatus(err, 403) {
		t.Errorf("verdicts without scanner.scans.read: %v", err)
	}
	hook := e.as("admission-webhook", 0)
	for req, want := range map[string]string{
		`{"images":[]}`:                                 "$.images",
		`{"images":["nginx:latest"]}`:                   "$.images[0]",
		`{"images":["sha256:aa"],"x":1}`:                "$",
		`{"images":["sha256:aa"],"labels":{"a b":"c"}}`: "$.labels",
	} {
		_, err := hook.Raw(ctx, http.MethodPost, "/api/v1/scanner/policy/runtime", nil, "application/json", strings.NewReader(req))
		var ce *client.Error
		if !runtimeErr(err, &ce) || ce.StatusCode != 400 || len(ce.Errors) == 0 || ce.Errors[0].Path != want {
			t.Errorf("verdicts for %s: %v; want 400 at %s", req, err, want)
		}
	}
	if c := e.count(); c != before {
		t.Fatalf("refused requests stored %d events", c-before)
	}
}

// TestRuntimeEndToEnd runs the runtime area's walk-through on each topology: embedded
// (SQLite, in-memory buckets), and scale, where requests alternate between two API replicas
// sharing one PostgreSQL schema and one Redis: one set of token buckets, one idempotent
// store, one sweep.
func TestRuntimeEndToEnd(t *testing.T) {
	forTopologies(t, func(t *testing.T, topo topology) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2025, 10, 20, 15, 3, 12, 0, time.UTC)}
		d := deploy(t, topo, runtimeConfig(), server.Options{Now: clk.Now}, nil)
		var count func(context.Context) (int, error)
		if topo == embedded {
			st, err := sqlitestore.Open(ctx, filepath.Join(d.dataDirs[0], "runtime.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			count = st.Count
		} else {
			st, err := pgstore.Open(ctx, d.dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			count = st.Count
		}
		var urls []string
		for _, r := range d.apis {
			urls = append(urls, r.url)
		}
		runtimeScenario(t, newRuntimeEnv(t, urls, clk, func() int {
			n, err := count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}))
		if topo == scale {
			// The buckets lived in Redis under the installation's prefix.
			keys, err := testenv.RedisClient(t, d.redisAddr).Keys(ctx, "{stellaops:runtime:"+d.redisPrefix+"}:bucket:*").Result()
			if err != nil || len(keys) == 0 {
				t.Fatalf("bucket keys in Redis: %v %v", keys, err)
			}
		}
	})
}

// TestRuntimeOpenAPI holds the runtime routes to the document's conventions (what
// internal/api's tests check for the platform routes, which are all they see).
func TestRuntimeOpenAPI(t *testing.T) {
	r := start(t, runtimeConfig(), server.Options{DataDir: t.TempDir()})
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIYAML())
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, rt := range r.srv.API.Routes() {
		if !strings.HasPrefix(rt.Path, "/api/v1/runtime/") && rt.Path != "/api/v1/scanner/policy/runtime" {
			continue
		}
		found++
		item := doc.Paths.Value(rt.Path)
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Fatalf("%s is not documented", rt.Pattern())
		}
		op := item.GetOperation(rt.Method)
		if op.Extensions["x-stellaops-scope"] != rt.Scope || !strings.Contains(op.Description, "scope `"+rt.Scope+"`") {
			t.Errorf("%s: scope %v, want %s named in the description", rt.Pattern(), op.Extensions["x-stellaops-scope"], rt.Scope)
		}
		if op.Security == nil || len(*op.Security) != 1 || (*op.Security)[0]["bearer"] == nil {
			t.Errorf("%s: security %v", rt.Pattern(), op.Security)
		}
		for _, code := range []string{"400", "401", "403", "415", "429", "500", "503"} {
			if op.Responses.Value(code) == nil {
				t.Errorf("%s: %s is not documented", rt.Pattern(), code)
			}
		}
	}
	if found != 2 {
		t.Fatalf("%d runtime routes registered, want 2", found)
	}
}

// TestRuntimeConfig: the spec's defaults, loaded from files and environment like every
// section, and refused when out of range.
func TestRuntimeConfig(t *testing.T) {
	d := server.Defaults().Runtime
	if d != (server.RuntimeConfig{MaxBatchSize: 256, MaxPayloadBytes: 1 << 20, EventTTLDays: 45, PerTenantEventsPerSecond: 200, PerTenantBurst: 200,
		PerNodeEventsPerSecond: 50, PerNodeBurst: 200, PolicyCacheTTLSeconds: 300, SweepInterval: time.Hour}) {
		t.Fatalf("defaults %+v", d)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "appsettings.yaml"), []byte("runtime:\n  maxBatchSize: 128\n  eventTtlDays: 7\n  sweepInterval: '00:05:00'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := server.Defaults()
	if _, err := config.Load(&cfg, config.Options{Dirs: []string{dir}, Environ: []string{"STELLAOPS_RUNTIME__PERNODEEVENTSPERSECOND=-1", "STELLAOPS_RUNTIME__MAXPAYLOADBYTES=262144"}}); err != nil {
		t.Fatal(err)
	}
	if r := cfg.Runtime; r.MaxBatchSize != 128 || r.EventTTLDays != 7 || r.SweepInterval != 5*time.Minute || r.PerNodeEventsPerSecond != -1 || r.MaxPayloadBytes != 256<<10 {
		t.Fatalf("loaded %+v", r)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("a disabled node limit is valid: %v", err)
	}
	for name, bad := range map[string]func(*server.RuntimeConfig){
		"runtime.maxBatchSize":             func(c *server.RuntimeConfig) { c.MaxBatchSize = 0 },
		"runtime.maxPayloadBytes":          func(c *server.RuntimeConfig) { c.MaxPayloadBytes = 100 },
		"runtime.eventTtlDays":             func(c *server.RuntimeConfig) { c.EventTTLDays = 0 },
		"runtime.perTenantEventsPerSecond": func(c *server.RuntimeConfig) { c.PerTenantEventsPerSecond = 0 },
		"runtime.perNodeBurst":             func(c *server.RuntimeConfig) { c.PerNodeBurst = 0 },
		"runtime.policyCacheTtlSeconds":    func(c *server.RuntimeConfig) { c.PolicyCacheTTLSeconds = 0 },
		"runtime.sweepInterval":            func(c *server.RuntimeConfig) { c.SweepInterval = 0 },
	} {
		c := server.Defaults()
		bad(&c.Runtime)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
