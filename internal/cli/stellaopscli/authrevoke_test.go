package stellaopscli_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

func TestAuthRevokeExportVerify(t *testing.T) {
	ctx := context.Background()
	e := newCLIEnv(t, servertest.Config(), server.Options{})
	for _, jti := range []string{"jti-compromised", "jti-offboarded"} {
		if _, err := e.admin().Revoke(ctx, client.RevokeRequest{JTI: jti, Reason: "test " + jti, Subject: "alice"}); err != nil {
			t.Fatal(err)
		}
	}

	// Without the bootstrap key: a usage error, nothing written.
	out := t.TempDir()
	code, _, stderr := e.run("auth", "revoke", "export", "--output", out)
	if code != 2 {
		t.Errorf("no bootstrap key: exit %d", code)
	}
	oneLine(t, "no bootstrap key", stderr, "set StellaOps:BootstrapKey (env STELLAOPS_BOOTSTRAP_KEY)")
	e.vars["STELLAOPS_BOOTSTRAP_KEY"] = "wrong-key-0123456789abcdef"
	code, _, stderr = e.run("auth", "revoke", "export", "--output", out)
	if code != 1 {
		t.Errorf("wrong bootstrap key: exit %d", code)
	}
	oneLine(t, "wrong bootstrap key", stderr, "auth revoke export: ")
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("refused exports wrote %v", entries)
	}

	e.vars["STELLAOPS_BOOTSTRAP_KEY"] = servertest.BootstrapKey
	code, stdout, stderr := e.run("auth", "revoke", "export", "--output", out)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	bundle := filepath.Join(out, "revocation-bundle.json")
	body, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(bundle + ".jws")
	digest, _ := os.ReadFile(bundle + ".sha256")
	sum := sha256.Sum256(body)
	if string(digest) != hex.EncodeToString(sum[:]) {
		t.Errorf("revocation-bundle.json.sha256 = %q, want the body's %x", digest, sum)
	}
	jwksDoc, err := e.admin().JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(jwksDoc, &jwks); err != nil {
		t.Fatal(err)
	}
	b, kid, err := authority.VerifyRevocationBundle(body, string(sig), string(digest), jwks)
	if err != nil || len(b.Revocations) != 2 || b.Issuer != e.srv.URL {
		t.Fatalf("written bundle: %+v %v", b, err)
	}
	for _, want := range []string{"2 revocation(s)", "Signing key: " + kid + " (ES256)", "SHA-256:     " + string(digest) + " (verified)", "Wrote " + bundle + ".jws"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("export output lacks %q:\n%s", want, stdout)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(out, ".*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// verify with the published keys as a JWKS file, and -v lists the revocations.
	keyFile := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(keyFile, jwksDoc, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = e.run("auth", "revoke", "verify", "--bundle", bundle, "--signature", bundle+".jws", "--key", keyFile, "-v")
	if code != 0 || !strings.Contains(stdout, "Verified: signed by "+kid) || !strings.Contains(stdout, "2 revocation(s)") ||
		!strings.Contains(stdout, "SHA-256: "+string(digest)+" (matches ") || !strings.Contains(stdout, "test jti-offboarded  ") {
		t.Errorf("verify --key jwks: exit %d\n%s%s", code, stdout, stderr)
	}
	// … and as a PEM public key, which carries no kid.
	der, err := x509.MarshalPKIXPublicKey(jwks.Key(kid)[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(t.TempDir(), "authority.pub.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := e.run("auth", "revoke", "verify", "--bundle", bundle, "--key", pemFile); code != 0 || !strings.Contains(stdout, "Verified") {
		t.Errorf("verify --key pem: exit %d\n%s%s", code, stdout, stderr)
	}

	// Offline: the server is gone; without --key the JWKS cached by the export verifies.
	e.srv.Stop(t)
	code, stdout, stderr = e.run("auth", "revoke", "verify", "--bundle", bundle)
	if code != 0 || !strings.Contains(stdout, "no --key given, using the JWKS of "+e.srv.URL+" cached in "+filepath.Join(e.tokens, "metadata")) ||
		!strings.Contains(stdout, "Verified: signed by "+kid) {
		t.Errorf("offline verify from the cached JWKS: exit %d\n%s%s", code, stdout, stderr)
	}
	// Past its lifetime (1 h) the cached JWKS serves only within the offline tolerance
	// (StellaOps:Authority:Resilience, default 10 min), and only when fallback is allowed.
	cached, _ := filepath.Glob(filepath.Join(e.tokens, "metadata", "jwks-*.json"))
	if len(cached) != 1 {
		t.Fatalf("JWKS cache %v", cached)
	}
	var entry map[string]any
	if b, err := os.ReadFile(cached[0]); err != nil || json.Unmarshal(b, &entry) != nil {
		t.Fatalf("JWKS cache entry: %v", err)
	}
	entry["fetchedAt"] = time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
	aged, _ := json.Marshal(entry)
	if err := os.WriteFile(cached[0], aged, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = e.run("auth", "revoke", "verify", "--bundle", bundle)
	if code != 1 {
		t.Errorf("cache 2 h old, 10 min tolerance: exit %d", code)
	}
	oneLine(t, "cache 2 h old, 10 min tolerance", stderr, "is neither cached nor reachable")
	e.vars["STELLAOPS_AUTHORITY_OFFLINE_CACHE_TOLERANCE"] = "03:00:00"
	code, stdout, stderr = e.run("auth", "revoke", "verify", "--bundle", bundle)
	if code != 0 || !strings.Contains(stdout, "the Authority did not answer, so an expired cache entry was used") {
		t.Errorf("cache 2 h old, 3 h tolerance: exit %d\n%s%s", code, stdout, stderr)
	}
	e.vars["STELLAOPS_AUTHORITY_ALLOW_OFFLINE_CACHE_FALLBACK"] = "false"
	if code, _, _ := e.run("auth", "revoke", "verify", "--bundle", bundle); code != 1 {
		t.Errorf("fallback disabled: exit %d", code)
	}

	// A server down cannot export.
	code, _, stderr = e.run("auth", "revoke", "export", "--output", t.TempDir())
	if code != 1 {
		t.Errorf("export with the server down: exit %d", code)
	}
	oneLine(t, "export with the server down", stderr, "cannot reach the server")

	// Tampering: a changed bundle fails its digest and its signature.
	tampered := filepath.Join(t.TempDir(), "revocation-bundle.json")
	for name, b := range map[string][]byte{"": []byte(strings.Replace(string(body), "jti-compromised", "jti-compromisee", 1)), ".jws": sig, ".sha256": digest} {
		if err := os.WriteFile(tampered+name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr = e.run("auth", "revoke", "verify", "--bundle", tampered, "--key", keyFile)
	if code != 1 || !strings.Contains(stdout, "does NOT match") {
		t.Errorf("tampered bundle: exit %d\n%s", code, stdout)
	}
	oneLine(t, "tampered bundle", stderr, "revocation bundle verification failed")
	os.Remove(tampered + ".sha256")
	code, _, stderr = e.run("auth", "revoke", "verify", "--bundle", tampered, "--key", keyFile)
	if code != 1 {
		t.Errorf("tampered bundle without its digest file: exit %d", code)
	}
	oneLine(t, "tampered bundle without its digest file", stderr, "revocation bundle verification failed: signature")

	// Usage errors, and no key at all: no cache in a fresh cache directory, no server.
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--bundle", filepath.Join(out, "missing.json")}, 2, "--bundle: open "},
		{[]string{"--bundle", bundle, "--key", filepath.Join(out, "revocation-bundle.json.sha256")}, 2, "neither JSON (JWKS, JWK) nor PEM"},
	} {
		code, _, stderr := e.run(append([]string{"auth", "revoke", "verify"}, c.args...)...)
		if code != c.code {
			t.Errorf("%v: exit %d", c.args, code)
		}
		oneLine(t, strings.Join(c.args, " "), stderr, c.msg)
	}
	e.vars["STELLAOPS_AUTHORITY__TOKENCACHEDIRECTORY"] = t.TempDir()
	code, _, stderr = e.run("auth", "revoke", "verify", "--bundle", bundle)
	if code != 1 {
		t.Errorf("no key, no cache, no server: exit %d", code)
	}
	oneLine(t, "no key, no cache, no server", stderr, "is neither cached nor reachable")
}
