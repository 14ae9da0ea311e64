package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/api/apitest"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

// rawToken mints a client with scopes and returns its access token.
func rawToken(t *testing.T, url string, admin *client.Client, id string, scopes ...string) string {
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
	return tok.AccessToken
}

// get fetches url with a bearer token and extra headers through hc.
func get(t *testing.T, hc *http.Client, url, token string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestOfflineKitEndToEnd: a connected site publishes the kit of its snapshot; the files are
// downloaded (one resumed with Range) and imported into an air-gapped site that trusts the
// first site's key. Tampered and unsigned kits are refused with nothing changed; after the
// import the second site scans against exactly the first site's snapshot.
func TestOfflineKitEndToEnd(t *testing.T) {
	ctx := context.Background()
	v := apitest.Default(t)
	hc := &http.Client{Transport: v.Transport(t, http.DefaultTransport, apitest.Options{})}

	// Site A, connected.
	aData, aDigest := servertest.EcosystemDataDir(t, "Go")
	cfg := baseConfig()
	cfg.Quota.RatePerSecond = -1
	a := start(t, cfg, server.Options{DataDir: aData})
	adminA := through(t, v, a.url, client.WithBootstrapKey(bootstrap))
	readA := rawToken(t, a.url, adminA, "mirror-sync", authority.ScopeConcelierRead)

	resp, body := get(t, hc, a.url+"/api/offline-kit/bundles/latest.json", readA)
	var desc client.OfflineKitDescriptor
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &desc) != nil {
		t.Fatalf("latest.json: %d %s", resp.StatusCode, body)
	}
	if desc.SnapshotDigest != aDigest || desc.Kind != "full" || len(desc.Files) != 4 || desc.Advisories < 50 ||
		!strings.HasPrefix(desc.BundleID, "stella-ops-offline-kit-20261121-040000-") {
		t.Fatalf("descriptor %+v, want snapshot %s", desc, aDigest)
	}
	// Built once: asked again, the same kit; and latest.json lies beside it for mirrors.
	if _, again := get(t, hc, a.url+"/api/offline-kit/bundles/latest.json", readA); !bytes.Equal(again, body) {
		t.Errorf("latest.json changed between two requests")
	}
	if b, err := os.ReadFile(filepath.Join(aData, "offline-kit", "bundles", "latest.json")); err != nil || !strings.Contains(string(b), desc.BundleID) {
		t.Errorf("latest.json on disk: %v", err)
	}
	files := map[string][]byte{}
	base := a.url + "/api/offline-kit/bundles/" + desc.BundleID + "/"
	for _, f := range desc.Files {
		resp, b := get(t, hc, base+f.Name, readA)
		if resp.StatusCode != http.StatusOK || sha(b) != f.SHA256 || int64(len(b)) != f.Size ||
			resp.Header.Get("X-StellaOps-Digest") != "sha256:"+f.SHA256 {
			t.Fatalf("%s: %d, %d bytes, digest header %q", f.Name, resp.StatusCode, len(b), resp.Header.Get("X-StellaOps-Digest"))
		}
		files[f.Role] = b
	}
	bundle := files[client.OfflineKitBundle]
	// A resumed download: the rest of the bundle from byte 1000, if it is still the same file.
	resp, tail := get(t, hc, base+desc.File(client.OfflineKitBundle).Name, readA, "Range", "bytes=1000-", "If-Range", resp.Header.Get("ETag"))
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(tail, bundle[1000:]) {
		t.Fatalf("range: %d, %d bytes", resp.StatusCode, len(tail))
	}
	if resp, b := get(t, hc, base+desc.File(client.OfflineKitBundle).Name, readA, "Range", "bytes=1000-", "If-Range", `"sha256:other"`); resp.StatusCode != http.StatusOK || !bytes.Equal(b, bundle) {
		t.Fatalf("If-Range with a stale ETag: %d, want the whole file", resp.StatusCode)
	}
	if resp, _ := get(t, hc, base+"descriptor.json", readA); resp.StatusCode != http.StatusOK {
		t.Errorf("descriptor.json: %d", resp.StatusCode)
	}
	for _, p := range []string{base + "concelier.db", a.url + "/api/offline-kit/bundles/no-such-kit/descriptor.json", a.url + "/api/offline-kit/bundles/..%2f..%2fkeys/x"} {
		if resp, _ := get(t, hc, p, readA); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}

	// Site B, air-gapped: the bundled snapshot, and A's report signing key trusted for kits.
	keys, err := adminA.SignerKeys(ctx)
	if err != nil || len(keys.Keys) == 0 {
		t.Fatalf("signer keys: %v", err)
	}
	pem := filepath.Join(t.TempDir(), "vendor.pem")
	if err := os.WriteFile(pem, []byte(keys.Keys[0].PublicKey), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgB := baseConfig()
	cfgB.Quota.RatePerSecond = -1
	cfgB.OfflineKit.TrustedKeys = map[string]string{keys.Keys[0].KeyID: pem}
	b := start(t, cfgB, server.Options{DataDir: servertest.SnapshotDataDir(t)})
	adminB := through(t, v, b.url, client.WithBootstrapKey(bootstrap))
	ops := concelierToken(t, v, b.url, adminB, "ops", authority.ScopeConcelierTrigger, authority.ScopeConcelierRead)
	viewer := concelierToken(t, v, b.url, adminB, "viewer", authority.ScopeConcelierRead)
	scanner := concelierToken(t, v, b.url, adminB, "ci", authority.ScopeAPI, authority.ScopeScansEnqueue)
	sbomXML := scansGunzip(t, filepath.Join(scansTestdata(t), "sbom", "postgres-stretch.cdx.xml.gz"))
	scanB := func() *client.ScanCompleted {
		t.Helper()
		up, _, err := scanner.ScanUpload(ctx, bytes.NewReader(sbomXML), client.ScanUploadOptions{SBOMOnly: true})
		if err != nil || up.Completed == nil {
			t.Fatalf("scan on B: %+v %v", up, err)
		}
		return up.Completed
	}
	before := scanB()
	if before.Snapshot == aDigest {
		t.Fatal("B starts with A's snapshot; the test shows nothing")
	}

	upload := func(c *client.Client, bundle []byte, sig bool) (client.OfflineKitImport, bool, error) {
		u := client.OfflineKitUpload{Bundle: bytes.NewReader(bundle), BundleName: desc.File(client.OfflineKitBundle).Name, Manifest: files[client.OfflineKitManifest]}
		if sig {
			u.BundleSignature, u.ManifestSignature = files[client.OfflineKitBundleSignature], files[client.OfflineKitManifestSignature]
		}
		return c.ImportOfflineKit(ctx, u)
	}
	tampered := bytes.Clone(bundle)
	tampered[len(tampered)/2] ^= 0xff
	for _, c := range []struct {
		name   string
		c      *client.Client
		bundle []byte
		sig    bool
		status int
		detail string
	}{
		{"read-only token", viewer, bundle, true, http.StatusForbidden, ""},
		{"unsigned", ops, bundle, false, http.StatusUnprocessableEntity, "only signed kits"},
		{"tampered", ops, tampered, true, http.StatusUnprocessableEntity, "invalid offline kit"},
	} {
		_, _, err := upload(c.c, c.bundle, c.sig)
		if !client.IsStatus(err, c.status) || !strings.Contains(err.Error(), c.detail) {
			t.Errorf("%s: %v, want %d", c.name, err, c.status)
		}
	}
	if resp, err := ops.Raw(ctx, http.MethodPost, "/api/offline-kit/import", nil, "application/gzip", bytes.NewReader(bundle)); !client.IsStatus(err, http.StatusUnsupportedMediaType) {
		t.Errorf("a bare gzip body: %v %v", resp, err)
	}
	st, err := viewer.OfflineKitStatus(ctx)
	if err != nil || st.Current != nil || len(st.Imports) != 0 {
		t.Fatalf("status after refusals: %+v %v", st, err)
	}
	if got := scanB(); got.Snapshot != before.Snapshot {
		t.Fatalf("a refused kit moved the snapshot to %s", got.Snapshot)
	}

	rec, created, err := upload(ops, bundle, true)
	if err != nil || !created || rec.SnapshotDigest != aDigest || rec.BundleID != desc.BundleID || rec.BundleSHA256 != sha(bundle) ||
		len(rec.SignedBy) != 1 || rec.SignedBy[0] != keys.Keys[0].KeyID || rec.Components[0].Version != aDigest {
		t.Fatalf("import: %+v created=%v %v", rec, created, err)
	}
	st, err = viewer.OfflineKitStatus(ctx)
	if err != nil || st.Current == nil || st.Current.ImportID != rec.ImportID || len(st.Imports) != 1 {
		t.Fatalf("status: %+v %v", st, err)
	}
	after := scanB()
	if after.Snapshot != aDigest || after.Findings == 0 {
		t.Fatalf("scan after the import: snapshot %s, %d findings; want %s", after.Snapshot, after.Findings, aDigest)
	}
	again, created, err := upload(ops, bundle, true)
	if err != nil || created || again.ImportID != rec.ImportID || !again.ImportedAt.Equal(rec.ImportedAt) {
		t.Fatalf("import again: %+v created=%v %v", again, created, err)
	}
}
