package server_test

import (
	"bytes"
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

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/stellaops/stellaops/internal/api/apitest"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/concelier"
	"github.com/stellaops/stellaops/internal/concelier/jobs"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/pgstore"
	"github.com/stellaops/stellaops/internal/concelier/store/sqlitestore"
	"github.com/stellaops/stellaops/internal/config"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/internal/testenv"
	"github.com/stellaops/stellaops/pkg/client"
)

// osvMirrorRoot lays out a mirror root holding osv/<Ecosystem>/all.zip, copies of two real
// bundled OSV archives, as osv-scanner reads them offline.
func osvMirrorRoot(t *testing.T) string { return servertest.OSVMirror(t, "crates.io", "PSF-CPython") }

// concelierToken creates a client with scopes through the bootstrap admin API and returns a
// client holding its token whose responses v validates.
func concelierToken(t *testing.T, v *apitest.Validator, url string, admin *client.Client, id string, scopes ...string) *client.Client {
	t.Helper()
	ctx := context.Background()
	ci, err := admin.CreateClient(ctx, client.NewClient{ClientID: id, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := newClient(t, url).Token(ctx, client.TokenRequest{ClientID: id, ClientSecret: ci.Secret})
	if err != nil {
		t.Fatal(err)
	}
	return through(t, v, url, client.WithToken(tok.AccessToken))
}

// through is a client whose every response v checks against the OpenAPI document, so that
// one test can tell which documented responses it produced.
func through(t *testing.T, v *apitest.Validator, url string, opts ...client.Option) *client.Client {
	t.Helper()
	hc := &http.Client{Transport: v.Transport(t, http.DefaultTransport, apitest.Options{})}
	return newClient(t, url, append(opts, client.WithHTTPClient(hc))...)
}

// runJob triggers kind and waits for the run to end; it must succeed.
func runJob(t *testing.T, c *client.Client, clk *clock, kind string, tr client.ConcelierTrigger) client.ConcelierJob {
	t.Helper()
	clk.Add(time.Second) // runs get distinct start times and export directories
	j, err := c.TriggerConcelierJob(context.Background(), kind, tr)
	if err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	if j.Kind != kind || j.Status != client.ConcelierJobRunning || j.JobID == "" || !j.StartedAt.Equal(clk.Now().Truncate(time.Millisecond)) {
		t.Fatalf("%s accepted as %+v", kind, j)
	}
	return waitRun(t, c, j.JobID, client.ConcelierJobSucceeded)
}

func waitRun(t *testing.T, c *client.Client, id, status string) client.ConcelierJob {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	j, err := c.WaitConcelierJob(ctx, id, 20*time.Millisecond)
	if err != nil {
		t.Fatalf("job %s: %v", id, err)
	}
	if j.Status != status || j.FinishedAt.IsZero() || j.DurationMs == nil {
		t.Fatalf("job %s (%s): %s %q, want %s", id, j.Kind, j.Status, j.Error, status)
	}
	return j
}

// TestConcelierJobsEndToEnd drives the whole Concelier pipeline over HTTP on the embedded
// server, as stellaops-cli db fetch/merge/export do, on real OSV data from a mirror: each
// kind is triggered (202 + Location), polled to completion, and its counts are the ones
// `stellaops concelier run` prints. Then the refusals: a kind the CLI holds (409), missing
// scopes (403), no token (401), unknown kinds (404), bad parameters (400); the listing and its
// pages; and the audit trail of every /jobs request.
func TestConcelierJobsEndToEnd(t *testing.T) {
	forTopologies(t, concelierWalkthrough)
}

// concelierWalkthrough runs the walk-through on topo. In scale, triggers go to one API
// replica and reads to the other; the two worker replicas run the jobs on the shared store,
// exports land in the shared directory.
func concelierWalkthrough(t *testing.T, topo topology) {
	ctx := context.Background()
	mirrors := osvMirrorRoot(t)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	ref := strings.TrimPrefix(reg.URL, "http://") + "/mirror/trivy-db:2"

	cfg := baseConfig()
	// Polling runs to completion on a clock that stands still would exhaust one rate window.
	cfg.Quota.RatePerSecond = -1
	cfg.Concelier.MirrorRoot = mirrors
	// parse and map of osv need to know the source is mirrored, as the CLI's --mirror says.
	cfg.Concelier.Sources = map[string]server.ConcelierSourceConfig{"osv": {Mirror: filepath.Join(mirrors, "osv")}}
	cfg.Concelier.AllowedSources = []string{"osv", "alpine"}
	cfg.Concelier.Exporters.TrivyDB.ORAS.Enabled = true
	cfg.Concelier.Exporters.TrivyDB.ORAS.Ref = ref
	cfg.Concelier.Exporters.TrivyDB.ORAS.PlainHTTP = true
	cfg.Concelier.Exporters.TrivyDB.OfflineBundle.Enabled = true
	clk := &clock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	d := deploy(t, topo, cfg, server.Options{Now: clk.Now}, nil)
	r, data := d.api(0), d.shared
	v := apitest.Default(t)
	admin := through(t, v, r.url, client.WithBootstrapKey(bootstrap))
	cli := concelierToken(t, v, r.url, admin, "concelier-cli", authority.ScopeConcelierTrigger, authority.ScopeConcelierRead)
	reader := concelierToken(t, v, d.api(1).url, admin, "dashboard", authority.ScopeConcelierRead)
	scanner := concelierToken(t, v, d.api(1).url, admin, "ci-bot", authority.ScopeAPI, authority.ScopeScansEnqueue)

	// db fetch --source osv --stage fetch --mode init, with the mirror named in the request:
	// 202, Location, and the run as accepted.
	clk.Add(time.Second)
	resp, err := cli.Raw(ctx, http.MethodPost, "/jobs/source:osv:fetch", nil, "application/json",
		strings.NewReader(`{"trigger": "cli", "parameters": {"mode": "init", "mirror": "osv"}}`))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("trigger: %v %v", resp, err)
	}
	var accepted client.ConcelierJob
	if err := json.Unmarshal(resp.Body, &accepted); err != nil {
		t.Fatal(err)
	}
	if loc := resp.Header.Get("Location"); loc != "/jobs/"+accepted.JobID || accepted.Status != "running" || accepted.Trigger != "cli/concelier-cli" {
		t.Fatalf("accepted %+v, Location %q", accepted, loc)
	}
	var params concelier.Options
	if err := json.Unmarshal(accepted.Parameters, &params); err != nil || params.Mode != "init" || params.Mirror != realPath(t, filepath.Join(mirrors, "osv")) {
		t.Errorf("recorded parameters %s (%v)", accepted.Parameters, err)
	}
	fetch := waitRun(t, cli, accepted.JobID, client.ConcelierJobSucceeded)
	var fc struct{ Archives, Records, Created int }
	if err := fetch.DecodeCounts(&fc); err != nil || fc.Archives != 2 || fc.Records < 1300 || fc.Created != fc.Records {
		t.Errorf("fetch counts %s (%v)", fetch.Counts, err)
	}
	for _, kind := range []string{"source:osv:parse", "source:osv:map"} {
		j := runJob(t, cli, clk, kind, client.ConcelierTrigger{})
		var sc struct{ Documents, OK, Failed int }
		if err := j.DecodeCounts(&sc); err != nil || sc.OK != fc.Records || sc.Failed != 0 {
			t.Errorf("%s counts %s (%v)", kind, j.Counts, err)
		}
	}

	// db merge: the merged set and a new snapshot for scans.
	merge := runJob(t, cli, clk, "merge:reconcile", client.ConcelierTrigger{Trigger: "cli"})
	var mc concelier.ReconcileCounts
	if err := merge.DecodeCounts(&mc); err != nil || mc.Advisories < 1300 || !strings.HasPrefix(mc.Snapshot, "sha256:") ||
		mc.Inputs != fc.Records || mc.PerSource["osv:crates.io"] == 0 || mc.PerSource["osv:PSF-CPython"] == 0 {
		t.Errorf("merge counts %s (%v)", merge.Counts, err)
	}

	// Scans match against the merged snapshot from now on, on every replica: in scale the
	// merge ran on a worker and the scan runs on the other API replica.
	sbomXML := scansGunzip(t, filepath.Join(scansTestdata(t), "sbom", "postgres-stretch.cdx.xml.gz"))
	if up, _, err := scanner.ScanUpload(ctx, bytes.NewReader(sbomXML), client.ScanUploadOptions{SBOMOnly: true}); err != nil ||
		up.Completed == nil || up.Completed.Snapshot != mc.Snapshot {
		t.Errorf("scan after the merge: %+v %v; want snapshot %s", up, err, mc.Snapshot)
	}

	// db export --format json, then --delta with nothing changed.
	full := runJob(t, cli, clk, "export:json", client.ConcelierTrigger{})
	var jc struct {
		Output   string
		Metadata struct {
			Mode          string
			AdvisoryCount int
		}
	}
	if err := full.DecodeCounts(&jc); err != nil || jc.Metadata.Mode != "full" || jc.Metadata.AdvisoryCount != mc.Advisories ||
		!strings.HasPrefix(jc.Output, filepath.Join(data, "exports", "json")) {
		t.Errorf("export:json counts %s (%v)", full.Counts, err)
	}
	delta := runJob(t, cli, clk, "export:json", client.ConcelierTrigger{Parameters: client.ConcelierParameters{Delta: client.JobFlag(true)}})
	if err := delta.DecodeCounts(&jc); err != nil || jc.Metadata.Mode != "delta" {
		t.Errorf("export:json delta counts %s (%v)", delta.Counts, err)
	}

	// db export --format trivy-db: a full run is pushed and bundled (the configuration's
	// defaults), its metadata.json has the spec's fields.
	trivy := runJob(t, cli, clk, "export:trivy-db", client.ConcelierTrigger{Trigger: "cli"})
	var tc concelier.TrivyDBCounts
	if err := trivy.DecodeCounts(&tc); err != nil {
		t.Fatal(err)
	}
	if tc.Published == nil || tc.Published.Ref != ref || tc.Published.Digest != tc.Result.ManifestDigest || tc.Bundle == nil || tc.Result.Metadata.Mode != "full" {
		t.Errorf("trivy-db full run: %s", trivy.Counts)
	}
	var md map[string]any
	if b, err := os.ReadFile(filepath.Join(tc.Output, "oci", "metadata.json")); err != nil || json.Unmarshal(b, &md) != nil {
		t.Fatalf("metadata.json: %v", err)
	}
	for _, k := range []string{"mode", "treeDigest", "treeBytes", "advisoryCount", "exporterVersion"} {
		if _, ok := md[k]; !ok {
			t.Errorf("metadata.json lacks %s: %v", k, md)
		}
	}
	// Sets { delta = true } (as the CLI's --delta, here in the query): by the spec's defaults a
	// delta run is neither pushed nor bundled; --publish-delta overrides that for one run.
	clk.Add(time.Second)
	resp, err = cli.Raw(ctx, http.MethodPost, "/jobs/export:trivy-db", url.Values{"delta": {"true"}}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var dj client.ConcelierJob
	_ = json.Unmarshal(resp.Body, &dj)
	dj = waitRun(t, cli, dj.JobID, client.ConcelierJobSucceeded)
	var dc concelier.TrivyDBCounts
	if err := dj.DecodeCounts(&dc); err != nil || dc.Result.Metadata.Mode != "delta" || dc.Published != nil || dc.Bundle != nil ||
		dc.Result.Metadata.BaseManifestDigest != tc.Result.ManifestDigest {
		t.Errorf("trivy-db delta: %s (%v)", dj.Counts, err)
	}
	pd := runJob(t, cli, clk, "export:trivy-db", client.ConcelierTrigger{Parameters: client.ConcelierParameters{Delta: client.JobFlag(true), PublishDelta: client.JobFlag(true)}})
	if err := pd.DecodeCounts(&dc); err != nil || dc.Published == nil || dc.Published.Digest != dc.Result.ManifestDigest {
		t.Errorf("trivy-db delta with publishDelta: %s (%v)", pd.Counts, err)
	}

	// 409: while a run of the kind holds the lease (here `stellaops concelier run`, the same
	// runner on the same store), a trigger is refused and nothing is recorded.
	clk.Add(time.Second)
	var st store.Store
	if topo == scale {
		st, err = pgstore.Open(ctx, d.dsn, store.Options{Now: clk.Now})
	} else {
		st, err = sqlitestore.Open(ctx, filepath.Join(d.dataDirs[0], "concelier", "concelier.db"), store.Options{Now: clk.Now})
	}
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	holding, release := servertest.HoldJobLease(t, st, "merge:reconcile")
	before, _ := cli.ConcelierJobs(ctx, "", 200, "")
	_, err = cli.TriggerConcelierJob(ctx, "merge:reconcile", client.ConcelierTrigger{})
	var ce *client.Error
	if !client.IsStatus(err, http.StatusConflict) || !asError(err, &ce) || ce.Type != "https://stella-ops.org/probs/conflict" || !strings.Contains(ce.Detail, holding.ID) {
		t.Errorf("trigger while running: %v", err)
	}
	if after, _ := cli.ConcelierJobs(ctx, "", 200, ""); len(after.Jobs) != len(before.Jobs) {
		t.Errorf("a refused trigger was recorded: %d → %d runs", len(before.Jobs), len(after.Jobs))
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	// The CLI's run is listed with the API's.
	if j, err := reader.ConcelierJob(ctx, holding.ID); err != nil || j.Status != "succeeded" || j.Trigger != "cli:ops" {
		t.Errorf("the CLI's run: %+v %v", j, err)
	}

	// Scopes: reads need concelier.read, triggers concelier.jobs.trigger; no token is 401.
	if _, err := reader.TriggerConcelierJob(ctx, "merge:reconcile", client.ConcelierTrigger{}); !client.IsStatus(err, http.StatusForbidden) {
		t.Errorf("trigger with concelier.read only: %v", err)
	}
	if _, err := scanner.ConcelierJobs(ctx, "", 0, ""); !client.IsStatus(err, http.StatusForbidden) {
		t.Errorf("list without concelier.read: %v", err)
	}
	anon := through(t, v, r.url)
	if _, err := anon.TriggerConcelierJob(ctx, "export:json", client.ConcelierTrigger{}); !client.IsStatus(err, http.StatusUnauthorized) {
		t.Errorf("trigger without a token: %v", err)
	}

	// 404s: kinds this server does not run, runs that do not exist.
	for _, kind := range []string{"source:ghsa:fetch", "source:osv:download", "launch:rockets", "source:debian:fetch"} {
		if _, err := cli.TriggerConcelierJob(ctx, kind, client.ConcelierTrigger{}); !client.IsStatus(err, http.StatusNotFound) {
			t.Errorf("trigger %s: %v", kind, err)
		}
	}
	if _, err := reader.ConcelierJob(ctx, "0b5f1c4e-6a51-4ad5-9f0e-2a7f3a1d9c11"); !client.IsStatus(err, http.StatusNotFound) {
		t.Errorf("unknown run: %v", err)
	}

	// 400s with the field at fault; nothing recorded.
	for _, tc := range []struct {
		kind, body string
		q          url.Values
		field      string
	}{
		{"source:osv:fetch", `{"parameters": {"mode": "sideways"}}`, nil, "parameters.mode"},
		{"source:osv:fetch", `{"parameters": {"mirror": "../../etc"}}`, nil, "parameters.mirror"},
		{"source:osv:fetch", `{"parameters": {"mirror": "nowhere"}}`, nil, "parameters.mirror"},
		{"source:osv:fetch", `{"parameters": {"ecosystems": ["../Go"]}}`, nil, "parameters.ecosystems[0]"},
		{"merge:reconcile", `{"parameters": {"delta": true}}`, nil, "parameters.delta"},
		{"export:json", `{"parameters": {"publishFull": true}}`, nil, "parameters.publishFull"},
		{"export:json", `{"parameters": {"delta": false}}`, url.Values{"delta": {"true"}}, "parameters.delta"},
		{"export:json", ``, url.Values{"output": {"/tmp/x"}}, "query"},
		{"export:json", `{"trigger": "rm -rf"}`, nil, "trigger"},
	} {
		resp, err := cli.Raw(ctx, http.MethodPost, "/jobs/"+tc.kind, tc.q, "application/json", strings.NewReader(tc.body))
		var ce *client.Error
		if !asError(err, &ce) || ce.StatusCode != http.StatusBadRequest || len(ce.Errors) != 1 || ce.Errors[0].Path != tc.field {
			t.Errorf("%s %s %v: %v %v", tc.kind, tc.body, tc.q, resp, err)
		}
	}
	if _, err := cli.Raw(ctx, http.MethodPost, "/jobs/export:json", nil, "application/json", strings.NewReader(`{"parameters": {"output": "/tmp"}}`)); !client.IsStatus(err, http.StatusBadRequest) {
		t.Errorf("unknown body field: %v", err)
	}
	if _, err := cli.Raw(ctx, http.MethodPost, "/jobs/export:json", nil, "text/plain", strings.NewReader("delta=true")); !client.IsStatus(err, http.StatusUnsupportedMediaType) {
		t.Errorf("a body that is not JSON: %v", err)
	}

	// The listing: newest first, by kind, and in pages that add up to it.
	all, err := reader.ConcelierJobs(ctx, "", 200, "")
	if err != nil || len(all.Jobs) != 10 || all.NextCursor != "" {
		t.Fatalf("list: %d runs, %v", len(all.Jobs), err)
	}
	if all.Jobs[0].JobID != holding.ID || all.Jobs[len(all.Jobs)-1].JobID != fetch.JobID {
		t.Errorf("not newest first: %s … %s", all.Jobs[0].Kind, all.Jobs[len(all.Jobs)-1].Kind)
	}
	var paged []string
	for cursor := ""; ; {
		p, err := reader.ConcelierJobs(ctx, "", 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range p.Jobs {
			paged = append(paged, j.JobID)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	var ids []string
	for _, j := range all.Jobs {
		ids = append(ids, j.JobID)
	}
	if !slices.Equal(paged, ids) {
		t.Errorf("pages %v, list %v", paged, ids)
	}
	if exports, err := reader.ConcelierJobs(ctx, "export:trivy-db", 0, ""); err != nil || len(exports.Jobs) != 3 {
		t.Errorf("trivy-db runs: %+v %v", exports, err)
	}
	for _, q := range []url.Values{{"limit": {"0"}}, {"cursor": {"nope"}}, {"kind": {"launch:rockets"}}, {"status": {"failed"}}} {
		if _, err := reader.Raw(ctx, http.MethodGet, "/jobs", q, "", nil); !client.IsStatus(err, http.StatusBadRequest) {
			t.Errorf("list %v: %v", q, err)
		}
	}

	// Every /jobs request was audited with who, scopes and status.
	evs, err := admin.Audit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range evs {
		if e.Type != "http.request" || !strings.HasPrefix(e.Detail, "POST /jobs/") && !strings.HasPrefix(e.Detail, "GET /jobs") {
			continue
		}
		seen[e.Detail+" "+e.ClientID+" "+http.StatusText(e.Status)] = true
		if e.TraceID == "" || e.Outcome != map[bool]string{true: "success", false: "failure"}[e.Status < 400] {
			t.Errorf("audit event %+v", e)
		}
		if e.ClientID == "concelier-cli" && !slices.Contains(e.Scopes, authority.ScopeConcelierTrigger) {
			t.Errorf("audit event without the token's scopes: %+v", e)
		}
	}
	for _, want := range []string{
		"POST /jobs/source:osv:fetch concelier-cli Accepted",
		"POST /jobs/merge:reconcile concelier-cli Conflict",
		"POST /jobs/merge:reconcile dashboard Forbidden",
		"POST /jobs/export:json  Unauthorized",
		"GET /jobs/" + fetch.JobID + " concelier-cli OK",
		"GET /jobs dashboard OK",
		"POST /jobs/launch:rockets concelier-cli Not Found",
	} {
		if !seen[want] {
			t.Errorf("no audit event %q", want)
		}
	}

	// Every documented outcome of the area was produced (and validated) above.
	hits := v.Coverage()
	for _, want := range []struct {
		op     string
		status []int
	}{
		{"triggerConcelierJob", []int{202, 400, 401, 403, 404, 409, 415}},
		{"getConcelierJob", []int{200, 404}},
		{"listConcelierJobs", []int{200, 400, 403}},
	} {
		for _, code := range want.status {
			found := false
			for h := range hits {
				found = found || h.OperationID == want.op && h.Status == code
			}
			if !found {
				t.Errorf("%s never answered %d", want.op, code)
			}
		}
	}
}

// With authority.allowAnonymousFallback, callers without a token may trigger and read (spec:
// anonymous operation only with the fallback); a run that fails says why.
func TestConcelierJobsAnonymousFallback(t *testing.T) {
	ctx := context.Background()
	cfg := baseConfig()
	cfg.Authority.AllowAnonymousFallback = true
	clk := &clock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	r := start(t, cfg, server.Options{DataDir: t.TempDir(), Now: clk.Now})
	anon := validated(t, r.url)
	j, err := anon.TriggerConcelierJob(ctx, "export:json", client.ConcelierTrigger{Trigger: "scheduler"})
	if err != nil || j.Trigger != "scheduler/anonymous" {
		t.Fatalf("anonymous trigger: %+v %v", j, err)
	}
	// Nothing was merged yet: the export fails, with the reason.
	failed := waitRun(t, anon, j.JobID, client.ConcelierJobFailed)
	if !strings.Contains(failed.Error, "merged set is empty") || failed.Counts != nil {
		t.Errorf("failed run %+v", failed)
	}
	// Without a mirror root, no request names a server path.
	if _, err := anon.TriggerConcelierJob(ctx, "source:osv:fetch", client.ConcelierTrigger{Parameters: client.ConcelierParameters{Mirror: "osv"}}); !client.IsStatus(err, http.StatusBadRequest) {
		t.Errorf("mirror without a mirror root: %v", err)
	}
	// osv over the network needs its ecosystems.
	if _, err := anon.TriggerConcelierJob(ctx, "source:osv:fetch", client.ConcelierTrigger{}); !client.IsStatus(err, http.StatusBadRequest) {
		t.Errorf("osv without ecosystems or mirror: %v", err)
	}
	evs, err := newClient(t, r.url, client.WithBootstrapKey(bootstrap)).Audit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == "http.request" && e.Detail == "POST /jobs/export:json" && e.Subject == "" && e.Status == http.StatusAccepted {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d audit events of the anonymous trigger", n)
	}
}

// Scale mode: an API-only replica accepts runs into the Redis queue, where nothing runs them
// until a concelier-role replica starts; meanwhile the kind is busy on every replica (409).
// The concelier replica runs them on the shared PostgreSQL store, and the API replica reports
// the outcome.
func TestConcelierJobsReplicasPostgres(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchemaDSN(t, "server_concelier")
	redisAddr := testenv.RedisAddr(t)
	prefix := "test-" + testenv.RandomHex(6)
	testenv.DeleteRedisKeysAtCleanup(t, redisAddr, "{stellaops:queue:concelier:"+prefix+"}:*")
	testenv.DeleteRedisKeysAtCleanup(t, redisAddr, "{stellaops:queue:scan:"+prefix+"}:*")
	testenv.DeleteRedisKeysAtCleanup(t, redisAddr, "stellaops:quota:"+prefix+":*")
	mirrors := osvMirrorRoot(t)
	cfg := baseConfig()
	cfg.Storage = server.StorageConfig{Driver: "postgres", DSN: dsn}
	cfg.Redis = server.RedisConfig{Addr: redisAddr, Prefix: prefix}
	cfg.Authority.Issuer = "https://stellaops.test"
	cfg.Authority.KeyDirectory = t.TempDir()
	// Polling runs to completion on a clock that stands still would exhaust one rate window.
	cfg.Quota.RatePerSecond = -1
	cfg.Concelier.MirrorRoot = mirrors
	cfg.Concelier.Sources = map[string]server.ConcelierSourceConfig{"osv": {Mirror: filepath.Join(mirrors, "osv")}}
	clk := &clock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}

	apiCfg := cfg
	apiCfg.Server.Roles = []string{"api"}
	a := start(t, apiCfg, server.Options{DataDir: t.TempDir(), Now: clk.Now})
	v := apitest.Default(t)
	admin := through(t, v, a.url, client.WithBootstrapKey(bootstrap))
	cli := concelierToken(t, v, a.url, admin, "concelier-cli", authority.ScopeConcelierTrigger, authority.ScopeConcelierRead)

	clk.Add(time.Second)
	fetch, err := cli.TriggerConcelierJob(ctx, "source:osv:fetch", client.ConcelierTrigger{Trigger: "cli", Parameters: client.ConcelierParameters{Mode: "init"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.TriggerConcelierJob(ctx, "source:osv:fetch", client.ConcelierTrigger{}); !client.IsStatus(err, http.StatusConflict) {
		t.Fatalf("second trigger of a queued kind: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // nothing runs it on an API-only replica
	if j, err := cli.ConcelierJob(ctx, fetch.JobID); err != nil || j.Status != client.ConcelierJobRunning {
		t.Fatalf("queued run: %+v %v", j, err)
	}

	workerCfg := cfg
	workerCfg.Server.Roles = []string{"concelier"}
	start(t, workerCfg, server.Options{DataDir: t.TempDir(), Now: clk.Now})
	f := waitRun(t, cli, fetch.JobID, client.ConcelierJobSucceeded)
	var fc struct{ Archives, Records int }
	if err := f.DecodeCounts(&fc); err != nil || fc.Archives != 2 || fc.Records < 1300 {
		t.Errorf("fetch counts %s", f.Counts)
	}
	runJob(t, cli, clk, "source:osv:parse", client.ConcelierTrigger{})
	runJob(t, cli, clk, "source:osv:map", client.ConcelierTrigger{})
	merge := runJob(t, cli, clk, "merge:reconcile", client.ConcelierTrigger{})
	var mc concelier.ReconcileCounts
	if err := merge.DecodeCounts(&mc); err != nil || mc.Advisories < 1300 {
		t.Errorf("merge counts %s", merge.Counts)
	}
	trivy := runJob(t, cli, clk, "export:trivy-db", client.ConcelierTrigger{})
	var tc concelier.TrivyDBCounts
	if err := trivy.DecodeCounts(&tc); err != nil || tc.Result.Metadata.Mode != "full" || tc.Result.Metadata.AdvisoryCount != mc.Advisories {
		t.Errorf("trivy-db counts %s", trivy.Counts)
	}
	list, err := cli.ConcelierJobs(ctx, "", 0, "")
	if err != nil || len(list.Jobs) != 5 || list.Jobs[0].JobID != trivy.JobID {
		t.Errorf("list %+v %v", list, err)
	}
	evs, err := admin.Audit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, e := range evs {
		if e.Type == "http.request" && strings.HasPrefix(e.Detail, "POST /jobs/") && e.ClientID == "concelier-cli" {
			audited++
		}
	}
	if audited != 6 {
		t.Errorf("%d trigger audit events, want 6", audited)
	}
}

func asError(err error, target **client.Error) bool { return errors.As(err, target) }

func realPath(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The spec's example configuration (appsettings.yaml) loads into the Concelier section, and
// environment variables reach the per-source settings.
func TestConcelierConfigFromSpecExample(t *testing.T) {
	dir := t.TempDir()
	yaml := `concelier:
  exporters:
    trivyDb:
      oras:
        enabled: true
        ref: registry.example/stellaops/trivy-db:2
        publishFull: true
        publishDelta: false
      offlineBundle:
        enabled: true
        includeFull: true
        includeDelta: false
`
	if err := os.WriteFile(filepath.Join(dir, "appsettings.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := server.Defaults()
	_, err := config.Load(&cfg, config.Options{Dirs: []string{dir}, Environ: []string{
		`STELLAOPS_CONCELIER__SOURCES={"osv": {"mirror": "/srv/mirrors/osv"}}`,
		"STELLAOPS_CONCELIER__ALLOWEDSOURCES=osv,alpine",
		"STELLAOPS_CONCELIER__EXPORTERS__TRIVYDB__ORAS__PASSWORD=s3cret",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	o := cfg.Concelier.Exporters.TrivyDB
	if !o.ORAS.Enabled || o.ORAS.Ref != "registry.example/stellaops/trivy-db:2" || !o.ORAS.PublishFull || o.ORAS.PublishDelta ||
		o.ORAS.Password != "s3cret" || !o.OfflineBundle.Enabled || !o.OfflineBundle.IncludeFull || o.OfflineBundle.IncludeDelta {
		t.Errorf("trivyDb %+v", o)
	}
	if cfg.Concelier.Sources["osv"].Mirror != "/srv/mirrors/osv" || !slices.Equal(cfg.Concelier.AllowedSources, []string{"osv", "alpine"}) {
		t.Errorf("sources %+v %v", cfg.Concelier.Sources, cfg.Concelier.AllowedSources)
	}
	// Invalid settings are refused at startup, each named.
	bad := server.Defaults()
	bad.Concelier.AllowedSources = []string{"ghsa"}
	bad.Concelier.Sources = map[string]server.ConcelierSourceConfig{"alpine": {Ecosystems: []string{"Go"}}}
	bad.Concelier.Exporters.TrivyDB.ORAS.Enabled = true
	bad.Concelier.Workers = 0
	bad.Concelier.DSN = "mysql://x"
	err = bad.Validate()
	for _, want := range []string{"concelier.allowedSources", "concelier.sources.alpine.ecosystems", "concelier.exporters.trivyDb.oras.ref", "concelier.workers", "concelier.dsn"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s not refused: %v", want, err)
		}
	}
}

// Embedded, a run accepted by an earlier process was in its in-memory queue, which is gone:
// the next start records it as failed rather than leave it "running" forever. A run that
// `stellaops concelier run` holds the lease of is left alone.
func TestConcelierSweepsOrphanedRuns(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "concelier"), 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := sqlitestore.Open(ctx, filepath.Join(data, "concelier", "concelier.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := jobs.New(st, "previous-server").Accept(ctx, "merge:reconcile", "api/ci-bot", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := st.AcquireLock(ctx, "export:json", "cli-host:4242", time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	cliRun, err := st.StartJob(ctx, store.Job{Kind: "export:json", Trigger: "cli:ops"})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	cfg := baseConfig()
	cfg.Authority.AllowAnonymousFallback = true
	r := start(t, cfg, server.Options{DataDir: data})
	c := validated(t, r.url)
	if j, err := c.ConcelierJob(ctx, orphan.ID); err != nil || j.Status != client.ConcelierJobFailed || !strings.Contains(j.Error, "abandoned") {
		t.Errorf("orphaned run: %+v %v", j, err)
	}
	if j, err := c.ConcelierJob(ctx, cliRun.ID); err != nil || j.Status != client.ConcelierJobRunning {
		t.Errorf("the CLI's running job: %+v %v", j, err)
	}
	// The orphan's kind is free again; the CLI's is not.
	if _, err := c.TriggerConcelierJob(ctx, "merge:reconcile", client.ConcelierTrigger{}); err != nil {
		t.Errorf("trigger after the sweep: %v", err)
	}
	if _, err := c.TriggerConcelierJob(ctx, "export:json", client.ConcelierTrigger{}); !client.IsStatus(err, http.StatusConflict) {
		t.Errorf("trigger of the CLI's kind: %v", err)
	}
}
