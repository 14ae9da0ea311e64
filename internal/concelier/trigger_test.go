package concelier_test

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/concelier"
)

func TestParseKind(t *testing.T) {
	for _, name := range []string{"source:osv:fetch", "source:nvd:map", "source:kev:parse", "merge:reconcile", "export:json", "export:trivy-db"} {
		k, err := concelier.ParseKind(name)
		if err != nil || k.Name != name {
			t.Errorf("%s: %+v %v", name, k, err)
		}
	}
	if k, _ := concelier.ParseKind("source:redhat:map"); k.Source != "redhat" || k.Stage != "map" || !k.IsSource() {
		t.Errorf("parts: %+v", k)
	}
	for _, name := range []string{"", "source:ghsa:fetch", "source:osv:download", "source:osv", "source:osv:fetch:x", "merge", "export:csv",
		"launch:rockets", "Source:osv:fetch", strings.Repeat("a", 100), "source:\xff:fetch"} {
		if _, err := concelier.ParseKind(name); !errors.Is(err, concelier.ErrUnknownJob) {
			t.Errorf("%q: %v", name, err)
		}
	}
}

func yes() *bool { v := true; return &v }
func no() *bool  { v := false; return &v }

func TestTriggerQueryAndMerge(t *testing.T) {
	q, err := concelier.ParseTriggerQuery(url.Values{"trigger": {"cli"}, "mode": {"init"}, "delta": {"true"}, "ecosystem": {"Go", "PyPI"}})
	if err != nil || q.Trigger != "cli" || q.Parameters.Mode != "init" || !*q.Parameters.Delta || len(q.Parameters.Ecosystems) != 2 {
		t.Fatalf("query %+v %v", q, err)
	}
	for _, bad := range []url.Values{{"mode": {"a", "b"}}, {"delta": {"maybe"}}, {"output": {"/etc"}}, {"publishFull": {""}}} {
		var pe *concelier.ParamError
		if _, err := concelier.ParseTriggerQuery(bad); !errors.As(err, &pe) || !errors.Is(err, concelier.ErrInvalidOptions) {
			t.Errorf("%v: %v", bad, err)
		}
	}
	body := concelier.TriggerRequest{Trigger: "cli", Parameters: concelier.TriggerParameters{Delta: yes()}}
	m, err := body.Merge(q)
	if err != nil || m.Parameters.Mode != "init" || !*m.Parameters.Delta {
		t.Errorf("merge %+v %v", m, err)
	}
	body.Parameters.Delta = no()
	var pe *concelier.ParamError
	if _, err := body.Merge(q); !errors.As(err, &pe) || pe.Field != "parameters.delta" {
		t.Errorf("disagreeing delta: %v", err)
	}
}

