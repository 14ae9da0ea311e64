package stellaops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stellaops"
	"github.com/stellaops/stellaops/internal/cli/stellaopscli"
	"github.com/stellaops/stellaops/internal/concelier"
)

func run(t *testing.T, data string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx := context.Background()
	err := stellaops.Run(ctx, append(args, "--data", data), cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb},
		func(string) string { return "" })
	return cli.Code(ctx, err, &errb, "stellaops"), out.String(), errb.String()
}

// mirror copies two real bundled OSV archives into an osv-scanner-style offline mirror.
func mirror(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, eco := range []string{"crates.io", "PSF-CPython"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "bundled", "osv", eco, "all.zip"))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, eco), 0o755)
		os.WriteFile(filepath.Join(dir, eco, "all.zip"), b, 0o644)
	}
	return dir
}

// The whole Concelier chain from the command line, then a scan that uses what it published.
func TestConcelierChainThenScan(t *testing.T) {
	data, m := t.TempDir(), mirror(t)
	for _, job := range []string{"source:osv:fetch", "source:osv:parse", "source:osv:map", "merge:reconcile"} {
		code, out, errOut := run(t, data, "concelier", "run", job, "--mirror", m)
		if code != 0 || !strings.HasPrefix(out, job+" succeeded") {
			t.Fatalf("%s: exit %d\n%s%s", job, code, out, errOut)
		}
	}
	// merge:reconcile published a snapshot; its digest is in the job's counts.
	_, out, _ := run(t, data, "concelier", "run", "merge:reconcile", "--mirror", m)
	var counts struct {
		Snapshot   string
		Advisories int
	}
	if err := json.Unmarshal([]byte(out[strings.IndexByte(out, '\n')+1:]), &counts); err != nil || counts.Advisories < 1300 {
		t.Fatalf("merge counts %q: %v", out, err)
	}

	// hyper 0.9.3 has RUSTSEC-2016-0002 (crates.io data, fixed in 0.9.4).
	sbomPath := filepath.Join(t.TempDir(), "app.cdx.json")
	os.WriteFile(sbomPath, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
		{"type":"library","name":"hyper","version":"0.9.3","purl":"pkg:cargo/hyper@0.9.3"}]}`), 0o644)
	var sout, serr bytes.Buffer
	err := stellaopscli.Run(context.Background(), []string{"--data", data, "scan", "run", "--target", sbomPath, "-f", "json",
		"--results-dir", filepath.Join(t.TempDir(), "results")}, cli.IO{In: strings.NewReader(""), Out: &sout, Err: &serr}, func(string) string { return "" })
	if err != nil {
		t.Fatalf("scan: %v\n%s", err, serr.String())
	}
	var res struct {
		Snapshot struct{ Digest string }
		Findings []struct {
			ID      string
			Aliases []string
		}
	}
	if err := json.Unmarshal(sout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Snapshot.Digest != counts.Snapshot {
		t.Errorf("the scan used snapshot %s, merge published %s", res.Snapshot.Digest, counts.Snapshot)
	}
	found := false
	for _, f := range res.Findings {
		if f.ID == "RUSTSEC-2016-0002" || strings.Contains(strings.Join(f.Aliases, " "), "RUSTSEC-2016-0002") {
			found = true
		}
	}
	if !found {
		t.Errorf("hyper 0.9.3: findings %+v", res.Findings)
	}

	// Exports: a full JSON tree, then a delta with nothing changed; the Trivy DB.
	code, out, errOut := run(t, data, "concelier", "run", "export:json")
	if code != 0 || !strings.Contains(out, `"mode": "full"`) {
		t.Fatalf("export:json: %d %s %s", code, out, errOut)
	}
	code, out, _ = run(t, data, "concelier", "run", "export:json", "--delta")
	if code != 0 || !strings.Contains(out, `"mode": "delta"`) || !strings.Contains(out, `"changedFiles": []`) {
		t.Errorf("export:json --delta: %d %s", code, out)
	}
	// Trivy DB: a full run bundled and pushed to a registry, then a delta, which by the spec's
	// defaults is neither pushed nor bundled unless asked.
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	ref := strings.TrimPrefix(reg.URL, "http://") + "/mirror/trivy-db:2"
	trivyDir := filepath.Join(t.TempDir(), "trivy")
	code, out, errOut = run(t, data, "concelier", "run", "export:trivy-db", "--output", trivyDir, "--bundle", "--oras-ref", ref, "--oras-plain-http")
	if code != 0 {
		t.Fatalf("export:trivy-db: %d %s %s", code, out, errOut)
	}
	for _, f := range []string{"trivy.db", "metadata.json", "db.tar.gz", "oci/index.json", "oci/metadata.json", "offline-bundle.tar.gz", "offline-bundle.tar.gz.sha256"} {
		if _, err := os.Stat(filepath.Join(trivyDir, f)); err != nil {
			t.Errorf("trivy-db export: %v", err)
		}
	}
	full := trivyCounts(t, out)
	if full.Published == nil || full.Published.Digest != full.Result.ManifestDigest || full.Bundle == nil || full.Result.Metadata.Mode != "full" {
		t.Errorf("full run: %+v", full)
	}
	code, out, _ = run(t, data, "concelier", "run", "export:trivy-db", "--delta", "--bundle", "--oras-ref", ref, "--oras-plain-http")
	delta := trivyCounts(t, out)
	if code != 0 || delta.Result.Metadata.Mode != "delta" || delta.Published != nil || delta.Bundle != nil ||
		delta.Result.Metadata.BaseManifestDigest != full.Result.ManifestDigest {
		t.Errorf("delta run (exit %d): %+v", code, delta)
	}
	code, out, _ = run(t, data, "concelier", "run", "export:trivy-db", "--delta", "--oras-ref", ref, "--oras-plain-http", "--publish-delta")
	if delta = trivyCounts(t, out); code != 0 || delta.Published == nil || delta.Published.Digest != delta.Result.ManifestDigest {
		t.Errorf("delta run with --publish-delta (exit %d): %+v", code, delta)
	}
}

func trivyCounts(t *testing.T, out string) concelier.TrivyDBCounts {
	t.Helper()
	var c concelier.TrivyDBCounts
	if err := json.Unmarshal([]byte(out[strings.IndexByte(out, '\n')+1:]), &c); err != nil {
		t.Fatalf("export:trivy-db output %q: %v", out, err)
	}
	return c
}

func TestUsageErrors(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{
		{"concelier", "run"},
		{"concelier", "run", "source:ghsa:fetch", "--mirror", data},
		{"concelier", "run", "source:osv:fetch"},
		{"concelier", "run", "source:osv:fetch", "--mirror", data, "--mode", "sideways"},
		{"concelier", "run", "export:trivy-db", "--oras-ref", "not a reference"},
		{"concelier", "run", "export:trivy-db", "--oras-ref", "registry.example/trivy-db"}, // no tag
		{"concelier", "run", "launch:rockets"},
	} {
		if code, _, errOut := run(t, data, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	// A job that runs and fails exits 1: exporting before anything was merged.
	if code, out, _ := run(t, data, "concelier", "run", "export:json"); code != 1 || !strings.Contains(out, "export:json failed") {
		t.Errorf("export of an empty set: exit %d, %q", code, out)
	}
}

// Alpine end to end: the real secdb for v3.10 ingested from a mirror, merged, and the real
// alpine 3.10.4 image scanned against it: findings come from alpine:3.10 data only, by origin.
func TestAlpineSecdbThenImageScan(t *testing.T) {
	data, m := t.TempDir(), t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "..", "concelier", "connector", "alpine", "testdata", "alpine-secdb", "v3.10-main.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(m, "v3.10-main.yaml"), b, 0o644)
	for _, job := range []string{"source:alpine:fetch", "source:alpine:parse", "source:alpine:map", "merge:reconcile"} {
		if code, out, errOut := run(t, data, "concelier", "run", job, "--mirror", m); code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", job, code, out, errOut)
		}
	}
	type result struct {
		Findings []struct {
			ID             string
			Distro         string
			MatchedPackage string
			FixedVersion   string
			MatchMethod    string
			Component      struct{ Name, Version string }
		}
		Notes []string
	}
	scan := func(target string) result {
		t.Helper()
		var sout, serr bytes.Buffer
		err := stellaopscli.Run(context.Background(), []string{"--data", data, "scan", "run", "--target", target, "-f", "json",
			"--results-dir", filepath.Join(t.TempDir(), "results")}, cli.IO{In: strings.NewReader(""), Out: &sout, Err: &serr}, func(string) string { return "" })
		if err != nil {
			t.Fatalf("scan: %v\n%s", err, serr.String())
		}
		var res result
		if err := json.Unmarshal(sout.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	// The image is as new as this secdb: every package is checked (no "not checked" note) and
	// carries every fix the secdb lists (openssl 1.1.1d-r2 ≥ 1.1.1d-r0).
	res := scan(filepath.Join("..", "..", "..", "testdata", "images", "alpine-3.10.4.docker-save.tar.gz"))
	if len(res.Findings) != 0 || len(res.Notes) != 0 {
		t.Errorf("alpine 3.10.4: findings %+v notes %v", res.Findings, res.Notes)
	}
	// The same release with an older libssl, built from openssl 1.1.1c-r0: the three CVEs fixed
	// in 1.1.1d-r0, matched through the origin.
	sbomPath := filepath.Join(t.TempDir(), "old.cdx.json")
	os.WriteFile(sbomPath, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
		"metadata":{"component":{"bom-ref":"os","type":"operating-system","name":"alpine","version":"3.10.2"}},
		"components":[{"type":"library","name":"libssl1.1","version":"1.1.1c-r0",
		"purl":"pkg:apk/alpine/libssl1.1@1.1.1c-r0?arch=x86_64&distro=alpine-3.10.2&upstream=openssl"}]}`), 0o644)
	res = scan(sbomPath)
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.ID+" "+f.MatchedPackage+" "+f.FixedVersion+" "+f.MatchMethod+" "+f.Distro)
	}
	want := []string{
		"CVE-2019-1547 openssl 1.1.1d-r0 source-indirect alpine:3.10",
		"CVE-2019-1549 openssl 1.1.1d-r0 source-indirect alpine:3.10",
		"CVE-2019-1563 openssl 1.1.1d-r0 source-indirect alpine:3.10",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
