package stellopsctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stellopsctl"
	"github.com/stellaops/stellaops/internal/concelier"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

// osvMirror lays out a mirror root holding osv/PSF-CPython/all.zip, a copy of a real bundled
// OSV archive (the smallest), as the server's Concelier tests do: feeds refresh offline.
// broken/PSF-CPython/all.zip is a mirror whose archive is not a zip.
func osvMirror(t *testing.T) string {
	t.Helper()
	root := servertest.OSVMirror(t, "PSF-CPython")
	d := filepath.Join(root, "broken", "PSF-CPython")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "all.zip"), []byte("not a zip archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// feedServer runs a server whose osv source reads the mirror, and returns it with its data
// directory.
func feedServer(t *testing.T) (*servertest.Running, string) {
	t.Helper()
	mirrors := osvMirror(t)
	cfg := servertest.Config()
	// Polling every few milliseconds must not run into the per-token rate limit.
	cfg.Quota.RatePerSecond = -1
	cfg.Concelier.MirrorRoot = mirrors
	cfg.Concelier.Sources = map[string]server.ConcelierSourceConfig{"osv": {Mirror: filepath.Join(mirrors, "osv")}}
	data := t.TempDir()
	return servertest.Start(t, cfg, server.Options{DataDir: data}), data
}

func TestFeedRefreshAndStatus(t *testing.T) {
	srv, data := feedServer(t)
	tok := token(t, srv.URL, "feed-admin", authority.ScopeConcelierTrigger, authority.ScopeConcelierRead)
	c := call{environ: []string{"STELLAOPS_BACKEND_URL=" + srv.URL, "API_KEY=" + tok}}
	fast := "--poll-interval=20ms"

	if r := c.run(t, "feed", "status").wantOK(t); !strings.HasPrefix(r.out, "no Concelier job runs yet") {
		t.Errorf("status before any run: %q", r.out)
	}

	// The default refresh: osv fetch, parse, map followed to the end, then the merge, here
	// followed too.
	r := c.run(t, "feed", "refresh", "--wait", fast).wantOK(t)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	want := []string{"source:osv:fetch", "source:osv:parse", "source:osv:map", "merge:reconcile"}
	if len(lines) != len(want) {
		t.Fatalf("refresh printed:\n%s", r.out)
	}
	for i, k := range want {
		if f := strings.Fields(lines[i]); len(f) < 4 || f[0] != k || f[1] != "succeeded" {
			t.Errorf("refresh line %d: %q, want %s succeeded", i, lines[i], k)
		}
	}
	if !regexp.MustCompile(`archives=1 created=\d+ .*records=\d+`).MatchString(lines[0]) ||
		!regexp.MustCompile(`advisories=\d+ .*snapshot=sha256:[0-9a-f]{12}\b`).MatchString(lines[3]) {
		t.Errorf("refresh summaries:\n%s", r.out)
	}
	if r.stderr != "" {
		t.Errorf("stderr of a piped refresh: %q", r.stderr)
	}

	// Status: one line per kind in pipeline order, all succeeded.
	r = c.run(t, "feed", "status").wantOK(t)
	lines = strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "KIND") || !strings.Contains(lines[0], "LAST SUCCESS") {
		t.Fatalf("status:\n%s", r.out)
	}
	for i, k := range want {
		if f := strings.Fields(lines[i+1]); f[0] != k || f[1] != "succeeded" || f[3] != f[4] {
			t.Errorf("status line %q", lines[i+1])
		}
	}

	// The merge alone, not followed: accepted, then seen in the status as JSON once done.
	r = c.run(t, "feed", "refresh", "--merge-only", "-o", "json").wantOK(t)
	var acc struct{ Runs []client.ConcelierJob }
	if err := json.Unmarshal([]byte(r.out), &acc); err != nil || len(acc.Runs) != 1 || acc.Runs[0].Kind != "merge:reconcile" ||
		acc.Runs[0].Status != "running" {
		t.Fatalf("refresh --merge-only -o json: %s (%v)", r.out, err)
	}
	if _, err := clientOf(t, srv.URL, tok).WaitConcelierJob(t.Context(), acc.Runs[0].JobID, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	r = c.run(t, "feed", "status", "--kind", "merge:reconcile", "-o", "json").wantOK(t)
	var st struct {
		Kinds []struct {
			Kind        string
			Last        client.ConcelierJob
			LastSuccess *client.ConcelierJob
			Runs        int
		}
	}
	if err := json.Unmarshal([]byte(r.out), &st); err != nil || len(st.Kinds) != 1 || st.Kinds[0].Runs != 2 ||
		st.Kinds[0].Last.JobID != acc.Runs[0].JobID || st.Kinds[0].LastSuccess == nil {
		t.Errorf("status --kind merge:reconcile -o json: %s (%v)", r.out, err)
	}

	// A run that fails (the mirror's archive is not a zip): its line, then exit 1 with its error;
	// the stages after it are not triggered.
	r = c.run(t, "feed", "refresh", "--mirror", "broken", "--mode", "init", fast)
	r.wantFail(t, cli.ExitFailure, "source:osv:fetch failed (job ")
	if f := strings.Fields(r.out); len(f) < 2 || f[0] != "source:osv:fetch" || f[1] != "failed" || strings.Count(r.out, "\n") != 1 {
		t.Errorf("stdout of a failed refresh: %q", r.out)
	}
	r = c.run(t, "feed", "status", "--kind", "source:osv:fetch").wantOK(t)
	if !regexp.MustCompile(`source:osv:fetch\s+failed\s.*error: `).MatchString(r.out) {
		t.Errorf("status after a failed fetch:\n%s", r.out)
	}

	// --ecosystem reaches the osv jobs' parameters (a mirror holds what it holds: the run reads it).
	r = c.run(t, "feed", "refresh", "--no-merge", "--ecosystem", "PSF-CPython", "-o", "json", fast).wantOK(t)
	var eco struct{ Runs []client.ConcelierJob }
	if err := json.Unmarshal([]byte(r.out), &eco); err != nil || len(eco.Runs) != 3 || !strings.Contains(string(eco.Runs[0].Parameters), `"PSF-CPython"`) {
		t.Errorf("refresh --ecosystem: %s (%v)", r.out, err)
	}

	// A kind already queued or running: 409, exit 1 with the server's detail. The lease is
	// taken in the server's Concelier store, as `stellaops concelier run` would.
	st2, err := concelier.OpenStore(t.Context(), data, "", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if ok, err := st2.AcquireLock(t.Context(), "merge:reconcile", "test-holder", time.Minute); err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	c.run(t, "feed", "refresh", "--merge-only").wantFail(t, cli.ExitFailure, "merge:reconcile: HTTP 409: a run of merge:reconcile is already queued or running")

	// Refusals: a source the server does not know, bad flags, no scope.
	c.run(t, "feed", "refresh", "--source", "nosuch").wantFail(t, cli.ExitFailure, "source:nosuch:fetch: HTTP 404")
	c.run(t, "feed", "refresh", "--source", "OSV!").wantFail(t, cli.ExitUsage, `--source "OSV!" is not a source id`)
	c.run(t, "feed", "refresh", "--mode", "full").wantFail(t, cli.ExitUsage, `unknown --mode "full"`)
	c.run(t, "feed", "refresh", "--merge-only", "--no-merge").wantFail(t, cli.ExitUsage, "exclude each other")
	c.run(t, "feed", "refresh", "--source", "redhat", "--ecosystem", "PyPI").wantFail(t, cli.ExitUsage, "--ecosystem applies to the osv source only")
	c.run(t, "feed", "refresh", "--merge-only", "--mirror", "osv").wantFail(t, cli.ExitUsage, "apply to source jobs, not to --merge-only")
	c.run(t, "feed", "status", "--limit", "0").wantFail(t, cli.ExitUsage, "--limit must be at least 1")
	c.run(t, "feed", "refresh", "--no-merge", "--timeout", "1ns").wantFail(t, cli.ExitFailure, "source:osv:fetch: timed out: ")
	// Interrupted (Ctrl-C cancels the context): exit code 130.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out, errb bytes.Buffer
	err = stellopsctl.Run(ctx, []string{"--config-dir", t.TempDir(), "feed", "refresh", "--wait"},
		cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Environ: c.environ})
	if code := cli.Code(ctx, err, &errb, "stellopsctl"); code != cli.ExitInterrupted || errb.String() != "stellopsctl: interrupted\n" {
		t.Errorf("interrupted refresh: exit %d, stderr %q", code, errb.String())
	}

	reader := token(t, srv.URL, "feed-reader", authority.ScopeConcelierRead)
	c.run(t, "feed", "refresh", "--token", reader).wantFail(t, cli.ExitFailure, "HTTP 403")
	c.run(t, "feed", "status", "--token", reader).wantOK(t)
}

func clientOf(t *testing.T, url, tok string) *client.Client {
	t.Helper()
	c, err := client.New(url, client.WithToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
