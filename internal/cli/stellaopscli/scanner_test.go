package stellaopscli_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stellaopscli"
)

// artifactServer serves a scanner bundle the way the backend does, signed with key; the
// first failures requests answer 503, and tamper corrupts the body.
type artifactServer struct {
	body     []byte
	key      *rsa.PrivateKey
	failures int32
	tamper   bool
	noDigest bool
	hits     atomic.Int32
	auth     atomic.Value
}

func (a *artifactServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.hits.Add(1)
	a.auth.Store(r.Header.Get("Authorization"))
	if r.URL.Path != "/api/scanner/artifacts/stable" {
		http.NotFound(w, r)
		return
	}
	if n <= a.failures {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	sum := sha256.Sum256(a.body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, a.key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	if !a.noDigest {
		w.Header().Set("X-StellaOps-Digest", fmt.Sprintf("sha256:%x", sum))
	}
	w.Header().Set("X-StellaOps-Signature", base64.StdEncoding.EncodeToString(sig))
	w.Header().Set("Content-Disposition", `attachment; filename="stellaops-scanner-1.2.3.tar.gz"`)
	body := a.body
	if a.tamper {
		body = append(bytes.Clone(body[:len(body)-1]), body[len(body)-1]^1)
	}
	w.Write(body)
}

// runScanner runs stellaops-cli with environ only (no appsettings files).
func runScanner(t *testing.T, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx := context.Background()
	err := stellaopscli.Run(ctx, append([]string{"--data", t.TempDir(), "--config-dir", t.TempDir()}, args...),
		cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Environ: environ}, func(string) string { return "" })
	return cli.Code(ctx, err, &errb, "stellaops-cli"), out.String(), errb.String()
}

// TestScannerDownload: a signed bundle is downloaded after a transient failure, verified by
// digest and signature, written with its metadata, and installed with docker load (a fake
// docker on PATH records the call); tampering, a missing digest, a wrong key and an existing
// file without --overwrite fail without leaving a file behind.
func TestScannerDownload(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pubPath := filepath.Join(dir, "scanner.pub.pem")
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err := os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	// A fake docker that records its arguments.
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	record := filepath.Join(dir, "docker.args")
	script := "#!/bin/sh\necho \"$@\" > " + record + "\necho 'Loaded image: stellaops/scanner:1.2.3'\n"
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	art := &artifactServer{body: bytes.Repeat([]byte("scanner bundle "), 4096), key: key, failures: 2}
	srv := httptest.NewServer(art)
	defer srv.Close()
	cache := filepath.Join(dir, "scanners")
	env := []string{"STELLAOPS_BACKEND_URL=" + srv.URL, "API_KEY=secret-token", "STELLAOPS_SCANNERCACHEDIRECTORY=" + cache,
		"STELLAOPS_SCANNERSIGNATUREPUBLICKEYPATH=" + pubPath}
	code, out, stderr := runScanner(t, env, "scanner", "download", "--retry-backoff", "10ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	artifact := filepath.Join(cache, "stellaops-scanner-1.2.3.tar.gz")
	if got, err := os.ReadFile(artifact); err != nil || !bytes.Equal(got, art.body) {
		t.Fatalf("artifact: %v", err)
	}
	if art.hits.Load() != 3 || art.auth.Load() != "Bearer secret-token" || !strings.Contains(stderr, "retrying") {
		t.Errorf("hits %d, auth %v, stderr %q", art.hits.Load(), art.auth.Load(), stderr)
	}
	var md map[string]any
	b, err := os.ReadFile(artifact + ".metadata.json")
	if err != nil || json.Unmarshal(b, &md) != nil {
		t.Fatalf("metadata: %v", err)
	}
	sum := sha256.Sum256(art.body)
	if md["digest"] != fmt.Sprintf("sha256:%x", sum) || md["signatureVerified"] != true || md["installed"] != true ||
		md["sourceUrl"] != srv.URL+"/api/scanner/artifacts/stable" || md["attempts"] != float64(3) {
		t.Errorf("metadata %v", md)
	}
	if a, _ := os.ReadFile(record); strings.TrimSpace(string(a)) != "load -i "+artifact {
		t.Errorf("docker called with %q", a)
	}
	if !strings.Contains(out, "signature verified") {
		t.Errorf("stdout %q", out)
	}

	// Again without --overwrite: refused, the file kept.
	art.hits.Store(0)
	art.failures = 0
	if code, _, stderr := runScanner(t, env, "scanner", "download", "--no-install"); code != 1 || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("existing file: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runScanner(t, env, "scanner", "download", "--no-install", "--overwrite"); code != 0 {
		t.Errorf("--overwrite: exit %d, %q", code, stderr)
	}

	failures := []struct {
		name string
		edit func()
		env  []string
		want string
	}{
		{"tampered", func() { art.tamper = true }, env, "digest mismatch"},
		{"no digest", func() { art.noDigest = true }, env, "no X-StellaOps-Digest"},
		{"wrong key", func() {}, append(env[:3:3], "STELLAOPS_SCANNERSIGNATUREPUBLICKEYPATH="+otherKey(t, dir)), "does not verify"},
	}
	for _, fc := range failures {
		art.tamper, art.noDigest = false, false
		fc.edit()
		out := filepath.Join(dir, fc.name+".tar.gz")
		code, _, stderr := runScanner(t, fc.env, "scanner", "download", "--no-install", "--output", out, "--retry-backoff", "1ms")
		if code != 1 || !strings.Contains(stderr, fc.want) {
			t.Errorf("%s: exit %d, %q", fc.name, code, stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: %s was written", fc.name, out)
		}
	}
	if code, _, stderr := runScanner(t, env, "scanner", "download", "--channel", "edge"); code != 2 || !strings.Contains(stderr, "--channel") {
		t.Errorf("bad channel: exit %d, %q", code, stderr)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".scanner-download-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func otherKey(t *testing.T, dir string) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	p := filepath.Join(dir, "other.pub.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