func TestResolve(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "osv", "Go"), 0o755)
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(root, "escape"))
	p := concelier.TriggerPolicy{
		AllowedSources: []string{"osv", "alpine"},
		Sources:        map[string]concelier.SourceDefaults{"alpine": {Mirror: "/srv/alpine"}},
		MirrorRoot:     root,
		TrivyDB:        concelier.DefaultTrivyDBOptions(),
	}
	p.TrivyDB.ORAS.Enabled, p.TrivyDB.ORAS.Ref, p.TrivyDB.ORAS.Password = true, "registry.example/trivy-db:2", "s3cret"
	kind := func(s string) concelier.JobKind {
		k, err := concelier.ParseKind(s)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	o, err := p.Resolve(kind("source:osv:fetch"), concelier.TriggerRequest{Trigger: "cli", Parameters: concelier.TriggerParameters{Mode: "init", Mirror: "osv"}})
	if err != nil || o.Mode != "init" || o.Trigger != "cli" || !strings.HasSuffix(o.Mirror, string(filepath.Separator)+"osv") {
		t.Errorf("osv fetch: %+v %v", o, err)
	}
	if o, err := p.Resolve(kind("source:alpine:fetch"), concelier.TriggerRequest{}); err != nil || o.Mirror != "/srv/alpine" {
		t.Errorf("configured mirror: %+v %v", o, err)
	}
	if _, err := p.Resolve(kind("source:debian:fetch"), concelier.TriggerRequest{}); !errors.Is(err, concelier.ErrUnknownJob) {
		t.Errorf("source outside the allow list: %v", err)
	}
	o, err = p.Resolve(kind("export:trivy-db"), concelier.TriggerRequest{Parameters: concelier.TriggerParameters{Delta: yes(), PublishDelta: yes(), PublishFull: no()}})
	if err != nil || !o.Delta || !o.TrivyDB.ORAS.PublishDelta || o.TrivyDB.ORAS.PublishFull || o.TrivyDB.ORAS.Ref != "registry.example/trivy-db:2" ||
		o.TrivyDB.ORAS.Password != "s3cret" || !o.TrivyDB.OfflineBundle.IncludeFull {
		t.Errorf("trivy-db: %+v %v", o, err)
	}
	for _, tc := range []struct {
		kind  string
		req   concelier.TriggerRequest
		field string
	}{
		{"source:osv:fetch", concelier.TriggerRequest{}, "parameters.ecosystems"},
		{"source:osv:fetch", concelier.TriggerRequest{Parameters: concelier.TriggerParameters{Mode: "sideways", Mirror: "osv"}}, "parameters.mode"},
		{"source:osv:fetch", concelier.TriggerRequest{Parameters: concelier.TriggerParameters{Mirror: "../etc"}}, "parameters.mirror"},
		{"source:osv:fetch", concelier.TriggerRequest{Parameters: concelier.TriggerParameters{Mirror: "/etc"}}, "parameters.mirror"},
		{"source:osv:fetch", concelier.TriggerRequest{Parameters: concelier.TriggerParameters{Mirror: "escape"}}, "parameters.mirror"},
		{"source:osv:fetch", concelier.TriggerRequest{Parameters: concelier.TriggerParameters{Mirror: "missing"}}, "parameters.mirror"},
		{"source:osv:fetch", concelier.TriggerRequest{Parameters: concelier.TriggerParameters{Ecosystems: []string{"../../etc"}}}, "parameters.ecosystems[0]"},
		{"source:osv:fetch", concelier.TriggerRequest{Parameters: concelier.TriggerParameters{Ecosystems: []string{"Go", "Go"}}}, "parameters.ecosystems[1]"},
		{"source:alpine:fetch", concelier.TriggerRequest{Parameters: concelier.TriggerParameters{Ecosystems: []string{"Go"}}}, "parameters.ecosystems"},
		{"source:osv:map", concelier.TriggerRequest{Parameters: concelier.TriggerParameters{Delta: yes()}}, "parameters.delta"},
		{"merge:reconcile", concelier.TriggerRequest{Parameters: concelier.TriggerParameters{Mode: "init"}}, "parameters.mode"},
		{"export:json", concelier.TriggerRequest{Parameters: concelier.TriggerParameters{PublishFull: yes()}}, "parameters.publishFull"},
		{"export:trivy-db", concelier.TriggerRequest{Parameters: concelier.TriggerParameters{IncludeDelta: yes()}}, "parameters.includeDelta"},
		{"export:json", concelier.TriggerRequest{Trigger: "a b"}, "trigger"},
		{"export:json", concelier.TriggerRequest{Trigger: "-x"}, "trigger"},
	} {
		_, err := p.Resolve(kind(tc.kind), tc.req)
		var pe *concelier.ParamError
		if !errors.As(err, &pe) || pe.Field != tc.field || !errors.Is(err, concelier.ErrInvalidOptions) {
			t.Errorf("%s %+v: %v, want a %s error", tc.kind, tc.req, err, tc.field)
		}
	}
	// Without a mirror root, no request names a path.
	p.MirrorRoot = ""
	if _, err := p.Resolve(kind("source:osv:fetch"), concelier.TriggerRequest{Parameters: concelier.TriggerParameters{Mirror: "osv"}}); !errors.Is(err, concelier.ErrInvalidOptions) {
		t.Errorf("mirror without a root: %v", err)
	}
}

func FuzzParseKind(f *testing.F) {
	for _, s := range []string{"source:osv:fetch", "merge:reconcile", "export:trivy-db", "source::", ":::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := concelier.ParseKind(s)
		if err != nil {
			return
		}
		if k.Name != s || k.IsSource() != strings.HasPrefix(s, "source:") || (k.IsSource() && "source:"+k.Source+":"+k.Stage != s) {
			t.Fatalf("%q → %+v", s, k)
		}
	})
}

// FuzzTriggerQuery: any query either fails with a ParamError or resolves without panicking,
// and a resolved mirror never leaves the mirror root.
func FuzzTriggerQuery(f *testing.F) {
	f.Add("source:osv:fetch", "mode=init&mirror=osv&trigger=cli")
	f.Add("export:trivy-db", "delta=true&publishFull=false")
	f.Add("source:osv:fetch", "mirror=../x&ecosystem=Go&ecosystem=PyPI")
	f.Add("source:osv:fetch", "mirror=escape/x")
	root := f.TempDir()
	os.MkdirAll(filepath.Join(root, "osv", "Go"), 0o755)
	os.Symlink(f.TempDir(), filepath.Join(root, "escape"))
	realRoot, _ := filepath.EvalSymlinks(root)
	p := concelier.TriggerPolicy{MirrorRoot: root, TrivyDB: concelier.DefaultTrivyDBOptions()}
	p.TrivyDB.ORAS.Enabled = true
	f.Fuzz(func(t *testing.T, kindName, raw string) {
		k, err := concelier.ParseKind(kindName)
		if err != nil {
			return
		}
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, err := concelier.ParseTriggerQuery(q)
		var pe *concelier.ParamError
		if err != nil {
			if !errors.As(err, &pe) {
				t.Fatalf("query error %v is not a ParamError", err)
			}
			return
		}
		o, err := p.Resolve(k, req)
		if err != nil {
			if !errors.As(err, &pe) && !errors.Is(err, concelier.ErrUnknownJob) {
				t.Fatalf("resolve error %v", err)
			}
			return
		}
		if o.Mirror != "" && o.Mirror != realRoot && !strings.HasPrefix(o.Mirror, realRoot+string(filepath.Separator)) {
			t.Fatalf("mirror %q resolved to %q outside %q", req.Parameters.Mirror, o.Mirror, realRoot)
		}
	})
}
