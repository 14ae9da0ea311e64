package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/config"
	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/testenv"
	"github.com/stellaops/stellaops/pkg/client"
)

// policyTestdata reads a file of internal/policy/testdata: the spec's §2.3 examples
// (spec/, see its PROVENANCE.md) and real policies.
func policyTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "policy", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// policySpecClock is the instant of the spec's diagnostics example (generatedAt), so its response
// can be replayed byte for byte.
var policySpecClock = time.Date(2025, 10, 19, 3, 25, 14, 112000000, time.UTC)

// policyClients creates three clients through the bootstrap admin API and returns validating
// clients holding their tokens: an author (policy.read + policy.write), a reader (policy.read)
// and one without policy scopes.
type policyClients struct {
	author, reader, other      *client.Client
	authorToken, authorSubject string
	admin                      *client.Client
}

// newPolicyClients makes the clients on url; the reader and the other client talk to
// readerURL when given (another replica).
func newPolicyClients(t *testing.T, url string, readerURL ...string) policyClients {
	t.Helper()
	rurl := url
	if len(readerURL) > 0 {
		rurl = readerURL[0]
	}
	ctx := t.Context()
	admin := validated(t, url, client.WithBootstrapKey(bootstrap))
	anon := validated(t, url)
	tok := func(id string, scopes ...string) string {
		c, err := admin.CreateClient(ctx, client.NewClient{ClientID: id, Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		tk, err := anon.Token(ctx, client.TokenRequest{ClientID: id, ClientSecret: c.Secret})
		if err != nil {
			t.Fatal(err)
		}
		return tk.AccessToken
	}
	authorTok := tok("policy-author", authority.ScopePolicyRead, authority.ScopePolicyWrite)
	return policyClients{
		author:        validated(t, url, client.WithToken(authorTok)),
		reader:        validated(t, rurl, client.WithToken(tok("policy-reader", authority.ScopePolicyRead))),
		other:         validated(t, rurl, client.WithToken(tok("ci", authority.ScopeAPI))),
		authorToken:   authorTok,
		authorSubject: claimsOf(t, authorTok)["sub"].(string),
		admin:         admin,
	}
}

// policySpecScoring is the base scoring behind the spec's preview example: score 5.0 from a
// severityWeight of 5.0 and no trust or reachability input (see internal/policy's
// TestSpecPreviewExample). NVD has no trust weight and there is no "unknown" reachability
// weight, so both count as 1 and are not listed.
func policySpecScoring() server.PolicyScoring {
	return server.PolicyScoring{
		SeverityWeights:     map[string]float64{"Critical": 5},
		TrustWeights:        map[string]float64{"GHSA": 1},
		ReachabilityWeights: map[string]float64{"runtime": 0.45},
	}
}

// TestPolicyEndToEnd is spec §2.3 from an empty server to three revisions on each topology,
// every response validated against the OpenAPI document. In scale, the author writes to one
// API replica, the reader reads from the other, and the active policy is checked on a worker
// replica, which evaluates scans and sees the imports only through the shared store.
func TestPolicyEndToEnd(t *testing.T) {
	forTopologies(t, func(t *testing.T, topo topology) {
		cfg := baseConfig()
		cfg.Policy.Scoring = policySpecScoring()
		clk := &clock{t: policySpecClock}
		d := deploy(t, topo, cfg, server.Options{Now: clk.Now}, nil)
		policyWalkthrough(t, d, clk)
	})
}

// policyWalkthrough is the walk-through on d, whose clock is clk.
func policyWalkthrough(t *testing.T, d *deployment, clk *clock) {
	ctx := t.Context()
	r := d.workers[len(d.workers)-1]
	pc := newPolicyClients(t, d.api(0).url, d.api(1).url)
	author, reader := pc.author, pc.reader

	// Nothing imported: no built-in default anywhere.
	if _, err := reader.ExportPolicy(ctx, ""); !client.IsStatus(err, 404) {
		t.Fatalf("export before any import: %v", err)
	}
	if page, err := reader.PolicyHistory(ctx, 0, ""); err != nil || len(page.Revisions) != 0 || page.NextCursor != "" {
		t.Fatalf("empty history = %+v, %v", page, err)
	}
	if _, err := reader.PreviewPolicy(ctx, client.PolicyPreviewRequest{Findings: []client.PolicyFinding{{ID: "f"}}}); !client.IsStatus(err, 404) {
		t.Fatalf("preview of the active policy before any import: %v", err)
	}
	if _, _, err := r.srv.ActivePolicy(ctx); !errors.Is(err, server.ErrNoActivePolicy) {
		t.Fatalf("ActivePolicy before any import: %v", err)
	}

	// The spec's example import payload, verbatim: 'None' is no policy level, and the error
	// body is the spec's.
	specYAML := policyTestdata(t, "spec/import.yaml")
	var specErrs struct{ Errors []client.FieldError }
	if err := json.Unmarshal(policyTestdata(t, "spec/import-errors.json"), &specErrs); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/policy/import", "/policy/validate"} {
		_, err := author.Raw(ctx, http.MethodPost, path, nil, "application/yaml", bytes.NewReader(specYAML))
		var ce *client.Error
		if !errors.As(err, &ce) || ce.StatusCode != 400 || ce.Type != api.ProbValidation {
			t.Fatalf("%s of the spec's payload: %v", path, err)
		}
		if diff := cmp.Diff(specErrs.Errors, ce.Errors); diff != "" {
			t.Errorf("%s errors (-spec +got):\n%s", path, diff)
		}
		if !strings.Contains(ce.Detail, "(line 5)") {
			t.Errorf("%s detail %q does not name the line", path, ce.Detail)
		}
	}
	if page, _ := reader.PolicyHistory(ctx, 0, ""); len(page.Revisions) != 0 {
		t.Fatalf("a rejected import was recorded: %+v", page)
	}

	// A real policy, raw YAML with a change note: revision 1, recorded as the token subject.
	baseline := policyTestdata(t, "baseline.yaml")
	q := url.Values{"description": {"baseline for payments"}}
	resp, err := author.Raw(ctx, http.MethodPost, "/policy/import", q, "application/yaml", bytes.NewReader(baseline))
	if err != nil {
		t.Fatal(err)
	}
	var imp client.PolicyImportResult
	if err := json.Unmarshal(resp.Body, &imp); err != nil {
		t.Fatal(err)
	}
	rev1 := imp.Revision
	if resp.StatusCode != 201 || !imp.Created || rev1.RevisionID != "rev-1" || rev1.Format != "yaml" || rev1.Actor != pc.authorSubject ||
		rev1.Description != "baseline for payments" || !rev1.CreatedAt.Equal(policySpecClock) {
		t.Fatalf("import baseline: %d %+v", resp.StatusCode, imp)
	}
	if resp.Header.Get("Location") != "/policy/export?revision=rev-1" || resp.Header.Get("X-Stella-Policy-Revision") != "rev-1" ||
		resp.Header.Get("X-Stella-Policy-Digest") != rev1.Digest {
		t.Errorf("import headers %v", resp.Header)
	}
	if slices.ContainsFunc(imp.Issues, func(is client.PolicyIssue) bool { return is.Severity == "Error" }) {
		t.Errorf("an imported policy with errors: %+v", imp.Issues)
	}

	// Importing it again, even reformatted and through the JSON envelope, records nothing.
	again, err := author.ImportPolicy(ctx, client.PolicySource{Format: "yaml", Content: "# reformatted\n" + string(baseline), Description: "again"})
	if err != nil || again.Created || again.Revision != rev1 {
		t.Fatalf("re-import: %+v, %v", again, err)
	}

	// Scans and reports evaluate it: compiled once, bound to its revision.
	p1, pr1, err := r.srv.ActivePolicy(ctx)
	if err != nil || pr1.RevisionID != "rev-1" || p1.RevisionID() != "rev-1" || p1.Digest() != rev1.Digest || pr1.Content != string(baseline) {
		t.Fatalf("ActivePolicy = %v %+v, %v", p1, pr1, err)
	}
	if p, _, _ := r.srv.ActivePolicy(ctx); p != p1 {
		t.Error("ActivePolicy compiled the same revision twice")
	}
	res, err := p1.Evaluate(ctx, policy.Input{Environment: "prod", Findings: []policy.Finding{{ID: "CVE-2024-0001", Severity: "Critical", Source: "NVD"}}})
	if err != nil || res.PolicyStatus != policy.PolicyBlocked || res.Verdicts[0].RuleName != "Block Critical" {
		t.Fatalf("evaluating the active policy: %+v, %v", res, err)
	}

	// Export serves the source byte for byte.
	exp, err := reader.ExportPolicy(ctx, "")
	if err != nil || !bytes.Equal(exp.Content, baseline) || exp.Format != "yaml" || exp.RevisionID != "rev-1" || exp.Digest != rev1.Digest {
		t.Fatalf("export = %+v, %v", exp, err)
	}

	// A Rego module sent as text/plain is recognised by its package clause: revision 2.
	gate := policyTestdata(t, "rego/gate.rego")
	clk.Add(time.Minute)
	resp, err = author.Raw(ctx, http.MethodPost, "/policy/import", nil, "text/plain", bytes.NewReader(gate))
	if err != nil {
		t.Fatal(err)
	}
	imp = client.PolicyImportResult{}
	if err := json.Unmarshal(resp.Body, &imp); err != nil {
		t.Fatal(err)
	}
	rev2 := imp.Revision
	if resp.StatusCode != 201 || rev2.RevisionID != "rev-2" || rev2.Format != "rego" || rev2.Description != "" {
		t.Fatalf("import gate.rego: %d %+v", resp.StatusCode, imp)
	}
	exp, err = reader.ExportPolicy(ctx, "")
	if err != nil || !bytes.Equal(exp.Content, gate) || exp.Format != "rego" || exp.RevisionID != "rev-2" {
		t.Fatalf("export of the Rego revision = %+v, %v", exp, err)
	}
	p2, pr2, err := r.srv.ActivePolicy(ctx)
	if err != nil || p2 == p1 || pr2.RevisionID != "rev-2" || p2.Digest() != rev2.Digest {
		t.Fatalf("ActivePolicy after the second import = %+v, %v", pr2, err)
	}
	// HEAD answers with GET's headers.
	head, err := reader.Raw(ctx, http.MethodHead, "/policy/export", nil, "", nil)
	if err != nil || len(head.Body) != 0 || head.Header.Get("X-Stella-Policy-Revision") != "rev-2" || !strings.HasPrefix(head.Header.Get("Content-Type"), "text/x-rego") {
		t.Fatalf("HEAD export: %+v, %v", head, err)
	}

	// Validate: the diagnostics example's policy is valid, with its warning.
	var diagReq struct{ Policy client.PolicySource }
	if err := json.Unmarshal(policyTestdata(t, "spec/diagnostics-request.json"), &diagReq); err != nil {
		t.Fatal(err)
	}
	v, err := reader.ValidatePolicy(ctx, diagReq.Policy)
	if err != nil || !v.Valid || v.Format != "yaml" || v.Version != "1.0" || v.RuleCount != 1 || len(v.Digest) != 64 ||
		len(v.Issues) != 1 || v.Issues[0].Code != "policy.rule.quiet.missing_vex" {
		t.Fatalf("validate = %+v, %v", v, err)
	}

	// The spec's diagnostics and preview requests, verbatim, give the spec's responses: the
	// clock is the example's, and the scoring the one its numbers come from. Only the preview
	// digest, truncated in the spec, is ours.
	clk.mu.Lock()
	clk.t = policySpecClock
	clk.mu.Unlock()
	resp, err = reader.Raw(ctx, http.MethodPost, "/api/v1/policy/diagnostics", nil, "application/json",
		bytes.NewReader(policyTestdata(t, "spec/diagnostics-request.json")))
	if err != nil {
		t.Fatal(err)
	}
	assertPolicyJSON(t, "diagnostics", policyTestdata(t, "spec/diagnostics-response.json"), resp.Body, nil)
	resp, err = reader.Raw(ctx, http.MethodPost, "/api/v1/policy/preview", nil, "application/json",
		bytes.NewReader(policyTestdata(t, "spec/preview-request.json")))
	if err != nil {
		t.Fatal(err)
	}
	var prev client.PolicyPreviewResponse
	if err := json.Unmarshal(resp.Body, &prev); err != nil || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(prev.PolicyDigest) {
		t.Fatalf("preview digest %q, %v", prev.PolicyDigest, err)
	}
	assertPolicyJSON(t, "preview", policyTestdata(t, "spec/preview-response.json"), resp.Body,
		func(m map[string]any) { m["policyDigest"] = prev.PolicyDigest })

	// Preview without a policy compares against the active revision (gate.rego: a runtime
	// critical is denied).
	prev, err = reader.PreviewPolicy(ctx, client.PolicyPreviewRequest{ImageDigest: "sha256:abc123", Findings: []client.PolicyFinding{
		{ID: "finding-1", Severity: "Critical", Source: "NVD", Reachability: "runtime", Package: "pkg:deb/debian/openssl@3.0.11", Vulnerabilities: []string{"CVE-2024-0001"}},
		{ID: "finding-2", Severity: "Low"},
	}, Baseline: []client.PolicyVerdict{{FindingID: "finding-2", Status: "pass"}}})
	if err != nil || !prev.Success || prev.RevisionID != "rev-2" || prev.PolicyDigest != rev2.Digest || prev.Changed != 1 || len(prev.Diffs) != 2 ||
		prev.Diffs[0].Projected.Status != "Blocked" || prev.Diffs[1].Changed {
		t.Fatalf("preview of the active policy = %+v, %v", prev, err)
	}

	// Going back to the baseline is a new revision: the audit trail shows the rollback.
	clk.Add(time.Hour)
	back, err := author.ImportPolicy(ctx, client.PolicySource{Content: string(baseline), Description: "roll back the gate", Actor: "spoofed"})
	if err != nil || !back.Created || back.Revision.RevisionID != "rev-3" || back.Revision.Digest != rev1.Digest || back.Revision.Actor != pc.authorSubject {
		t.Fatalf("rollback import = %+v, %v", back, err)
	}
	// The rolled-back policy is rev-1's digest, bound to rev-3: reports name the new revision.
	p3, pr3, err := r.srv.ActivePolicy(ctx)
	if err != nil || p3.RevisionID() != "rev-3" || pr3.RevisionID != "rev-3" || p3.Digest() != rev1.Digest || p1.RevisionID() != "rev-1" {
		t.Fatalf("ActivePolicy after the rollback = %s %+v, %v (rev-1's policy now %s)", p3.RevisionID(), pr3, err, p1.RevisionID())
	}

	// History, newest first, in pages.
	page, err := reader.PolicyHistory(ctx, 2, "")
	if err != nil || len(page.Revisions) != 2 || page.Revisions[0].RevisionID != "rev-3" || page.Revisions[1] != rev2 || page.NextCursor != "rev-2" {
		t.Fatalf("history page 1 = %+v, %v", page, err)
	}
	page, err = reader.PolicyHistory(ctx, 2, page.NextCursor)
	if err != nil || len(page.Revisions) != 1 || page.Revisions[0] != rev1 || page.NextCursor != "" {
		t.Fatalf("history page 2 = %+v, %v", page, err)
	}
	if page, err := reader.PolicyHistory(ctx, 3, ""); err != nil || len(page.Revisions) != 3 || page.NextCursor != "" {
		t.Fatalf("history of exactly one page = %+v, %v", page, err)
	}
	old, err := reader.ExportPolicy(ctx, "rev-2")
	if err != nil || !bytes.Equal(old.Content, gate) || old.RevisionID != "rev-2" {
		t.Fatalf("export of rev-2 = %+v, %v", old, err)
	}

	// Scopes and authentication.
	if _, err := reader.ImportPolicy(ctx, client.PolicySource{Content: string(baseline)}); !client.IsStatus(err, 403) {
		t.Errorf("import with policy.read only: %v", err)
	}
	if _, err := pc.other.ExportPolicy(ctx, ""); !client.IsStatus(err, 403) {
		t.Errorf("export without policy.read: %v", err)
	}
	if _, err := validated(t, d.api(1).url).PolicySchema(ctx); !client.IsStatus(err, 401) {
		t.Errorf("schema without a token (anonymous fallback off): %v", err)
	}

	// Bad requests are precise 4xx problems, and record nothing.
	for _, tc := range []struct {
		name, method, path, ct string
		q                      url.Values
		body                   []byte
		status                 int
		detail                 string
	}{
		{"form body", "POST", "/policy/import", "application/x-www-form-urlencoded", nil, baseline, 415, "application/yaml"},
		{"NUL", "POST", "/policy/import", "application/yaml", nil, []byte("version: \"1.0\"\x00"), 400, "UTF-8"},
		{"invalid UTF-8", "POST", "/policy/validate", "text/plain", nil, []byte("version: \xff"), 400, "UTF-8"},
		{"two-line description", "POST", "/policy/import", "application/yaml", url.Values{"description": {"a\nb"}}, baseline, 400, "one line"},
		{"format contradicts type", "POST", "/policy/import", "text/x-rego", url.Values{"format": {"yaml"}}, baseline, 400, "contradicts"},
		{"unknown format", "POST", "/policy/validate", "text/plain", url.Values{"format": {"toml"}}, baseline, 400, "yaml or rego"},
		{"query with JSON", "POST", "/policy/import", "application/json", url.Values{"description": {"x"}}, []byte(`{"policy":{"content":"x"}}`), 400, "JSON body"},
		{"no policy", "POST", "/policy/import", "application/json", nil, []byte(`{}`), 400, "$.policy"},
		{"unknown field", "POST", "/policy/validate", "application/json", nil, []byte(`{"policy":{"content":"x","owner":"me"}}`), 400, "owner"},
		{"over the source limit", "POST", "/policy/validate", "application/yaml", nil, append([]byte("# "), bytes.Repeat([]byte("x"), 1<<20)...), 400, "byte limit"},
		{"over the body limit", "POST", "/policy/import", "application/yaml", nil, bytes.Repeat([]byte("#"), 2<<20+64<<10+1), 413, "exceeds"},
		{"malformed revision", "GET", "/policy/export", "", url.Values{"revision": {"rev-01"}}, nil, 400, "revision id"},
		{"unknown revision", "GET", "/policy/export", "", url.Values{"revision": {"rev-99"}}, nil, 404, "rev-99"},
		{"limit 0", "GET", "/policy/history", "", url.Values{"limit": {"0"}}, nil, 400, "limit"},
		{"limit 501", "GET", "/policy/history", "", url.Values{"limit": {"501"}}, nil, 400, "limit"},
		{"bad cursor", "GET", "/policy/history", "", url.Values{"cursor": {"abc"}}, nil, 400, "cursor"},
		{"diagnostics without policy", "POST", "/api/v1/policy/diagnostics", "application/json", nil, []byte(`{}`), 400, "$.policy"},
		{"preview too many findings", "POST", "/api/v1/policy/preview", "application/json", nil, []byte(`{"findings":[{"id":"` + strings.Repeat("x", 70<<10) + `"}]}`), 400, "too large"},
	} {
		var body io.Reader
		if tc.body != nil {
			body = bytes.NewReader(tc.body)
		}
		_, err := author.Raw(ctx, tc.method, tc.path, tc.q, tc.ct, body)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.StatusCode != tc.status || !strings.Contains(ce.Detail, tc.detail) {
			t.Errorf("%s: %v, want %d mentioning %q", tc.name, err, tc.status, tc.detail)
		}
	}
	if page, _ := reader.PolicyHistory(ctx, 0, ""); len(page.Revisions) != 3 {
		t.Errorf("bad requests changed the history: %+v", page)
	}

	// The schema, as embedded.
	schema, err := reader.PolicySchema(ctx)
	if err != nil || !bytes.Equal(schema, policy.Schema()) {
		t.Fatalf("schema: %d bytes, %v", len(schema), err)
	}

	// Imports are audited (who, when, outcome), the refused ones too.
	evs, err := pc.admin.Audit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]int{}
	for _, e := range evs {
		if e.Detail == "POST /policy/import" {
			imports[e.Outcome]++
		}
	}
	if imports["success"] != 4 || imports["failure"] < 3 {
		t.Errorf("audited imports %v, want 4 successes and the failures", imports)
	}
}

