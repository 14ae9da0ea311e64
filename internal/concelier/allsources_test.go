package concelier_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/bundled"
	"github.com/stellaops/stellaops/internal/concelier"
	"github.com/stellaops/stellaops/internal/concelier/jobs"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// mirrors lays out every source's real sample data (the five bundled OSV archives and each
// connector's upstream-format test data) as the --mirror directories the CLI takes.
func mirrors(t *testing.T) map[string]string {
	t.Helper()
	root := t.TempDir()
	write := func(rel string, b []byte) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join("connector", filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, src := range bundled.OSVSources {
		b, err := fs.ReadFile(bundled.OSV(), src.Path)
		if err != nil {
			t.Fatal(err)
		}
		write("osv/"+strings.TrimPrefix(src.Name, "osv:")+"/all.zip", b)
	}
	for _, f := range []string{"v3.10-main.yaml", "v3.10-community.yaml", "v3.11-main.yaml"} {
		write("alpine/"+f, read("alpine/testdata/alpine-secdb/"+f))
	}
	write("alpine/v3.12/main.json", read("alpine/testdata/vuln-list-update/312-main.json"))
	write("debian/data/json", read("debian/testdata/tracker.json"))
	for _, k := range []string{"CVE", "DSA"} {
		write("debian/data/"+k+"/list", read("debian/testdata/data/"+k+"/list"))
	}
	ents, err := os.ReadDir(filepath.Join("connector", "ubuntu", "testdata", "tracker", "active"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		write("ubuntu/active/"+e.Name(), read("ubuntu/testdata/tracker/active/"+e.Name()))
	}
	os.MkdirAll(filepath.Join(root, "ubuntu", "retired"), 0o755)
	write("redhat/2024/cve-2024-5535.json", read("redhat/testdata/mainline-cve-2024-5535.json"))
	write("redhat/2024/rhsa-2024_4546.json", read("redhat/testdata/rhsa-2024_4546.csaf.json"))
	write("redhat/2024/rhsa-2024_6220.json.gz", read("redhat/testdata/rhsa-2024_6220.csaf.json.gz"))
	m := map[string]string{}
	for _, s := range []string{"osv", "alpine", "debian", "ubuntu", "redhat"} {
		m[s] = filepath.Join(root, s)
	}
	m["nvd"] = filepath.Join("connector", "nvd", "testdata", "pages")
	m["kev"] = filepath.Join("connector", "kev", "testdata", "known_exploited_vulnerabilities.json")
	return m
}

// TestAllSourcesTwice ingests every source's real samples, merges and exports them, twice into
// two data directories with the same clock: the exports must be byte for byte the same.
func TestAllSourcesTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 14k records twice")
	}
	m := mirrors(t)
	clock := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	var outs [2]string
	var counts [2]concelier.ReconcileCounts
	for run := range 2 {
		ctx := context.Background()
		data := t.TempDir()
		st, err := concelier.OpenStore(ctx, data, "", store.Options{Now: func() time.Time { return clock }})
		if err != nil {
			t.Fatal(err)
		}
		svc := &concelier.Service{Store: st, DataDir: data, Now: func() time.Time { return clock }, Runner: jobs.New(st, "test")}
		for _, src := range []string{"osv", "alpine", "debian", "ubuntu", "redhat", "nvd", "kev"} {
			for _, stage := range []string{"fetch", "parse", "map"} {
				job, err := svc.Run(ctx, "source:"+src+":"+stage, concelier.Options{Mirror: m[src], Mode: "init"})
				if err != nil {
					t.Fatalf("source:%s:%s: %v (%s)", src, stage, err, job.Counts)
				}
				if run == 0 && stage == "map" {
					t.Logf("source:%s:map %s", src, job.Counts)
				}
			}
		}
		job, err := svc.Run(ctx, "merge:reconcile", concelier.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(job.Counts, &counts[run]); err != nil {
			t.Fatal(err)
		}
		outs[run] = t.TempDir()
		for _, kind := range []string{"json", "trivy-db"} {
			if _, err := svc.Run(ctx, "export:"+kind, concelier.Options{Output: filepath.Join(outs[run], kind)}); err != nil {
				t.Fatalf("export:%s: %v", kind, err)
			}
		}
		st.Close()
	}
	c := counts[0]
	t.Logf("merge: %d inputs %v -> %d advisories, %d events, %d conflicts", c.Inputs, c.PerSource, c.Advisories, c.Events, c.Conflicts)
	for _, src := range []string{"osv:Go", "osv:PyPI", "osv:crates.io", "osv:AlmaLinux", "osv:PSF-CPython", "alpine-secdb", "debian-tracker", "ubuntu-tracker", "redhat-csaf", "nvd", "kev"} {
		if c.PerSource[src] == 0 {
			t.Errorf("no merge input from %s: %v", src, c.PerSource)
		}
	}
	if counts[0].Snapshot != counts[1].Snapshot || counts[0].Advisories != counts[1].Advisories {
		t.Errorf("two merges of the same input differ: %+v / %+v", counts[0], counts[1])
	}
	first, second := files(t, outs[0]), files(t, outs[1])
	if len(first) != len(second) || len(first) < 10 {
		t.Fatalf("export file counts %d / %d", len(first), len(second))
	}
	for rel, b := range first {
		if !bytes.Equal(b, second[rel]) {
			t.Errorf("%s differs between the two runs", rel)
		}
	}
}

func files(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
