package stellaopscli_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/sqlitestore"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

// osvMirror lays out a mirror root holding osv/<Ecosystem>/all.zip, copies of two real bundled
// OSV archives (the ones the server's Concelier tests use).
func osvMirror(t *testing.T) string { return servertest.OSVMirror(t, "crates.io", "PSF-CPython") }

// concelierEnv is a server whose Concelier reads OSV from a mirror and bundles trivy-db exports
// offline, and a CLI logged in (on first use) as a client that may trigger and read jobs.
func concelierEnv(t *testing.T) (e *cliEnv, mirrors, data string) {
	mirrors, data = osvMirror(t), t.TempDir()
	cfg := servertest.Config()
	cfg.Quota.RatePerSecond = -1 // --wait polls
	cfg.Concelier.MirrorRoot = mirrors
	cfg.Concelier.Sources = map[string]server.ConcelierSourceConfig{"osv": {Mirror: filepath.Join(mirrors, "osv")}}
	cfg.Concelier.AllowedSources = []string{"osv", "alpine"}
	cfg.Concelier.Exporters.TrivyDB.OfflineBundle.Enabled = true
	e = newCLIEnv(t, cfg, server.Options{DataDir: data})
	e.identity("concelier-cli", authority.ScopeConcelierTrigger, authority.ScopeConcelierRead)
	return e, mirrors, data
}

var jobLine = regexp.MustCompile(`(?m)^Job ([0-9a-f-]{36}) \(([a-z:-]+)\): (\w+)`)

