package stellaopscli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

var pulledLine = regexp.MustCompile(`(?m)^(kept|fetched|resumed)\s+(\S+)\t`)

// pulled maps each file pull printed to what it did (kept, fetched, resumed).
func pulled(out string) map[string]string {
	m := map[string]string{}
	for _, s := range pulledLine.FindAllStringSubmatch(out, -1) {
		m[filepath.Base(s[2])] = s[1]
	}
	return m
}

// TestOfflineKitPullImportStatus: an operator pulls the kit of a connected site (again, after
// an interruption, and from a static mirror), carries it to an air-gapped site and imports it;
// status shows it. Tampering after the pull is caught before anything is sent.
func TestOfflineKitPullImportStatus(t *testing.T) {
	ctx := context.Background()
	aData, aDigest := servertest.EcosystemDataDir(t, "Go")
	a := newCLIEnv(t, servertest.Config(), server.Options{DataDir: aData})
	a.identity("mirror-sync", authority.ScopeConcelierRead)
	dest := filepath.Join(t.TempDir(), "kits")

	code, out, stderr := a.run("offline", "kit", "pull", "--destination", dest)
	if code != 0 || !strings.Contains(out, "snapshot "+aDigest) {
		t.Fatalf("pull: exit %d\n%s%s", code, out, stderr)
	}
	got := pulled(out)
	if len(got) != 4 {
		t.Fatalf("pull printed %v", got)
	}
	var bundleName string
	for name, what := range got {
		if what != "fetched" {
			t.Errorf("%s: %s, want fetched", name, what)
		}
		if strings.HasSuffix(name, ".tgz") {
			bundleName = name
		}
	}
	bundle := filepath.Join(dest, bundleName)
	var md struct {
		BundleID       string
		SnapshotDigest string
		Files          []client.OfflineKitFile
	}
	if b, err := os.ReadFile(bundle + ".metadata.json"); err != nil || json.Unmarshal(b, &md) != nil || md.SnapshotDigest != aDigest || len(md.Files) != 4 {
		t.Fatalf("metadata: %v %+v", err, md)
	}
	whole, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}

	// Pulled again: nothing downloaded.
	if code, out, _ := a.run("offline", "kit", "pull", "--destination", dest); code != 0 || pulled(out)[bundleName] != "kept" {
		t.Errorf("second pull: exit %d\n%s", code, out)
	}
	// Interrupted half way: the next pull resumes from the partial file, by --bundle-id.
	os.Remove(bundle)
	if err := os.WriteFile(bundle+".partial", whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = a.run("offline", "kit", "pull", "--destination", dest, "--bundle-id", md.BundleID)
	if b, _ := os.ReadFile(bundle); code != 0 || pulled(out)[bundleName] != "resumed" || string(b) != string(whole) {
		t.Fatalf("resumed pull: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(bundle + ".partial"); !os.IsNotExist(err) {
		t.Errorf("the partial file stayed: %v", err)
	}
	// A file that differs is kept unless --overwrite.
	if err := os.WriteFile(bundle, []byte("not the kit"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = a.run("offline", "kit", "pull", "--destination", dest)
	oneLine(t, "pull over a changed file", stderr, "pass --overwrite to replace it")
	if code != 1 {
		t.Errorf("pull over a changed file: exit %d", code)
	}
	if code, out, _ := a.run("offline", "kit", "pull", "--destination", dest, "--overwrite"); code != 0 || pulled(out)[bundleName] != "fetched" {
		t.Errorf("--overwrite: exit %d\n%s", code, out)
	}
	if code, _, stderr := a.run("offline", "kit", "pull", "--destination", dest, "--bundle-id", "no-such-kit"); code != 1 || !strings.Contains(stderr, "404") {
		t.Errorf("unknown bundle id: exit %d %s", code, stderr)
	}

	// A static mirror: a copy of the site's kit directory on a plain file server, no token.
	mirror := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(aData, "offline-kit"))))
	defer mirror.Close()
	viaMirror := filepath.Join(t.TempDir(), "from-mirror")
	a.vars["STELLAOPS_OFFLINE_MIRROR_URL"] = mirror.URL + "/"
	a.vars["STELLAOPS_OFFLINE_KITS_DIR"] = viaMirror
	code, out, stderr = a.run("offline", "kit", "pull")
	if b, _ := os.ReadFile(filepath.Join(viaMirror, bundleName)); code != 0 || string(b) != string(whole) || !strings.Contains(out, mirror.URL) {
		t.Fatalf("pull from the mirror: exit %d\n%s%s", code, out, stderr)
	}

	// The air-gapped site trusts the connected site's key.
	keys, err := a.admin().SignerKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pem := filepath.Join(t.TempDir(), "vendor.pem")
	if err := os.WriteFile(pem, []byte(keys.Keys[0].PublicKey), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := servertest.Config()
	cfg.OfflineKit.TrustedKeys = map[string]string{keys.Keys[0].KeyID: pem}
	b := newCLIEnv(t, cfg, server.Options{DataDir: servertest.SnapshotDataDir(t)})
	b.identity("ops", authority.ScopeConcelierTrigger, authority.ScopeConcelierRead)

	if code, out, _ := b.run("offline", "kit", "status"); code != 0 || !strings.Contains(out, "No offline kit imported.") {
		t.Errorf("status before: exit %d\n%s", code, out)
	}
	code, out, stderr = b.run("offline", "kit", "import", bundle)
	if code != 0 || !strings.HasPrefix(out, "Imported "+md.BundleID) || !strings.Contains(out, aDigest) || !strings.Contains(out, keys.Keys[0].KeyID) {
		t.Fatalf("import: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = b.run("offline", "kit", "status")
	if code != 0 {
		t.Errorf("status: exit %d", code)
	}
	for _, want := range []string{"Bundle:", md.BundleID, "Kind:", "full", "Captured:", "2026-11-21T04:00:00Z", "Imported:", "Snapshot:", aDigest,
		"Component:", "advisories " + aDigest} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	var st client.OfflineKitStatus
	if code, out, _ := b.run("offline", "kit", "status", "--json"); code != 0 || json.Unmarshal([]byte(out), &st) != nil ||
		st.Current == nil || st.Current.SnapshotDigest != aDigest {
		t.Errorf("status --json: exit %d\n%s", code, out)
	}
	if code, out, _ := b.run("offline", "kit", "import", bundle); code != 0 || !strings.HasPrefix(out, "Already imported") {
		t.Errorf("import again: exit %d\n%s", code, out)
	}

	// Changed after the pull: the metadata catches it and nothing is sent.
	sig := bundle + ".sig"
	orig, _ := os.ReadFile(sig)
	if err := os.WriteFile(sig, append(orig, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = b.run("offline", "kit", "import", bundle)
	oneLine(t, "import of a changed signature", stderr, "the file changed since it was pulled")
	if code != 1 {
		t.Errorf("changed signature: exit %d", code)
	}
	// Without metadata the backend itself refuses a kit signed by nobody it trusts.
	os.WriteFile(sig, orig, 0o644)
	os.Remove(bundle + ".metadata.json")
	c := newCLIEnv(t, servertest.Config(), server.Options{DataDir: servertest.SnapshotDataDir(t)})
	c.identity("ops", authority.ScopeConcelierTrigger, authority.ScopeConcelierRead)
	code, _, stderr = c.run("offline", "kit", "import", bundle)
	oneLine(t, "import into a site that does not trust the key", stderr, "does not verify under a trusted key")
	if code != 1 {
		t.Errorf("untrusted: exit %d", code)
	}
	if code, _, stderr := c.run("offline", "kit", "import", filepath.Join(dest, "missing.tgz")); code != 2 {
		t.Errorf("missing bundle: exit %d %s", code, stderr)
	}
}