// assertPolicyJSON compares two JSON documents by value, after fix edits the expected one.
func assertPolicyJSON(t *testing.T, what string, want, got []byte, fix func(map[string]any)) {
	t.Helper()
	var w, g map[string]any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v in %s", what, err, got)
	}
	if fix != nil {
		fix(w)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("%s (-spec +got):\n%s", what, diff)
	}
}

// TestPolicyPreviewDisabled: with the feature flag off, preview is a 404 problem.
func TestPolicyPreviewDisabled(t *testing.T) {
	cfg := baseConfig()
	cfg.Scanner.Features.EnablePolicyPreview = false
	r := start(t, cfg, server.Options{DataDir: t.TempDir()})
	pc := newPolicyClients(t, r.url)
	_, err := pc.reader.Raw(t.Context(), http.MethodPost, "/api/v1/policy/preview", nil, "application/json",
		bytes.NewReader(policyTestdata(t, "spec/preview-request.json")))
	var ce *client.Error
	if !errors.As(err, &ce) || ce.StatusCode != 404 || !strings.Contains(ce.Detail, "enablePolicyPreview") {
		t.Fatalf("preview with the flag off: %v", err)
	}
	// The other policy routes do not depend on the flag.
	if _, err := pc.reader.DiagnosePolicy(t.Context(), client.PolicySource{Content: "version: \"1.0\"\nrules: []\n"}); err != nil {
		t.Fatal(err)
	}
}