// TestDBJobs runs the advisory pipeline as an operator does: fetch, parse and map the OSV
// source, merge, and export JSON and Trivy DB, following each run with --wait.
func TestDBJobs(t *testing.T) {
	e, _, _ := concelierEnv(t)
	steps := []struct {
		args   []string
		kind   string
		counts string
	}{
		{[]string{"db", "fetch", "--source", "osv", "--mode", "init"}, "source:osv:fetch", `"archives":2,`},
		{[]string{"db", "fetch", "--source", "osv", "--stage", "parse"}, "source:osv:parse", `"failed":0`},
		{[]string{"db", "fetch", "--source", "osv", "--stage", "map"}, "source:osv:map", `"failed":0`},
		{[]string{"db", "merge"}, "merge:reconcile", `"snapshot":"sha256:`},
		{[]string{"db", "export"}, "export:json", `"mode":"full"`},
		{[]string{"db", "export", "--format", "json", "--delta"}, "export:json", `"mode":"delta"`},
		// Not a terminal: no prompt, the server's defaults (a full run is bundled) …
		{[]string{"db", "export", "--format", "trivy-db"}, "export:trivy-db", `"bundle":{`},
		// … which a flag overrides for one run.
		{[]string{"db", "export", "--format", "trivy-db", "--bundle-full=false"}, "export:trivy-db", `"mode":"full"`},
	}
	for _, s := range steps {
		code, out, stderr := e.runIn(strings.NewReader("y\ny\n"), append(s.args, "--wait", "--poll-interval", "20ms")...)
		m := jobLine.FindAllStringSubmatch(out, -1)
		if code != 0 || len(m) != 2 || m[0][2] != s.kind || m[0][3] != "running" || m[1][1] != m[0][1] || m[1][3] != "succeeded" ||
			!strings.Contains(out, s.counts) {
			t.Fatalf("%v: exit %d, want %s run that succeeded with %s:\n%s%s", s.args, code, s.kind, s.counts, out, stderr)
		}
		if strings.Contains(out, "[y/n") {
			t.Errorf("%v prompted without a terminal:\n%s", s.args, out)
		}
		if strings.Contains(strings.Join(s.args, " "), "--bundle-full=false") && strings.Contains(out, `"bundle":`) {
			t.Errorf("--bundle-full=false still bundled:\n%s", out)
		}
	}

	// Without --wait: the accepted run, exit 0.
	code, out, stderr := e.run("db", "merge")
	m := jobLine.FindStringSubmatch(out)
	if code != 0 || m == nil || m[3] != "running" || strings.Contains(out, "Counts:") {
		t.Fatalf("db merge without --wait: exit %d\n%s%s", code, out, stderr)
	}
	admin := e.admin()
	ci, err := admin.CreateClient(context.Background(), client.NewClient{ClientID: "reader", Scopes: []string{authority.ScopeConcelierRead}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.Token(context.Background(), client.TokenRequest{ClientID: "reader", ClientSecret: ci.Secret})
	if err != nil {
		t.Fatal(err)
	}
	if j, err := admin.With(client.WithToken(tok.AccessToken)).WaitConcelierJob(context.Background(), m[1], 20*time.Millisecond); err != nil || j.Status != "succeeded" {
		t.Errorf("the merge triggered without --wait: %+v %v", j, err)
	}
}

func TestDBErrors(t *testing.T) {
	ctx := context.Background()
	e, mirrors, data := concelierEnv(t)

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"db", "fetch"}, "--source is required"},
		{[]string{"db", "fetch", "--source", "osv", "--stage", "load"}, `--stage "load": fetch, parse or map`},
		{[]string{"db", "fetch", "--source", "osv", "--mode", "sideways"}, `--mode "sideways"`},
		{[]string{"db", "fetch", "--source", "osv:fetch"}, "a connector id"},
		{[]string{"db", "export", "--format", "csv"}, `--format "csv": json or trivy-db`},
		{[]string{"db", "export", "--publish-full"}, "apply to --format trivy-db only"},
		{[]string{"db", "merge", "extra"}, "accepts 0 arg"},
	} {
		code, _, stderr := e.run(c.args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", c.args, code)
		}
		oneLine(t, strings.Join(c.args, " "), stderr, c.msg)
	}

	// A source the server does not allow: 4xx from the server, exit 1.
	code, _, stderr := e.run("db", "fetch", "--source", "ghsa")
	if code != 1 {
		t.Errorf("unknown source: exit %d", code)
	}
	oneLine(t, "unknown source", stderr, "db fetch: HTTP 404")

	// 409: while a run of the kind holds its lease (here `stellaops concelier run` on the same
	// store), db merge is refused with the server's detail.
	st, err := sqlitestore.Open(ctx, filepath.Join(data, "concelier", "concelier.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	holding, release := servertest.HoldJobLease(t, st, "merge:reconcile")
	code, _, stderr = e.run("db", "merge", "--wait")
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if code != 1 {
		t.Errorf("merge while one runs: exit %d", code)
	}
	oneLine(t, "merge while one runs", stderr, "db merge: HTTP 409")
	if !strings.Contains(stderr, holding.ID) {
		t.Errorf("the conflict does not name the running job %s: %s", holding.ID, stderr)
	}

	// A run that fails: --wait exits 1 with its error.
	if err := os.RemoveAll(filepath.Join(mirrors, "osv")); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := e.run("db", "fetch", "--source", "osv", "--mode", "init", "--wait", "--poll-interval", "20ms")
	if code != 1 || !strings.Contains(out, "): failed") {
		t.Errorf("failing fetch: exit %d\n%s", code, out)
	}
	oneLine(t, "failing fetch", stderr, "(source:osv:fetch) failed: ")

	// The server refuses the cached token (revoked): it is renewed once, and the call goes on.
	if code, _, stderr := e.run("auth", "login"); code != 0 {
		t.Fatalf("login: %s", stderr)
	}
	_, cached, _ := e.run("auth", "whoami", "-v")
	jti := regexp.MustCompile(`jti: "([^"]+)"`).FindStringSubmatch(cached)
	if jti == nil {
		t.Fatalf("no jti in\n%s", cached)
	}
	if _, err := e.admin().Revoke(ctx, client.RevokeRequest{JTI: jti[1], Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := e.run("db", "merge"); code != 0 || !strings.Contains(out, "(merge:reconcile): running") {
		t.Errorf("merge with a revoked cached token: exit %d\n%s%s", code, out, stderr)
	}
	if _, again, _ := e.run("auth", "whoami", "-v"); strings.Contains(again, jti[1]) {
		t.Error("the revoked token is still cached")
	}

	// A token without the scope: 403 with what to do.
	e.identity("dashboard", authority.ScopeConcelierRead)
	code, _, stderr = e.run("db", "merge")
	if code != 1 {
		t.Errorf("without concelier.jobs.trigger: exit %d", code)
	}
	oneLine(t, "without concelier.jobs.trigger", stderr, "db merge: the token lacks a scope this needs (HTTP 403")

	// A bad API key: 401, one line.
	e.vars["API_KEY"] = "not-a-token"
	code, _, stderr = e.run("db", "merge")
	if code != 1 {
		t.Errorf("bad API key: exit %d", code)
	}
	oneLine(t, "bad API key", stderr, "db merge: the server refused the credentials (HTTP 401")

	// Server down.
	e.srv.Stop(t)
	code, _, stderr = e.run("db", "merge")
	if code != 1 {
		t.Errorf("server down: exit %d", code)
	}
	oneLine(t, "server down", stderr, "db merge: cannot reach the server: dial tcp")
}

// TestDBWaitInterrupted: Ctrl-C while --wait follows a run exits 130; the run goes on.
func TestDBWaitInterrupted(t *testing.T) {
	e, _, _ := concelierEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The first poll comes straight after the trigger and finds the fetch of 1,300 records
	// still running; the next would come an hour later, long after the cancel.
	time.AfterFunc(300*time.Millisecond, cancel)
	code, _, stderr := e.runCtx(ctx, strings.NewReader(""), "db", "fetch", "--source", "osv", "--mode", "init", "--wait", "--poll-interval", "1h")
	if code != 130 {
		t.Errorf("interrupted --wait: exit %d", code)
	}
	oneLine(t, "interrupted --wait", stderr, "stellaops-cli: interrupted")
}

// TestDBScopeGrantedAfterLogin: a cached token issued before the client was granted
// concelier.jobs.trigger is refused (403); the CLI renews it once and the trigger goes through.
func TestDBScopeGrantedAfterLogin(t *testing.T) {
	ctx := context.Background()
	e, _, _ := concelierEnv(t)
	const secret = "a-fixed-secret-for-this-test-0123456789"
	grant := func(scopes ...string) {
		if _, err := e.admin().CreateClient(ctx, client.NewClient{ClientID: "ops", Scopes: scopes, Secret: secret}); err != nil {
			t.Fatal(err)
		}
	}
	grant(authority.ScopeConcelierRead)
	e.vars["STELLAOPS_AUTHORITY__CLIENTID"] = "ops"
	e.vars["STELLAOPS_AUTHORITY__CLIENTSECRET"] = secret
	delete(e.vars, "STELLAOPS_AUTHORITY__SCOPE") // the client's scopes, whatever they are
	if code, out, stderr := e.run("auth", "login"); code != 0 || strings.Contains(out, authority.ScopeConcelierTrigger) {
		t.Fatalf("login: exit %d\n%s%s", code, out, stderr)
	}
	grant(authority.ScopeConcelierRead, authority.ScopeConcelierTrigger)
	if code, out, stderr := e.run("db", "merge"); code != 0 || !strings.Contains(out, "(merge:reconcile): running") {
		t.Errorf("merge with a token from before the grant: exit %d\n%s%s", code, out, stderr)
	}
	if _, out, _ := e.run("auth", "status"); !strings.Contains(out, authority.ScopeConcelierTrigger) {
		t.Errorf("the renewed token is not cached:\n%s", out)
	}
}
