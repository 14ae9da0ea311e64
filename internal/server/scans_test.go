package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/list"
	"github.com/stellaops/stellaops/internal/config"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/scan"
	"github.com/stellaops/stellaops/internal/scan/scanstore"
	"github.com/stellaops/stellaops/internal/scan/scanstore/sqlitestore"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/internal/target"
	"github.com/stellaops/stellaops/internal/testenv"
	"github.com/stellaops/stellaops/pkg/client"
)

// scansDataDir is a data directory whose snapshot store holds the bundled snapshot.
func scansDataDir(t testing.TB) string { return servertest.SnapshotDataDir(t) }

// scansTestdata is the repository's testdata directory.
func scansTestdata(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func scansConfig(t testing.TB) server.Config {
	cfg := baseConfig()
	cfg.Scanner.LocalDirectories = []string{scansTestdata(t)}
	cfg.Scanner.EventPollInterval = 50 * time.Millisecond
	cfg.Scanner.LeaseDuration = 3 * time.Second
	cfg.Scanner.SweepInterval = 200 * time.Millisecond
	cfg.Quota.RatePerSecond = -1 // tests poll faster than a CI client would
	return cfg
}

// scansToken creates a client with scopes through the admin API and returns a token of it.
func scansToken(t testing.TB, url string, admin *client.Client, id string, scopes ...string) string {
	t.Helper()
	ctx := context.Background()
	cl, err := admin.CreateClient(ctx, client.NewClient{ClientID: id, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := scansNewClient(t, url).Token(ctx, client.TokenRequest{ClientID: id, ClientSecret: cl.Secret})
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func scansNewClient(tb testing.TB, url string, opts ...client.Option) *client.Client {
	tb.Helper()
	c, err := client.New(url, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func scansGunzip(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scansExpected scans the SBOM in process, with the libraries the CLI uses, against the same
// snapshot: what the server must answer.
func scansExpected(t testing.TB, sbomPath string) *scan.Result {
	t.Helper()
	src, err := servertest.BundledSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	tr, err := target.Inventory(context.Background(), sbomPath, target.Options{Decoder: sbom.NewDecoder(sbom.DefaultConfig())})
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.MatchInventory(context.Background(), tr.Inventory, snap, match.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func scansSummary(s match.Summary) client.ScanSummary {
	return client.ScanSummary{Critical: s.Critical, High: s.High, Medium: s.Medium, Low: s.Low, Unknown: s.Unknown}
}

// scansBlocked is the threshold-only policy status: blocked when a finding reaches t.
func scansBlocked(s match.Summary, t string) string {
	n := map[string]int{"critical": s.Critical, "high": s.Critical + s.High, "medium": s.Critical + s.High + s.Medium,
		"low": s.Critical + s.High + s.Medium + s.Low}[t]
	if n > 0 {
		return "blocked"
	}
	return "pass"
}

func scansWantStatus(t testing.TB, err error, status int, detail string) {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) || ce.StatusCode != status {
		t.Fatalf("got %v, want HTTP %d", err, status)
	}
	if !strings.Contains(ce.Detail, detail) {
		t.Fatalf("HTTP %d detail %q, want it to contain %q", status, ce.Detail, detail)
	}
}

// scansEvents collects a whole stream.
func scansEvents(t testing.TB, c *client.Client, id, format string, after int64) ([]client.ScanEvent, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var evs []client.ScanEvent
	h, err := c.ScanEvents(ctx, id, client.ScanEventsOptions{Format: format, After: after}, func(e client.ScanEvent) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		t.Fatalf("events of %s (%s): %v", id, format, err)
	}
	return evs, h
}

var (
	scansTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)
	scansIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// scansCheckFrames checks the §2.6 rules on a whole stream: sequences 1.. without gaps,
// correlation ids, millisecond UTC timestamps in order, SSE event names, and that it ends
// with the terminal state.
func scansCheckFrames(t testing.TB, id string, evs []client.ScanEvent, sse bool, first int64, last string) {
	t.Helper()
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	prev := ""
	for i, e := range evs {
		seq := first + int64(i)
		if e.ScanID != id || e.Sequence != seq || e.CorrelationID != fmt.Sprintf("%s:%04d", id, seq) {
			t.Fatalf("frame %d: %+v", i, e)
		}
		if !scansTimestamp.MatchString(e.Timestamp) || e.Timestamp < prev {
			t.Fatalf("frame %d timestamp %q after %q", i, e.Timestamp, prev)
		}
		prev = e.Timestamp
		var d map[string]any
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("frame %d data %s: %v", i, e.Data, err)
		}
		if sse && (e.SSEID != fmt.Sprint(seq) || e.SSEEvent != strings.ToLower(e.State)) {
			t.Fatalf("frame %d: SSE id %q event %q for %+v", i, e.SSEID, e.SSEEvent, e)
		}
	}
	if got := evs[len(evs)-1].State; got != last {
		t.Fatalf("last frame %s, want %s", got, last)
	}
}

func scansStates(evs []client.ScanEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.State+":"+e.Message)
	}
	return out
}

func scansWait(t testing.TB, c *client.Client, id string) client.ScanStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := c.WaitScan(ctx, id, 20*time.Millisecond)
	if err != nil {
		t.Fatalf("waiting for %s: %v (last %+v)", id, err, st)
	}
	return st
}

// TestScansEndToEnd walks the scans area on each topology: POST /scan (SBOM, sbom-only,
// image archive, thresholds, bad input), the delta layer check, queued scans (the spec's
// examples replayed, idempotency, the worker, events in both formats, late subscribers,
// forced re-runs, cancellation) and results. In scale, the client talks to one API replica,
// watchers and the read-only client to the other, and queued scans run on the two worker
// replicas.
func TestScansEndToEnd(t *testing.T) {
	forTopologies(t, func(t *testing.T, topo topology) {
		scansWalkthrough(t, deploy(t, topo, scansConfig(t), server.Options{}, scansDataDir))
	})
}

func scansWalkthrough(t *testing.T, d *deployment) {
	ctx := context.Background()
	r, peer := d.api(0), d.api(1)
	admin := validated(t, r.url, client.WithBootstrapKey(bootstrap))
	tok := scansToken(t, r.url, admin, "ci-bot", "stella.api", "scanner.scans.enqueue", "scanner.scans.read")
	c := validated(t, r.url, client.WithToken(tok))
	c2 := validated(t, peer.url, client.WithToken(tok)) // the same caller on the other replica
	td := scansTestdata(t)
	sbomGz := filepath.Join(td, "sbom", "postgres-stretch.cdx.xml.gz")
	sbomXML := scansGunzip(t, sbomGz)
	want := scansExpected(t, sbomGz)
	if len(want.Findings) != 13 {
		t.Fatalf("the quick start reports 13 findings; the library finds %d", len(want.Findings))
	}

	// POST /scan with the SBOM, format detected: 200 within the budget.
	up, resp, err := c.ScanUpload(ctx, bytes.NewReader(sbomXML), client.ScanUploadOptions{ContentType: "application/xml"})
	if err != nil {
		t.Fatal(err)
	}
	done := up.Completed
	if done == nil || resp.StatusCode != 200 {
		t.Fatalf("POST /scan: %d %+v", resp.StatusCode, up)
	}
	if done.Digest != want.Target.Digest || done.Summary != scansSummary(want.Summary) || done.Findings != 13 ||
		done.Snapshot != want.Snapshot.Digest || done.PolicyStatus != scansBlocked(want.Summary, "critical") ||
		done.Policy.Source != "threshold" || done.Policy.Threshold != "Critical" || !scansIDPattern.MatchString(done.ScanID) {
		t.Fatalf("POST /scan answered %+v; want digest %s, summary %+v", done, want.Target.Digest, want.Summary)
	}
	if done.Quota.Limit != 333 || done.Quota.Remaining != 332 || resp.Header.Get("X-Stella-Quota-Remaining") != "332" ||
		resp.Header.Get("Location") != "/api/v1/scans/"+done.ScanID {
		t.Fatalf("quota %+v, headers %v", done.Quota, resp.Header)
	}
	st, err := c2.Scan(ctx, done.ScanID)
	if err != nil || st.Status != "Succeeded" || st.Kind != "upload" || st.Result == nil || st.Result.Findings != 13 ||
		st.Image.Reference != nil || st.Links.Result == "" {
		t.Fatalf("status of the upload: %+v %v", st, err)
	}
	raw, err := c.ScanResult(ctx, done.ScanID)
	if err != nil {
		t.Fatal(err)
	}
	var doc scan.Result
	if err := json.Unmarshal(raw, &doc); err != nil || doc.SchemaVersion != scan.SchemaVersion || len(doc.Findings) != 13 ||
		doc.Summary != want.Summary || len(doc.Inventory.Components) != len(want.Inventory.Components) {
		t.Fatalf("result document: %v %+v", err, doc.Summary)
	}

	// The same upload again runs the same scan again (a new run, same id).
	again, _, err := c.ScanUpload(ctx, bytes.NewReader(sbomXML), client.ScanUploadOptions{ContentType: "application/xml"})
	if err != nil || again.Completed == nil || again.Completed.ScanID != done.ScanID || again.Completed.Quota.Remaining != 331 {
		t.Fatalf("second upload: %+v %v", again, err)
	}
	if st, _ := c.Scan(ctx, done.ScanID); st.Run != 2 {
		t.Fatalf("run after the second upload: %d", st.Run)
	}

	// The fast path with the format named, gzipped, and each threshold.
	gz, err := os.ReadFile(sbomGz)
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range []string{"low", "medium", "high", "critical"} {
		up, _, err := c.ScanUpload(ctx, bytes.NewReader(gz), client.ScanUploadOptions{SBOMOnly: true, SBOMType: "cyclonedx-xml", Threshold: th})
		if err != nil || up.Completed == nil {
			t.Fatalf("sbom-only threshold %s: %+v %v", th, up, err)
		}
		if up.Completed.Summary != done.Summary || up.Completed.Digest != done.Digest || up.Completed.PolicyStatus != scansBlocked(want.Summary, th) {
			t.Fatalf("sbom-only threshold %s: %+v", th, up.Completed)
		}
	}

	// An image archive: the docker save of alpine:3.10 (the bundled data has no Alpine
	// advisories, so no findings, and a note says so).
	img, err := os.Open(filepath.Join(td, "images", "alpine-3.10.4.docker-save.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	up, _, err = c.ScanUpload(ctx, img, client.ScanUploadOptions{ContentType: "application/gzip", Threshold: "low"})
	img.Close()
	if err != nil || up.Completed == nil || !strings.HasPrefix(up.Completed.Digest, "sha256:") || up.Completed.PolicyStatus != "pass" {
		t.Fatalf("image upload: %+v %v", up, err)
	}
	imgStatus, err := c.Scan(ctx, up.Completed.ScanID)
	if err != nil || imgStatus.Result == nil || imgStatus.Result.Components != 14 || len(imgStatus.Result.Notes) != 1 ||
		!strings.Contains(imgStatus.Result.Notes[0], "14 apk package(s) of alpine:3.10 not checked") {
		t.Fatalf("image scan status %+v %v", imgStatus, err)
	}
	var tgt struct {
		Kind, Format string
	}
	_ = json.Unmarshal(imgStatus.Result.Target, &tgt)
	if tgt.Kind != "image" || tgt.Format != "docker-archive" {
		t.Fatalf("image target %s", imgStatus.Result.Target)
	}

	// The delta check: the spec's example (placeholder digests) is refused precisely; the
	// alpine layer is now cached, another is not.
	_, err = c.Raw(ctx, http.MethodPost, "/layers/missing", nil, "application/json",
		strings.NewReader("{\n\"layers\": [\n\"sha256:d38b...\",\n\"sha256:af45...\"\n]\n}"))
	scansWantStatus(t, err, 400, `layers[0]: "sha256:d38b..." is not an OCI digest`)
	alpine := scansImageLayer(t, c, up.Completed.ScanID)
	if alpine.DiffID != scansAlpineLayer {
		t.Fatalf("alpine layer %+v", alpine)
	}
	other := "sha256:" + strings.Repeat("ab", 32)
	// (A docker save archive records diff IDs only; registry images add blob digests.)
	missing, err := c.LayersMissing(ctx, []string{strings.ToUpper(other[:10]) + other[10:], alpine.DiffID, other})
	if err != nil || !slices.Equal(missing, []string{other}) {
		t.Fatalf("layers/missing of %s / %s: %v %v", alpine.DiffID, alpine.Digest, missing, err)
	}
	if missing, err := c.LayersMissing(ctx, []string{}); err != nil || missing == nil || len(missing) != 0 {
		t.Fatalf("layers/missing of nothing: %#v %v", missing, err)
	}

	// Bad uploads: checked before the quota is charged where they can be.
	badCases := []struct {
		name   string
		body   string
		opts   client.ScanUploadOptions
		status int
		detail string
	}{
		{"threshold", "x", client.ScanUploadOptions{Threshold: "severe"}, 400, `threshold: invalid threshold "severe"`},
		{"sbom type", "x", client.ScanUploadOptions{SBOMType: "spdx-yaml"}, 400, `X-Stella-Sbom-Type: unknown SBOM format "spdx-yaml"`},
		{"empty", "", client.ScanUploadOptions{}, 400, "the body is empty"},
		{"garbage", "hello, scanner", client.ScanUploadOptions{}, 415, "neither an image archive"},
		{"invalid SBOM", `{"bomFormat":"CycloneDX","specVersion":"1.5","components":"nope"}`, client.ScanUploadOptions{}, 400, "invalid SBOM"},
		{"wrong type", string(sbomXML), client.ScanUploadOptions{SBOMType: "spdx-json"}, 400, "invalid SBOM"},
		{"loopback URL", "http://127.0.0.1:9/sbom.json", client.ScanUploadOptions{ContentType: "text/uri-list"}, 400, "is the loopback address 127.0.0.1"},
		{"JSON URL", `{"url": "http://10.1.2.3/x.tar"}`, client.ScanUploadOptions{ContentType: "application/json"}, 400, "private address 10.1.2.3"},
		{"URL scheme", "file:///etc/passwd", client.ScanUploadOptions{ContentType: "text/uri-list"}, 400, `scheme "file"`},
		{"two URLs", "https://a.example/x\nhttps://b.example/y", client.ScanUploadOptions{ContentType: "text/uri-list"}, 400, "exactly one URL, not 2"},
	}
	for i, bc := range badCases {
		q0, _, err := c.Quota(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = c.ScanUpload(ctx, strings.NewReader(bc.body), bc.opts)
		scansWantStatus(t, err, bc.status, bc.detail)
		// A bad query or header is refused before the quota is charged; a bad body after.
		q1, _, _ := c.Quota(ctx)
		if charged := q1.Used - q0.Used; charged != map[bool]int{true: 0, false: 1}[i < 2] {
			t.Errorf("%s: charged %d scans", bc.name, charged)
		}
	}
	_, err = c.Raw(ctx, http.MethodPost, "/scan", url1("sbom-only", "maybe"), "application/json", strings.NewReader("{}"))
	scansWantStatus(t, err, 400, `sbom-only "maybe"`)
	tarBody, err := os.ReadFile(filepath.Join(td, "images", "alpine-3.10.4.docker-save.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.ScanUpload(ctx, bytes.NewReader(tarBody), client.ScanUploadOptions{SBOMOnly: true})
	scansWantStatus(t, err, 400, "the body is an image archive, but ?sbom-only=true")
	_, _, err = c.ScanUpload(ctx, bytes.NewReader(tarBody[:4096]), client.ScanUploadOptions{})
	scansWantStatus(t, err, 422, "failed:")

	// Queued scans: the spec's §2.4 example, replayed verbatim. Its registry does not exist
	// here, so it stays queued or running (retrying) until it is cancelled below.
	specBody := `{
"image": {
"reference": "registry.example.com/acme/app:1.2.3"
},
"force": false,
"clientRequestId": "ci-build-1845",
"metadata": {
"pipeline": "github",
"trigger": "pull-request"
}
}`
	var acc client.ScanAccepted
	resp, err = c.Raw(ctx, http.MethodPost, "/api/v1/scans", nil, "application/json", strings.NewReader(specBody))
	if err != nil || resp.StatusCode != 202 || json.Unmarshal(resp.Body, &acc) != nil || !acc.Created || acc.Status != "Pending" ||
		!scansIDPattern.MatchString(acc.ScanID) || acc.Location != "/api/v1/scans/"+acc.ScanID || resp.Header.Get("Location") != acc.Location {
		t.Fatalf("spec enqueue: %v %+v %s", err, acc, resp.Body)
	}
	// Deterministic: the same payload (even re-spelt: keys reordered, reference normalised
	// the same way) gives the same id, created false, and costs no quota.
	before := resp.Header.Get("X-Stella-Quota-Remaining")
	acc2, resp2, err := c.EnqueueScan(ctx, client.ScanRequest{Image: client.ScanImage{Reference: " registry.example.com/acme/app:1.2.3 "},
		ClientRequestID: "ci-build-1845", Metadata: map[string]string{"trigger": "pull-request", "pipeline": "github"}})
	if err != nil || acc2.ScanID != acc.ScanID || acc2.Created || resp2.Header.Get("X-Stella-Quota-Remaining") != before {
		t.Fatalf("idempotent enqueue: %+v %v (quota %s → %s)", acc2, err, before, resp2.Header.Get("X-Stella-Quota-Remaining"))
	}
	evs, err := admin.Audit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, e := range evs {
		if e.Type == "scanner.scan.enqueue" && e.ClientID == "ci-bot" && strings.Contains(e.Detail, "scanId="+acc.ScanID) &&
			strings.Contains(e.Detail, `clientRequestId="ci-build-1845"`) {
			audited++
		}
	}
	if audited != 2 {
		t.Fatalf("%d audit events of the enqueue with its clientRequestId, want 2", audited)
	}
	st, err = c.Scan(ctx, acc.ScanID)
	if err != nil || st.Image.Reference == nil || *st.Image.Reference != "registry.example.com/acme/app:1.2.3" || st.Image.Digest != nil ||
		st.FailureReason != nil || st.Kind != "queued" || (st.Status != "Pending" && st.Status != "Running") {
		t.Fatalf("status of the spec's scan: %+v %v", st, err)
	}
	// A live watcher of the spec's scan: it sees the queued frame as in the spec, then the
	// cancellation, and the stream ends.
	type stream struct {
		evs []client.ScanEvent
		err error
	}
	live := make(chan stream, 1)
	watcher := newClient(t, peer.url, client.WithToken(tok))
	go func() {
		var st stream
		_, st.err = watcher.ScanEvents(ctx, acc.ScanID, client.ScanEventsOptions{}, func(e client.ScanEvent) error {
			st.evs = append(st.evs, e)
			return nil
		})
		live <- st
	}()

	// 400s of the enqueue.
	for _, bc := range []struct{ body, detail string }{
		{`{"image": {}}`, "image.reference or image.digest is required"},
		{`{"image": {"reference": "  ", "digest": ""}}`, "image.reference or image.digest is required"},
		{`{"force": true}`, "image.reference or image.digest is required"},
		{`{"image": {"digest": "sha256:abc"}}`, `"sha256:abc" is not an OCI digest`},
		{`{"image": {"reference": "UPPER/case:1"}}`, "not an image reference"},
		{`{"image": {"reference": "/etc/passwd"}}`, "/etc/passwd is outside scanner.localDirectories"},
		{`{"image": {"reference": "alpine@sha256:` + strings.Repeat("a", 64) + `", "digest": "sha256:` + strings.Repeat("b", 64) + `"}}`, "differs from the reference's digest"},
		{`{"image": {"reference": "alpine"}, "extra": 1}`, `unknown field "extra"`},
	} {
		_, err := c.Raw(ctx, http.MethodPost, "/api/v1/scans", nil, "application/json", strings.NewReader(bc.body))
		scansWantStatus(t, err, 400, bc.detail)
	}
	var pe *client.Error
	_, err = c.Raw(ctx, http.MethodPost, "/api/v1/scans", nil, "application/json", strings.NewReader(`{"image": {}}`))
	if !errors.As(err, &pe) || len(pe.Errors) != 1 || pe.Errors[0].Path != "$.image" {
		t.Fatalf("field errors: %+v", pe)
	}

	// A queued scan the worker can run: the SBOM in an allowed local directory.
	localReq := client.ScanRequest{Image: client.ScanImage{Reference: sbomGz}, ClientRequestID: "ci-build-1846",
		Metadata: map[string]string{"pipeline": "github"}}
	qa, _, err := c.EnqueueScan(ctx, localReq)
	if err != nil || !qa.Created {
		t.Fatalf("enqueue local: %+v %v", qa, err)
	}
	// A watcher that joins at once sees every frame, live, until the end.
	sse, hdr := scansEvents(t, c, qa.ScanID, "", 0)
	if hdr.Get("Content-Type") != "text/event-stream" || hdr.Get("Cache-Control") != "no-store" || hdr.Get("X-Accel-Buffering") != "no" {
		t.Fatalf("SSE headers %v", hdr)
	}
	scansCheckFrames(t, qa.ScanID, sse, true, 1, "Succeeded")
	states := scansStates(sse)
	if states[0] != "Pending:queued" || states[1] != "Running:started" || !slices.Contains(states, "Running:policy pass") && !slices.Contains(states, "Running:policy blocked") {
		t.Fatalf("event order %v", states)
	}
	if string(sse[0].Data) != `{"force":false,"meta.pipeline":"github"}` {
		t.Fatalf("queued frame data %s", sse[0].Data)
	}
	st = scansWait(t, c, qa.ScanID)
	if st.Status != "Succeeded" || st.Result == nil || st.Result.Findings != 13 || st.Result.Summary != done.Summary || st.Attempt != 1 ||
		st.StartedAt == nil || st.FinishedAt == nil || st.FinishedAt.Before(*st.StartedAt) {
		t.Fatalf("queued scan status %+v", st)
	}
	// A late subscriber (on the other replica) gets the same history, in JSON lines too;
	// after= resumes.
	jsonl, hdr := scansEvents(t, c2, qa.ScanID, "jsonl", 0)
	if hdr.Get("Content-Type") != "application/x-ndjson" || len(jsonl) != len(sse) {
		t.Fatalf("jsonl: %v, %d frames vs %d", hdr, len(jsonl), len(sse))
	}
	for i := range sse {
		a, b := sse[i], jsonl[i]
		a.SSEEvent, a.SSEID = "", ""
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("frame %d differs: %+v vs %+v", i, a, b)
		}
	}
	tail, _ := scansEvents(t, c, qa.ScanID, "jsonl", 2)
	if len(tail) != len(sse)-2 || tail[0].Sequence != 3 {
		t.Fatalf("after=2: %d frames from %d", len(tail), tail[0].Sequence)
	}
	// Raw SSE bytes as the spec shows them.
	rawSSE, err := c.Raw(ctx, http.MethodGet, "/api/v1/scans/"+qa.ScanID+"/events", nil, "", nil)
	if err != nil || !strings.HasPrefix(string(rawSSE.Body), "id: 1\nevent: pending\ndata: {\"scanId\":\""+qa.ScanID+"\",\"sequence\":1,\"state\":\"Pending\",\"message\":\"queued\",\"timestamp\":\"") {
		t.Fatalf("raw SSE: %v %.300s", err, rawSSE.Body)
	}
	if head, err := c.Raw(ctx, http.MethodHead, "/api/v1/scans/"+qa.ScanID+"/events", nil, "", nil); err != nil || len(head.Body) != 0 ||
		head.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("HEAD events: %v %v", err, head)
	}
	// Same request again: same scan, no new run. force: a new run, the sequence goes on.
	if a, _, err := c.EnqueueScan(ctx, localReq); err != nil || a.ScanID != qa.ScanID || a.Created || a.Status != "Succeeded" {
		t.Fatalf("resubmitted: %+v %v", a, err)
	}
	forced := localReq
	forced.Force = true
	fa, _, err := c.EnqueueScan(ctx, forced)
	if err != nil || fa.ScanID != qa.ScanID || !fa.Created || fa.Status != "Pending" {
		t.Fatalf("forced: %+v %v", fa, err)
	}
	rerun, _ := scansEvents(t, c, qa.ScanID, "jsonl", int64(len(sse)))
	scansCheckFrames(t, qa.ScanID, rerun, false, int64(len(sse))+1, "Succeeded")
	if rerun[0].Message != "queued (forced re-run)" || string(rerun[0].Data) != `{"force":true,"meta.pipeline":"github"}` {
		t.Fatalf("re-run's first frame %+v", rerun[0])
	}
	if st := scansWait(t, c, qa.ScanID); st.Run != 2 || st.Status != "Succeeded" {
		t.Fatalf("after the forced run: %+v", st)
	}

	// By digest alone: the repository (here, the allowed local file) of the latest
	// successful scan of that digest is scanned again.
	da, _, err := c.EnqueueScan(ctx, client.ScanRequest{Image: client.ScanImage{Digest: strings.ToUpper(done.Digest)}})
	if err != nil || !da.Created {
		t.Fatalf("by digest: %+v %v", da, err)
	}
	if st := scansWait(t, c, da.ScanID); st.Status != "Succeeded" || st.Result.Digest != done.Digest || *st.Image.Digest != done.Digest {
		t.Fatalf("scan by digest: %+v", st)
	}
	na, _, err := c.EnqueueScan(ctx, client.ScanRequest{Image: client.ScanImage{Digest: "sha256:" + strings.Repeat("0", 63) + "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if st := scansWait(t, c, na.ScanID); st.Status != "Failed" || !strings.Contains(*st.FailureReason, "no earlier scan names a repository") {
		t.Fatalf("unknown digest: %+v", st)
	}

	// Cancel the spec's scan: 200 Cancelled, again the same, the live watcher ends.
	cs, err := c.CancelScan(ctx, acc.ScanID)
	if err != nil || cs.Status != "Cancelled" || cs.FinishedAt == nil {
		t.Fatalf("cancel: %+v %v", cs, err)
	}
	if cs, err := c.CancelScan(ctx, acc.ScanID); err != nil || cs.Status != "Cancelled" {
		t.Fatalf("cancel again: %+v %v", cs, err)
	}
	select {
	case got := <-live:
		evs := got.evs
		if got.err != nil {
			t.Fatalf("live stream: %v", got.err)
		}
		scansCheckFrames(t, acc.ScanID, evs, true, 1, "Cancelled")
		if evs[0].Message != "queued" || string(evs[0].Data) != `{"force":false,"meta.pipeline":"github","meta.trigger":"pull-request"}` ||
			evs[len(evs)-1].Message != "cancelled by ci-bot" {
			t.Fatalf("live frames %v, first data %s", scansStates(evs), evs[0].Data)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the live stream did not end after the cancellation")
	}
	_, err = c.CancelScan(ctx, qa.ScanID)
	scansWantStatus(t, err, 409, "already Succeeded")
	_, err = c.ScanResult(ctx, acc.ScanID)
	scansWantStatus(t, err, 409, "is Cancelled")

	// Unknown and malformed ids, a bad format; scopes.
	_, err = c.Scan(ctx, strings.Repeat("0", 32))
	scansWantStatus(t, err, 404, "no scan 00000000")
	_, err = c.Scan(ctx, "not-an-id")
	scansWantStatus(t, err, 404, "scan ids are 32 hex digits")
	_, err = c.Raw(ctx, http.MethodGet, "/api/v1/scans/"+qa.ScanID+"/events", url1("format", "xml"), "", nil)
	scansWantStatus(t, err, 400, `format "xml"`)
	readOnly := validated(t, peer.url, client.WithToken(scansToken(t, r.url, admin, "viewer", "scanner.scans.read")))
	_, _, err = readOnly.EnqueueScan(ctx, localReq)
	scansWantStatus(t, err, 403, "scanner.scans.enqueue")
	if _, err := readOnly.Scan(ctx, qa.ScanID); err != nil {
		t.Fatalf("read scope: %v", err)
	}
	_, err = validated(t, peer.url).Scan(ctx, qa.ScanID)
	scansWantStatus(t, err, 401, "bearer token is required")
}

// scansImageLayer returns the diff ID of the one layer of a scanned image, from its result.
func scansImageLayer(t testing.TB, c *client.Client, id string) struct{ Digest, DiffID string } {
	t.Helper()
	doc, err := c.ScanResult(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var inv struct {
		Inventory struct {
			Layers []struct{ Digest, DiffID string }
		}
	}
	if err := json.Unmarshal(doc, &inv); err != nil || len(inv.Inventory.Layers) != 1 {
		t.Fatalf("image layers: %v %+v", err, inv)
	}
	return inv.Inventory.Layers[0]
}

// scansAlpineLayer is the diff ID of the one layer of testdata/images/alpine-3.10.4.docker-save.tar.gz.
const scansAlpineLayer = "sha256:531743b7098cb2aaf615641007a129173f63ed86ca32fe7b5a246a1c47286028"

func url1(k, v string) map[string][]string { return map[string][]string{k: {v}} }

// TestScanUploadAsync: a scan that outlasts the sync budget answers 202 with its Location,
// and finishes there; anonymous callers are served under the fallback.
func TestScanUploadAsync(t *testing.T) {
	ctx := context.Background()
	cfg := scansConfig(t)
	cfg.Scanner.SyncBudget = time.Millisecond
	cfg.Authority.AllowAnonymousFallback = true
	r := start(t, cfg, server.Options{DataDir: scansDataDir(t)})
	anon := validated(t, r.url)
	sbomXML := scansGunzip(t, filepath.Join(scansTestdata(t), "sbom", "postgres-stretch.cdx.xml.gz"))
	up, resp, err := anon.ScanUpload(ctx, bytes.NewReader(sbomXML), client.ScanUploadOptions{})
	if err != nil || up.Accepted == nil || resp.StatusCode != 202 || !up.Accepted.Created || up.Accepted.Quota == nil ||
		up.Accepted.Quota.Limit != 33 || resp.Header.Get("Location") != up.Accepted.Location {
		t.Fatalf("async upload: %d %+v %v", resp.StatusCode, up, err)
	}
	admin := validated(t, r.url, client.WithBootstrapKey(bootstrap))
	reader := validated(t, r.url, client.WithToken(scansToken(t, r.url, admin, "watcher", "scanner.scans.read")))
	st := scansWait(t, reader, up.Accepted.ScanID)
	if st.Status != "Succeeded" || st.Result.Findings != 13 {
		t.Fatalf("async upload's scan: %+v", st)
	}
	evs, _ := scansEvents(t, reader, up.Accepted.ScanID, "jsonl", 0)
	scansCheckFrames(t, up.Accepted.ScanID, evs, false, 1, "Succeeded")
	if evs[0].Message != "received" || evs[1].Message != "started" {
		t.Fatalf("upload frames %v", scansStates(evs))
	}
	// Without the fallback's scope requirement met, the other routes still want a token.
	_, err = anon.Scan(ctx, up.Accepted.ScanID)
	scansWantStatus(t, err, 401, "bearer token")
	if missing, err := anon.LayersMissing(ctx, []string{"sha256:" + strings.Repeat("1", 64)}); err != nil || len(missing) != 1 {
		t.Fatalf("anonymous layers/missing: %v %v", missing, err)
	}
}

// TestScanUploadURL fetches an upload URL (a local server, allowed by configuration).
func TestScanUploadURL(t *testing.T) {
	ctx := context.Background()
	gz, err := os.ReadFile(filepath.Join(scansTestdata(t), "sbom", "postgres-stretch.cdx.xml.gz"))
	if err != nil {
		t.Fatal(err)
	}
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/postgres.cdx.xml.gz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(gz)
	}))
	defer files.Close()
	cfg := scansConfig(t)
	cfg.Scanner.URLFetch.AllowPrivateNetworks = true
	cfg.Scanner.MaxUploadBytes, cfg.Scanner.MaxSBOMBytes = 1<<20, 1<<20
	r := start(t, cfg, server.Options{DataDir: scansDataDir(t)})
	admin := validated(t, r.url, client.WithBootstrapKey(bootstrap))
	c := validated(t, r.url, client.WithToken(scansToken(t, r.url, admin, "ci", "scanner.scans.enqueue", "scanner.scans.read")))
	up, _, err := c.ScanUpload(ctx, strings.NewReader("# the SBOM\n"+files.URL+"/postgres.cdx.xml.gz\n"), client.ScanUploadOptions{ContentType: "text/uri-list"})
	if err != nil || up.Completed == nil || up.Completed.Findings != 13 {
		t.Fatalf("URL upload: %+v %v", up, err)
	}
	_, _, err = c.ScanUpload(ctx, strings.NewReader(`{"url":"`+files.URL+`/missing"}`), client.ScanUploadOptions{ContentType: "application/json"})
	scansWantStatus(t, err, 422, "HTTP 404")
	// Over maxUploadBytes: the body is refused by its length.
	_, _, err = c.ScanUpload(ctx, bytes.NewReader(make([]byte, 2<<20)), client.ScanUploadOptions{})
	scansWantStatus(t, err, 413, "exceeds 1048576 bytes")
}

// TestScansPostgresRedis runs the scans area on PostgreSQL and Redis with two replicas: an
// API replica that runs no workers and a worker replica. Scans queued on one run on the
// other, their status and events are read on both, and the layer check on the API replica
// sees layers the worker analysed.
func TestScansPostgresRedis(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchemaDSN(t, "server_scans")
	addr := testenv.RedisAddr(t)
	prefix := "test-" + testenv.RandomHex(6)
	testenv.DeleteRedisKeysAtCleanup(t, addr, "stellaops:quota:"+prefix+":*")
	testenv.DeleteRedisKeysAtCleanup(t, addr, "{stellaops:queue:scan:"+prefix+"}:*")
	cfg := scansConfig(t)
	cfg.Storage = server.StorageConfig{Driver: "postgres", DSN: dsn}
	cfg.Redis = server.RedisConfig{Addr: addr, Prefix: prefix}
	cfg.Authority.Issuer = "https://stellaops.test"
	cfg.Authority.KeyDirectory = t.TempDir()
	cfg.Scanner.EventPollInterval = 10 * time.Second // wake-ups must come through Redis

	apiCfg, workerCfg := cfg, cfg
	apiCfg.Server.Roles = []string{"api"}
	workerCfg.Server.Roles = []string{"worker"}
	a := start(t, apiCfg, server.Options{DataDir: scansDataDir(t)})
	b := start(t, workerCfg, server.Options{DataDir: scansDataDir(t)})
	admin := validated(t, a.url, client.WithBootstrapKey(bootstrap))
	tok := scansToken(t, a.url, admin, "ci", "scanner.scans.enqueue", "scanner.scans.read")
	onA := validated(t, a.url, client.WithToken(tok))
	onB := validated(t, b.url, client.WithToken(tok))
	td := scansTestdata(t)
	image := filepath.Join(td, "images", "alpine-3.10.4.docker-save.tar.gz")

	if missing, err := onA.LayersMissing(ctx, []string{scansAlpineLayer}); err != nil || len(missing) != 1 {
		t.Fatalf("before any scan: %v %v", missing, err)
	}
	// Watch on A a scan queued on A and run by B's worker: the frames reach A through the
	// database, woken by Redis (the poll interval is 10 s, the test much shorter).
	qa, _, err := onA.EnqueueScan(ctx, client.ScanRequest{Image: client.ScanImage{Reference: image}})
	if err != nil || !qa.Created {
		t.Fatal(qa, err)
	}
	start := time.Now()
	evs, _ := scansEvents(t, onA, qa.ScanID, "sse", 0)
	scansCheckFrames(t, qa.ScanID, evs, true, 1, "Succeeded")
	if time.Since(start) > 8*time.Second {
		t.Fatalf("the stream took %v: wake-ups did not cross replicas", time.Since(start))
	}
	if !slices.ContainsFunc(evs, func(e client.ScanEvent) bool { return e.Message == "layer 1/1 analysing" }) {
		t.Fatalf("frames %v", scansStates(evs))
	}
	sa, err := onA.Scan(ctx, qa.ScanID)
	if err != nil || sa.Status != "Succeeded" {
		t.Fatal(sa, err)
	}
	sb, err := onB.Scan(ctx, qa.ScanID)
	if err != nil || !reflect.DeepEqual(sa, sb) {
		t.Fatalf("replicas disagree: %+v vs %+v (%v)", sa, sb, err)
	}
	// A runs no worker and has no layer cache of its own: it answers from the database.
	if l := scansImageLayer(t, onA, qa.ScanID); l.DiffID != scansAlpineLayer {
		t.Fatalf("alpine layer %+v", l)
	}
	if missing, err := onA.LayersMissing(ctx, []string{scansAlpineLayer}); err != nil || len(missing) != 0 {
		t.Fatalf("after B's scan, on A: %v %v", missing, err)
	}
	// Idempotency holds across replicas.
	if again, _, err := onB.EnqueueScan(ctx, client.ScanRequest{Image: client.ScanImage{Reference: image}}); err != nil || again.Created || again.ScanID != qa.ScanID {
		t.Fatalf("same request on B: %+v %v", again, err)
	}
	// POST /scan on A runs on A; B reads it.
	sbomXML := scansGunzip(t, filepath.Join(td, "sbom", "postgres-stretch.cdx.xml.gz"))
	up, _, err := onA.ScanUpload(ctx, bytes.NewReader(sbomXML), client.ScanUploadOptions{SBOMOnly: true})
	if err != nil || up.Completed == nil || up.Completed.Findings != 13 {
		t.Fatalf("upload on A: %+v %v", up, err)
	}
	if st, err := onB.Scan(ctx, up.Completed.ScanID); err != nil || st.Status != "Succeeded" || st.Result.Findings != 13 {
		t.Fatalf("upload seen on B: %+v %v", st, err)
	}
	raw, err := onB.ScanResult(ctx, up.Completed.ScanID)
	if err != nil || !bytes.Contains(raw, []byte(`"schemaVersion": "stellaops.scan-result/v1"`)) && !bytes.Contains(raw, []byte(`"schemaVersion":"stellaops.scan-result/v1"`)) {
		t.Fatalf("result on B: %v %.200s", err, raw)
	}
}

// scansServer starts an embedded server for a benchmark or a fuzz target (start is for
// tests) and returns its in-process handler, a token with the scan scopes, and its data
// directory. Its background loops run: POST /scan needs them.
func scansServer(tb testing.TB, cfg server.Config) (http.Handler, string, string) {
	tb.Helper()
	data := scansDataDir(tb)
	r := servertest.Start(tb, cfg, server.Options{DataDir: data})
	srv, url := r.Srv, r.URL
	admin := scansNewClient(tb, url, client.WithBootstrapKey(bootstrap))
	return srv.API.Handler(), scansToken(tb, url, admin, "bench", "scanner.scans.enqueue", "scanner.scans.read"), data
}

// scansServe runs one request through the handler in process and returns its latency.
func scansServe(b testing.TB, h http.Handler, tok, target, ct string, body []byte, want int) time.Duration {
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", ct)
	rec := httptest.NewRecorder()
	t0 := time.Now()
	h.ServeHTTP(rec, req)
	d := time.Since(t0)
	if rec.Code != want {
		b.Fatalf("%s: %d %s", target, rec.Code, rec.Body)
	}
	return d
}

// BenchmarkLayersMissing measures POST /layers/missing with 100 digests, half of them cached,
// through the whole middleware (token check, rate limiter, quota headers, metrics) on the
// embedded server, and reports server-side latency percentiles (target: p99 < 2 ms).
func BenchmarkLayersMissing(b *testing.B) {
	cfg := scansConfig(b)
	h, tok, data := scansServer(b, cfg)
	// Record 50 layers as cached, as a worker's scans would, in the server's own store.
	st, err := sqlitestore.Open(context.Background(), filepath.Join(data, "scans.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	fp := analyzer.Fingerprint(list.Default())
	var names []scanstore.LayerName
	var layers []string
	for i := range 100 {
		d := fmt.Sprintf("sha256:%064x", i+1)
		layers = append(layers, d)
		if i%2 == 0 {
			names = append(names, scanstore.LayerName{DiffID: d, Digest: fmt.Sprintf("sha256:%064x", 1000+i)})
		}
	}
	if err := st.NameLayers(context.Background(), fp, names, time.Now()); err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string][]string{"layers": layers})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/layers/missing", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	h.ServeHTTP(rec, req)
	var out struct{ Missing []string }
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || len(out.Missing) != 50 {
		b.Fatalf("missing: %d %v %s", len(out.Missing), err, rec.Body)
	}
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		ds = append(ds, scansServe(b, h, tok, "/layers/missing", "application/json", body, 200))
	}
	scansLatencies(b, ds)
}

// BenchmarkScanSBOMOnly measures POST /scan?sbom-only=true with the postgres-stretch SBOM
// (CycloneDX XML, 136 components, 13 findings) end to end on the embedded server: decode,
// store, match against the bundled snapshot, policy, result stored (target: < 1 s).
func BenchmarkScanSBOMOnly(b *testing.B) {
	cfg := scansConfig(b)
	cfg.Quota.TokenDailyLimit = 1 << 30
	h, tok, _ := scansServer(b, cfg)
	body := scansGunzip(b, filepath.Join(scansTestdata(b), "sbom", "postgres-stretch.cdx.xml.gz"))
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		ds = append(ds, scansServe(b, h, tok, "/scan?sbom-only=true", "application/xml", body, 200))
	}
	scansLatencies(b, ds)
}

// scansLatencies reports p50 and p99 of ds as benchmark metrics.
func scansLatencies(b *testing.B, ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	if len(ds) == 0 {
		return
	}
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-µs")
}

// TestScansConfig loads the area's settings from appsettings and the environment and
// refuses bad ones.
func TestScansConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "appsettings.json"), []byte(`{"scanner": {"syncBudget": "00:00:02",
		"localDirectories": ["/srv/images"], "registries": {"allowed": ["ghcr.io"]}, "urlFetch": {"allowPrivateNetworks": true}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig()
	if _, err := config.Load(&cfg, config.Options{Dirs: []string{dir}, Environ: []string{"STELLAOPS_SCANNER__WORKERS=3",
		"STELLAOPS_SCANNER__LAYERTTL=30.00:00:00", "STELLAOPS_SCANNER__MAXUPLOADBYTES=1073741824"}}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sc := cfg.Scanner.ScanConfig
	if sc.SyncBudget != 2*time.Second || sc.Workers != 3 || sc.LayerTTL != 30*24*time.Hour || sc.MaxUploadBytes != 1<<30 ||
		!slices.Equal(sc.LocalDirectories, []string{"/srv/images"}) || !slices.Equal(sc.Registries.Allowed, []string{"ghcr.io"}) ||
		!sc.URLFetch.AllowPrivateNetworks || !sc.URLFetch.Enabled || sc.MaxSBOMBytes != 64<<20 || sc.LeaseDuration != time.Minute {
		t.Fatalf("loaded %+v", sc)
	}
	for name, mutate := range map[string]func(*server.ScanConfig){
		"no budget":          func(c *server.ScanConfig) { c.SyncBudget = 0 },
		"short lease":        func(c *server.ScanConfig) { c.LeaseDuration = time.Second },
		"sbom over upload":   func(c *server.ScanConfig) { c.MaxSBOMBytes = c.MaxUploadBytes + 1 },
		"no workers":         func(c *server.ScanConfig) { c.Workers = 0 },
		"relative directory": func(c *server.ScanConfig) { c.LocalDirectories = []string{"images"} },
		"negative ttl":       func(c *server.ScanConfig) { c.LayerTTL = -time.Hour },
		"no fetch timeout":   func(c *server.ScanConfig) { c.URLFetch.Timeout = 0 },
	} {
		c := server.Defaults()
		mutate(&c.Scanner.ScanConfig)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "scanner.") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzScansEndpoints sends arbitrary bodies to the area's writing endpoints through the
// server's handler, in the shapes clients send: every answer is a success or a precise 4xx
// problem, never a 5xx.
func FuzzScansEndpoints(f *testing.F) {
	cfg := scansConfig(f)
	cfg.Scanner.LocalDirectories = nil
	cfg.Scanner.Registries.Allowed = []string{"registry.invalid"} // nothing is pulled
	cfg.Scanner.URLFetch.Enabled = false                          // nothing is fetched
	cfg.Scanner.MaxUploadBytes, cfg.Scanner.MaxSBOMBytes = 1<<20, 1<<20
	cfg.Quota.TokenDailyLimit = 1 << 30
	h, tok, _ := scansServer(f, cfg)
	targets := []struct{ path, ct string }{
		{"/scan", "application/json"}, {"/scan?sbom-only=true", "application/xml"}, {"/scan?threshold=high", "application/octet-stream"},
		{"/scan", "text/uri-list"}, {"/layers/missing", "application/json"}, {"/api/v1/scans", "application/json"},
	}
	f.Add(uint8(0), []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"x","version":"1","purl":"pkg:golang/golang.org/x/sys@v0.0.1"}]}`))
	f.Add(uint8(1), scansGunzip(f, filepath.Join(scansTestdata(f), "sbom", "postgres-stretch.cdx.xml.gz"))[:4096])
	f.Add(uint8(2), []byte("ustar\x00"))
	f.Add(uint8(3), []byte("https://example.com/sbom.json"))
	f.Add(uint8(4), []byte(`{"layers": ["sha256:d38b...", "sha256:af45..."]}`))
	f.Add(uint8(5), []byte(`{"image":{"reference":"registry.invalid/acme/app:1.2.3"},"force":true,"metadata":{"a":"b"}}`))
	f.Add(uint8(5), []byte(`{"image":{"digest":"sha256:`+strings.Repeat("0", 64)+`"}}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		tg := targets[int(which)%len(targets)]
		req := httptest.NewRequest(http.MethodPost, tg.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", tg.ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case rec.Code == 200 || rec.Code == 202:
		case rec.Code >= 400 && rec.Code < 500:
			var p struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if rec.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil ||
				p.Status != rec.Code || !strings.HasPrefix(p.Type, "https://stella-ops.org/probs/") || p.Detail == "" {
				t.Fatalf("%s → %d is not a precise problem: %s", tg.path, rec.Code, rec.Body)
			}
		default:
			t.Fatalf("%s → %d: %s", tg.path, rec.Code, rec.Body)
		}
	})
}

// scansCargoSBOM is a CycloneDX SBOM of two crates with real, rated advisories in the
// bundled data (RustSec, CVSS-rated: Critical to Medium); the postgres-stretch findings are
// all unrated, so they never reach a threshold.
const scansCargoSBOM = `{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [
  {"type": "library", "name": "hyper", "version": "0.9.0", "purl": "pkg:cargo/hyper@0.9.0"},
  {"type": "library", "name": "cookie", "version": "0.6.1", "purl": "pkg:cargo/cookie@0.6.1"}]}`

// scansCookieSBOM holds one crate with one High finding (RustSec, CVSS 7.5).
const scansCookieSBOM = `{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [
  {"type": "library", "name": "cookie", "version": "0.6.1", "purl": "pkg:cargo/cookie@0.6.1"}]}`

// TestScanThresholdsAndActivePolicy: without an active policy the threshold decides; once
// the policy area has an active policy, it decides, and the answer names its revision.
func TestScanThresholdsAndActivePolicy(t *testing.T) {
	ctx := context.Background()
	r := start(t, scansConfig(t), server.Options{DataDir: scansDataDir(t)})
	admin := validated(t, r.url, client.WithBootstrapKey(bootstrap))
	c := validated(t, r.url, client.WithToken(scansToken(t, r.url, admin, "ci", "scanner.scans.enqueue", "scanner.scans.read", "policy.write", "policy.read")))
	p := filepath.Join(t.TempDir(), "cargo.cdx.json")
	if err := os.WriteFile(p, []byte(scansCargoSBOM), 0o644); err != nil {
		t.Fatal(err)
	}
	want := scansExpected(t, p)
	s := want.Summary
	if s.Critical == 0 || s.Medium == 0 {
		t.Fatalf("the fixture needs Critical and Medium findings: %+v", s)
	}
	// One High finding: blocked at high and below, pass at critical.
	for th, status := range map[string]string{"low": "blocked", "medium": "blocked", "high": "blocked", "critical": "pass", "": "pass"} {
		up, _, err := c.ScanUpload(ctx, strings.NewReader(scansCookieSBOM), client.ScanUploadOptions{SBOMOnly: true, SBOMType: "cyclonedx-json", Threshold: th})
		if err != nil || up.Completed == nil {
			t.Fatalf("threshold %s: %+v %v", th, up, err)
		}
		if d := up.Completed; d.Summary != (client.ScanSummary{High: 1}) || d.PolicyStatus != status || d.Policy.Source != "threshold" {
			t.Fatalf("threshold %q: %+v, want %s", th, d, status)
		}
	}
	up, _, err := c.ScanUpload(ctx, strings.NewReader(scansCargoSBOM), client.ScanUploadOptions{})
	if err != nil || up.Completed == nil || up.Completed.Summary != scansSummary(s) || up.Completed.Findings != len(want.Findings) ||
		up.Completed.PolicyStatus != "blocked" {
		t.Fatalf("both crates: %+v %v", up, err)
	}
	// An active policy that waives the Critical and High findings: the Medium ones decide.
	if _, err := c.ImportPolicy(ctx, client.PolicySource{Format: "yaml",
		Content: "version: \"1.0\"\nrules:\n  - name: Waive the worst\n    severity: [Critical, High]\n    action: ignore\n"}); err != nil {
		t.Fatal(err)
	}
	for th, status := range map[string]string{"high": "pass", "medium": "blocked"} {
		up, _, err = c.ScanUpload(ctx, strings.NewReader(scansCargoSBOM), client.ScanUploadOptions{Threshold: th})
		if err != nil || up.Completed == nil {
			t.Fatal(up, err)
		}
		if d := up.Completed; d.PolicyStatus != status || d.Policy.Source != "active" || d.Policy.RevisionID == "" || d.Policy.Digest == "" {
			t.Fatalf("with the active policy at %s: %+v, want %s", th, d, status)
		}
	}
}
