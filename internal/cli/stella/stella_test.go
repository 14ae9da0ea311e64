package stella_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stella"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

const testdata = "../../../testdata"

// run executes stella in process against a configuration-less environment (plus environ)
// and returns its exit code, stdout and stderr.
func run(t testing.TB, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx := context.Background()
	err := stella.Run(ctx, append([]string{"--config-dir", t.TempDir()}, args...),
		cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Environ: environ})
	return cli.Code(ctx, err, &errb, "stella"), out.String(), errb.String()
}

// serverWithToken starts a server with the bundled advisories and returns its URL and a token
// with the scan scopes.
func serverWithToken(t testing.TB, cfg server.Config) (*servertest.Running, string) {
	t.Helper()
	r := servertest.Start(t, cfg, server.Options{DataDir: servertest.SnapshotDataDir(t)})
	ctx := context.Background()
	admin, err := client.New(r.URL, client.WithBootstrapKey(servertest.BootstrapKey))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := admin.CreateClient(ctx, client.NewClient{ClientID: "ci", Scopes: []string{"stella.api", "scanner.scans.enqueue", "scanner.scans.read"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.Token(ctx, client.TokenRequest{ClientID: "ci", ClientSecret: ci.Secret})
	if err != nil {
		t.Fatal(err)
	}
	return r, tok.AccessToken
}

// images writes two docker-save archives: alpine 3.10 (the base) and app, the base plus a
// layer installing Django 2.2 (PyPI advisories are in the bundled data).
func images(t testing.TB) (base, app string) {
	t.Helper()
	dir := t.TempDir()
	gz, err := os.Open(filepath.Join(testdata, "images", "alpine-3.10.4.docker-save.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	base = filepath.Join(dir, "base.tar")
	f, err := os.Create(base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, zr); err != nil {
		t.Fatal(err)
	}
	f.Close()
	img, err := tarball.ImageFromPath(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	meta := "Metadata-Version: 2.1\nName: Django\nVersion: 2.2\nSummary: web framework\n"
	layer := tarLayer(t, "usr/lib/python3.8/site-packages/Django-2.2.dist-info/METADATA", meta)
	appImg, err := mutate.AppendLayers(img, layer)
	if err != nil {
		t.Fatal(err)
	}
	app = filepath.Join(dir, "app.tar")
	tag, _ := name.NewTag("app:1")
	if err := tarball.WriteToFile(app, tag, appImg); err != nil {
		t.Fatal(err)
	}
	return base, app
}

func tarLayer(t testing.TB, path, content string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var scanIDRe = regexp.MustCompile(`scan ([0-9a-f]{32})`)

// findingIDs reads --output-json's findings as "id purl".
func findingIDs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Findings []struct {
			ID        string
			Component struct{ PURL string }
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range doc.Findings {
		out = append(out, f.ID+" "+f.Component.PURL)
	}
	slices.Sort(out)
	return out
}

// TestDeltaSendsOnlyNewLayers: once the server has scanned the base image, `stella --delta`
// of an image built on it sends the new layer's inventory only (the server's events say the
// base layer came from its cache and the new one was supplied), and finds what a full upload
// of the same image finds.
func TestDeltaSendsOnlyNewLayers(t *testing.T) {
	r, tok := serverWithToken(t, servertest.Config())
	base, app := images(t)
	dir := t.TempDir()
	if code, _, stderr := run(t, nil, "--server", r.URL, "--token", tok, base); code != 0 {
		t.Fatalf("base: exit %d: %s", code, stderr)
	}
	deltaJSON, fullJSON := filepath.Join(dir, "delta.json"), filepath.Join(dir, "full.json")
	code, out, stderr := run(t, nil, "--server", r.URL, "--token", tok, "--delta", "--output-json", deltaJSON, app)
	if code != 0 || !strings.Contains(stderr, "policy pass") {
		t.Fatalf("delta: exit %d (the bundled Django advisories carry no severity: pass at critical)\n%s\n%s", code, out, stderr)
	}
	m := scanIDRe.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no scan id in %q", stderr)
	}
	c, err := client.New(r.URL, client.WithToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	if _, err := c.ScanEvents(context.Background(), m[1], client.ScanEventsOptions{Format: "jsonl"}, func(e client.ScanEvent) error {
		if strings.HasPrefix(e.Message, "layer ") {
			msgs = append(msgs, e.Message)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(msgs, []string{"layer 1/2 cached", "layer 2/2 supplied"}) {
		t.Fatalf("server-side layer events of the delta scan: %q", msgs)
	}
	if code, _, stderr := run(t, nil, "--server", r.URL, "--token", tok, "--output-json", fullJSON, app); code != 0 {
		t.Fatalf("full: exit %d: %s", code, stderr)
	}
	d, f := findingIDs(t, deltaJSON), findingIDs(t, fullJSON)
	if len(d) == 0 || !slices.Equal(d, f) {
		t.Fatalf("delta findings %d, full %d:\n%v\n%v", len(d), len(f), d, f)
	}
	if !strings.Contains(out, "CVE-2019-14235") {
		t.Errorf("table lacks the Django findings:\n%s", out)
	}
}

// TestExitCodesAndPolicyFile: SBOM scans pass or block at the threshold; a local policy file
// overrides the server's rules; bad input and an unreachable server are 2.
func TestExitCodesAndPolicyFile(t *testing.T) {
	r, tok := serverWithToken(t, servertest.Config())
	sbomPath := filepath.Join(testdata, "sbom", "postgres-stretch.cdx.xml.gz")
	env := []string{"STELLA_TOKEN=" + tok}
	// The bundled advisories of the SBOM's packages carry no severity: nothing reaches even
	// the low threshold, and the server's threshold policy passes.
	if code, _, stderr := run(t, env, "--server", r.URL, "--threshold", "low", sbomPath); code != 0 || !strings.Contains(stderr, "policy pass") {
		t.Fatalf("threshold low: exit %d: %s", code, stderr)
	}
	dir := t.TempDir()
	block, allow := filepath.Join(dir, "block.yaml"), filepath.Join(dir, "allow.yaml")
	if err := os.WriteFile(block, []byte("version: \"1.0\"\nrules:\n  - name: Block leaky vessels\n    vulnerabilities: [CVE-2024-21626]\n    action: block\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, env, "--server", r.URL, "--policy-file", block, sbomPath); code != 1 || !strings.Contains(stderr, "policy blocked ("+block) {
		t.Fatalf("with a blocking policy file: exit %d: %s", code, stderr)
	}
	if err := os.WriteFile(allow, []byte("version: \"1.0\"\nrules:\n  - name: Ignore all\n    action: ignore\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, env, "--server", r.URL, "--threshold", "low", "--policy-file", allow, "--format", "json", sbomPath)
	if code != 0 {
		t.Fatalf("with an allow-all policy file: exit %d: %s", code, stderr)
	}
	if !json.Valid([]byte(out)) {
		t.Fatalf("--format json printed %q", out[:min(len(out), 200)])
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--threshold", "severe", sbomPath}, "--threshold"},
		{[]string{"./missing.json"}, "no such file"},
		{[]string{"--policy-file", "/nonexistent.yaml", sbomPath}, "--policy-file"},
		{[]string{"--format", "xml", sbomPath}, "--format"},
		{[]string{}, "accepts 1 arg"},
	} {
		code, _, stderr := run(t, env, append([]string{"--server", r.URL}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 mentioning %q", tc.args, code, stderr, tc.want)
		}
	}
	// A bad token: a clear one-line message, exit 2.
	code, _, stderr = run(t, []string{"STELLA_TOKEN=not-a-token"}, "--server", r.URL, sbomPath)
	if code != 2 || !strings.Contains(stderr, "401") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("bad token: exit %d, %q", code, stderr)
	}
	// The server down.
	r.Stop(t)
	if code, _, stderr := run(t, env, "--server", r.URL, sbomPath); code != 2 || !strings.Contains(stderr, "connection refused") {
		t.Errorf("server down: exit %d, %q", code, stderr)
	}
}

// TestWaitQuota: a server that answers 429 with Retry-After (here a proxy in front of the
// real one refuses the first result fetch of each run, as the rate limiter would); stella
// waits once and succeeds, or with --wait-quota=false fails with 2.
func TestWaitQuota(t *testing.T) {
	r, tok := serverWithToken(t, servertest.Config())
	target, err := url.Parse(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var refused atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/result") && refused.CompareAndSwap(false, true) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"type":"https://stella-ops.org/probs/rate-limited","title":"Too many requests","status":429,"detail":"rate limit exceeded"}`))
			return
		}
		proxy.ServeHTTP(w, req)
	}))
	defer front.Close()
	sbomPath := filepath.Join(testdata, "sbom", "postgres-stretch.cdx.xml.gz")
	env := []string{"STELLA_TOKEN=" + tok}
	start := time.Now()
	code, _, stderr := run(t, env, "--server", front.URL, "--verbose", sbomPath)
	if code != 0 || !strings.Contains(stderr, "waiting once") || time.Since(start) < time.Second {
		t.Fatalf("with --wait-quota: exit %d after %v: %s", code, time.Since(start), stderr)
	}
	refused.Store(false)
	code, _, stderr = run(t, env, "--server", front.URL, "--wait-quota=false", sbomPath)
	if code != 2 || !strings.Contains(stderr, "429") {
		t.Fatalf("without --wait-quota: exit %d: %s", code, stderr)
	}
}

// runB is run for benchmarks: no environment.
func runB(b *testing.B, args ...string) (int, string, string) { return run(b, nil, args...) }

// TestDeltaFromRegistryDownloadsOnlyNewLayers: for a registry reference, `stella --delta`
// downloads only the layers the server lacks (the base layer's blob is never fetched), and
// finds what the archive's full upload finds.
func TestDeltaFromRegistryDownloadsOnlyNewLayers(t *testing.T) {
	r, tok := serverWithToken(t, servertest.Config())
	base, app := images(t)
	gets := map[string]int{}
	var mu sync.Mutex
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") {
			mu.Lock()
			gets[req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]]++
			mu.Unlock()
		}
		reg.ServeHTTP(w, req)
	}))
	defer rs.Close()
	host := strings.TrimPrefix(rs.URL, "http://")
	img, err := tarball.ImageFromPath(app, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/app:1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	baseDigest, _ := layers[0].Digest()
	appDigest, _ := layers[1].Digest()
	mu.Lock()
	clear(gets)
	mu.Unlock()

	if code, _, stderr := run(t, nil, "--server", r.URL, "--token", tok, base); code != 0 {
		t.Fatalf("base: exit %d: %s", code, stderr)
	}
	dir := t.TempDir()
	regJSON, fullJSON := filepath.Join(dir, "registry.json"), filepath.Join(dir, "full.json")
	code, _, stderr := run(t, nil, "--server", r.URL, "--token", tok, "--delta", "--insecure-registry", "--output-json", regJSON, host+"/app:1")
	if code != 0 {
		t.Fatalf("registry delta: exit %d: %s", code, stderr)
	}
	mu.Lock()
	baseGets, appGets := gets[baseDigest.String()], gets[appDigest.String()]
	mu.Unlock()
	if baseGets != 0 || appGets != 1 {
		t.Fatalf("blob GETs: base layer %d (want 0), new layer %d (want 1)", baseGets, appGets)
	}
	if code, _, stderr := run(t, nil, "--server", r.URL, "--token", tok, "--output-json", fullJSON, app); code != 0 {
		t.Fatalf("full: exit %d: %s", code, stderr)
	}
	if d, f := findingIDs(t, regJSON), findingIDs(t, fullJSON); len(d) == 0 || !slices.Equal(d, f) {
		t.Fatalf("registry delta findings %d, full %d", len(d), len(f))
	}
}