// TestPolicyConfig: the policy section loads from files and the environment, bad values are
// refused with the key named, and a scoring map replaces only its own default.
func TestPolicyConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "appsettings.json"), []byte(`{"policy": {"maxPolicyBytes": 4096,
		"scoring": {"trustWeights": {"NVD": 0.5}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig()
	if _, err := config.Load(&cfg, config.Options{Dirs: []string{dir}, Environ: []string{`STELLAOPS_POLICY__MAXPREVIEWBYTES=65536`}}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Policy.MaxPolicyBytes != 4096 || cfg.Policy.MaxPreviewBytes != 65536 || cfg.Policy.Scoring.TrustWeights["NVD"] != 0.5 {
		t.Fatalf("loaded %+v", cfg.Policy)
	}
	for env, want := range map[string]string{
		`STELLAOPS_POLICY__SCORING__SEVERITYWEIGHTS={"Severe": 5}`:       `"Severe" is not a level`,
		`STELLAOPS_POLICY__SCORING__SEVERITYWEIGHTS={"critical": 101}`:   "outside 0..100",
		`STELLAOPS_POLICY__SCORING__TRUSTWEIGHTS={"NVD": 1, "nvd": 2}`:   "differ in more than case",
		`STELLAOPS_POLICY__SCORING__REACHABILITYWEIGHTS={"runtime": 11}`: "outside 0..10",
		`STELLAOPS_POLICY__MAXPOLICYBYTES=10`:                            "policy.maxPolicyBytes",
	} {
		c := baseConfig()
		if _, err := config.Load(&c, config.Options{Environ: []string{env}}); err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Validate = %v, want %q", env, err, want)
		}
	}

	// The source limit is the configured one, and NVD's trust weight is the only default
	// replaced: Critical keeps 90 and an unestablished reachability 0.30 (90 × 0.5 × 0.3).
	r := start(t, cfg, server.Options{DataDir: t.TempDir()})
	pc := newPolicyClients(t, r.url)
	_, err := pc.author.ImportPolicy(t.Context(), client.PolicySource{Content: "# " + strings.Repeat("x", 4096)})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.StatusCode != 400 || !strings.Contains(ce.Detail, "4096 byte limit") {
		t.Fatalf("import over maxPolicyBytes: %v", err)
	}
	if _, err := pc.author.ImportPolicy(t.Context(), client.PolicySource{Content: "version: \"1.0\"\nrules: []\n"}); err != nil {
		t.Fatal(err)
	}
	p, _, err := r.srv.ActivePolicy(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Evaluate(t.Context(), policy.Input{Findings: []policy.Finding{{ID: "f", Severity: "Critical", Source: "NVD"}}})
	if err != nil || res.Verdicts[0].Score != 13.5 {
		t.Fatalf("score with trustWeights {NVD: 0.5}: %+v, %v", res.Verdicts, err)
	}
}

// TestPolicyAnonymousFallback: the /api/v1/policy routes serve callers without a token when
// the server allows it (spec §2.3); the others never do.
func TestPolicyAnonymousFallback(t *testing.T) {
	cfg := baseConfig()
	cfg.Authority.AllowAnonymousFallback = true
	r := start(t, cfg, server.Options{DataDir: t.TempDir()})
	anon := validated(t, r.url)
	ctx := t.Context()
	if _, err := anon.PolicySchema(ctx); err != nil {
		t.Errorf("schema: %v", err)
	}
	if d, err := anon.DiagnosePolicy(ctx, client.PolicySource{Content: "version: \"1.0\"\nrules: []\n"}); err != nil || d.RuleCount != 0 {
		t.Errorf("diagnostics: %+v %v", d, err)
	}
	if _, err := anon.ExportPolicy(ctx, ""); !client.IsStatus(err, 401) {
		t.Errorf("export: %v", err)
	}
	if _, err := anon.ImportPolicy(ctx, client.PolicySource{Content: "version: \"1.0\"\nrules: []\n"}); !client.IsStatus(err, 401) {
		t.Errorf("import: %v", err)
	}
}

// TestPolicyReplicas runs two API replicas on one PostgreSQL schema and one Redis: an import
// on one is the active policy of the other's next evaluation, and concurrent imports on both
// number revisions densely.
func TestPolicyReplicas(t *testing.T) {
	ctx := t.Context()
	cfg := baseConfig()
	cfg.Storage = server.StorageConfig{Driver: "postgres", DSN: testenv.PostgresSchemaDSN(t, "server_policy_replicas")}
	redisAddr := testenv.RedisAddr(t)
	prefix := "test-" + testenv.RandomHex(6)
	cfg.Redis = server.RedisConfig{Addr: redisAddr, Prefix: prefix}
	testenv.DeleteRedisKeysAtCleanup(t, redisAddr, "stellaops:quota:"+prefix+":*")
	testenv.DeleteRedisKeysAtCleanup(t, redisAddr, "{stellaops:queue:scan:"+prefix+"}:*")
	cfg.Authority.Issuer = "https://stellaops.test"
	cfg.Authority.KeyDirectory = t.TempDir()
	a := start(t, cfg, server.Options{DataDir: t.TempDir()})
	// Config.Validate normalises Server.Roles in place: each replica gets its own slice, as
	// separate processes would.
	cfg.Server.Roles = slices.Clone(cfg.Server.Roles)
	b := start(t, cfg, server.Options{DataDir: t.TempDir()})
	pcA := newPolicyClients(t, a.url)
	onB := validated(t, b.url, client.WithToken(pcA.authorToken))

	// B evaluates once (compiling rev-1), then A imports: B's very next call sees rev-2.
	rev1, err := pcA.author.ImportPolicy(ctx, client.PolicySource{Content: string(policyTestdata(t, "baseline.yaml"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, r, err := b.srv.ActivePolicy(ctx); err != nil || r.RevisionID != "rev-1" || r.Digest != rev1.Revision.Digest {
		t.Fatalf("B's active policy = %+v, %v", r, err)
	}
	rev2, err := pcA.author.ImportPolicy(ctx, client.PolicySource{Format: "rego", Content: string(policyTestdata(t, "rego/gate.rego"))})
	if err != nil {
		t.Fatal(err)
	}
	p, r, err := b.srv.ActivePolicy(ctx)
	if err != nil || r.RevisionID != "rev-2" || p.Digest() != rev2.Revision.Digest || p.RevisionID() != "rev-2" {
		t.Fatalf("B after A's import = %+v, %v", r, err)
	}
	if exp, err := onB.ExportPolicy(ctx, ""); err != nil || exp.RevisionID != "rev-2" {
		t.Fatalf("export on B = %+v, %v", exp, err)
	}
	// B re-importing A's policy is idempotent across replicas.
	if again, err := onB.ImportPolicy(ctx, client.PolicySource{Format: "rego", Content: string(policyTestdata(t, "rego/gate.rego"))}); err != nil || again.Created {
		t.Fatalf("re-import on B = %+v, %v", again, err)
	}

	// Concurrent imports of distinct policies on both replicas.
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		c := pcA.author
		if i%2 == 1 {
			c = onB
		}
		wg.Go(func() {
			content := fmt.Sprintf("version: \"1.0\"\nrules:\n  - name: Block Critical %d\n    severity: [Critical]\n    action: block\n", i)
			if res, err := c.ImportPolicy(ctx, client.PolicySource{Content: content}); err != nil || !res.Created {
				errs <- fmt.Errorf("import %d: %+v, %v", i, res, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	page, err := onB.PolicyHistory(ctx, 100, "")
	if err != nil || len(page.Revisions) != n+2 {
		t.Fatalf("history = %d revisions, %v", len(page.Revisions), err)
	}
	for i, rv := range page.Revisions {
		if want := fmt.Sprintf("rev-%d", n+2-i); rv.RevisionID != want {
			t.Errorf("history[%d] = %s, want %s", i, rv.RevisionID, want)
		}
	}
	_, ra, errA := a.srv.ActivePolicy(ctx)
	_, rb, errB := b.srv.ActivePolicy(ctx)
	if errA != nil || errB != nil || ra.RevisionID != page.Revisions[0].RevisionID || rb.RevisionID != ra.RevisionID {
		t.Errorf("active after concurrent imports: A %s (%v), B %s (%v), newest %s", ra.RevisionID, errA, rb.RevisionID, errB, page.Revisions[0].RevisionID)
	}
}

// TestPolicyOpenAPIRoutes holds the policy routes of a real server and the document's policy
// operations to each other: every route is documented with its scope and anonymous flag, and
// every documented policy operation is a route.
func TestPolicyOpenAPIRoutes(t *testing.T) {
	r := start(t, baseConfig(), server.Options{DataDir: t.TempDir()})
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIYAML())
	if err != nil {
		t.Fatal(err)
	}
	isPolicy := func(p string) bool {
		return strings.HasPrefix(p, "/policy/") || strings.HasPrefix(p, "/api/v1/policy/")
	}
	routes := map[string]bool{}
	for _, rt := range r.srv.API.Routes() {
		if !isPolicy(rt.Path) {
			continue
		}
		routes[rt.Method+" "+rt.Path] = true
		item := doc.Paths.Value(rt.Path)
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("route %s is not documented", rt.Pattern())
			continue
		}
		op := item.GetOperation(rt.Method)
		scope, _ := op.Extensions["x-stellaops-scope"].(string)
		anonymous, _ := op.Extensions["x-stellaops-anonymous"].(bool)
		if scope != rt.Scope || anonymous != rt.Anonymous || !strings.Contains(op.Description, "scope `"+rt.Scope+"`") {
			t.Errorf("%s: documented scope %q anonymous %v, route %q %v", rt.Pattern(), scope, anonymous, rt.Scope, rt.Anonymous)
		}
		for _, code := range []string{"401", "403", "413", "429", "500", "503"} {
			if op.Responses.Value(code) == nil {
				t.Errorf("%s: %s is not documented", rt.Pattern(), code)
			}
		}
	}
	if len(routes) != 7 {
		t.Errorf("%d policy routes, want 7: %v", len(routes), routes)
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if isPolicy(path) && !routes[method+" "+path] {
				t.Errorf("the document has %s %s, which the server does not register", method, path)
			}
		}
	}
}

// FuzzPolicyValidate drives the import body parser (content type, format detection, the JSON
// envelope, text checks) and the engine through the real handler: whatever the body, the
// answer is 200 or a 4xx problem, never a 5xx; a valid source imports and exports unchanged.
func FuzzPolicyValidate(f *testing.F) {
	for _, s := range []struct{ ct, q, body string }{
		{"application/yaml", "", "version: \"1.0\"\nrules:\n  - name: b\n    severity: [Critical]\n    action: block\n"},
		{"text/plain", "", "# gate\npackage stella.policy\n\ndeny contains msg if { input.finding.severity == \"Critical\"; msg := \"c\" }\n"},
		{"text/plain", "format=rego", "package stella.policy\n"},
		{"", "", "package: x\n"},
		{"application/json", "", `{"policy":{"format":"rego","content":"package stella.policy\n"}}`},
		{"application/json", "", `{"policy":{"content":"version: \"1.0\"\nrules: []\n","description":"x"}}`},
		{"text/x-rego", "description=a%0Ab", "package stella.policy"},
		{"text/yaml; charset=utf-8", "", "\uFEFFversion: \"1.0\"\nrules: []\n"},
		{"application/yaml", "", "version: \"1.0\"\nrules:\n  - name: Ignore Low dev\n    severity: [Low, None]\n    action: ignore\n"},
		{"multipart/form-data", "", "x"},
		{"application/yaml;;", "", ""},
	} {
		f.Add(s.ct, s.q, []byte(s.body))
	}
	ctx := context.Background()
	cfg := baseConfig()
	cfg.Quota.RatePerSecond = -1 // every input must reach the handler, not the rate limiter
	srv, err := server.New(ctx, cfg, server.Options{DataDir: f.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	h := srv.API.Handler()
	call := func(t testing.TB, method, target, ct, auth string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set(api.HeaderBootstrapKey, bootstrap)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := call(f, "POST", "/internal/clients", "application/json", "", []byte(`{"clientId":"fuzz","scopes":["policy.read","policy.write"]}`))
	var created struct{ Secret string }
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.Secret == "" {
		f.Fatalf("create client: %d %s", rec.Code, rec.Body)
	}
	tr := httptest.NewRequestWithContext(ctx, "POST", "/connect/token", strings.NewReader("grant_type=client_credentials"))
	tr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tr.SetBasicAuth("fuzz", created.Secret)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, tr)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		f.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	auth := "Bearer " + tok.AccessToken

	f.Fuzz(func(t *testing.T, ct, query string, body []byte) {
		if strings.ContainsAny(ct, "\r\n") {
			return // not a header value
		}
		target := "/policy/validate"
		if query != "" {
			target += "?" + url.PathEscape(query)
		}
		rec := call(t, "POST", target, ct, auth, body)
		switch {
		case rec.Code == 200:
		case rec.Code >= 400 && rec.Code < 500:
			if rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d without a problem: %s", rec.Code, rec.Body)
			}
			return
		default:
			t.Fatalf("validate answered %d: %s", rec.Code, rec.Body)
		}
		// Valid: the same request imports, and a created revision exports the bytes sent.
		rec = call(t, "POST", strings.Replace(target, "/validate", "/import", 1), ct, auth, body)
		if rec.Code != 200 && rec.Code != 201 {
			t.Fatalf("validate said 200, import %d: %s", rec.Code, rec.Body)
		}
		var res struct {
			Created  bool
			Revision struct{ RevisionID string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		rec = call(t, "GET", "/policy/export?revision="+res.Revision.RevisionID, "", auth, nil)
		if rec.Code != 200 {
			t.Fatalf("export %s: %d %s", res.Revision.RevisionID, rec.Code, rec.Body)
		}
		mt, _, _ := mime.ParseMediaType(ct)
		if res.Created && mt != "application/json" && !strings.HasSuffix(mt, "+json") && !bytes.Equal(rec.Body.Bytes(), body) {
			t.Fatalf("%s exports %q, imported as %q", res.Revision.RevisionID, rec.Body.Bytes(), body)
		}
	})
}
