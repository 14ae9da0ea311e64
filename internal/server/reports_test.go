package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/canonjson"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/signing"
	"github.com/stellaops/stellaops/internal/testenv"
	"github.com/stellaops/stellaops/internal/tlog"
	"github.com/stellaops/stellaops/pkg/client"
)

// reportsPolicy is the policy behind the spec's §2.7 example ("Block Critical", rev-1).
const reportsPolicy = "version: \"1.0\"\nrules:\n  - name: Block Critical\n    severity: [Critical]\n    action: block\n"

// reportsSpecRequest is the request behind the §2.7 response example. The spec gives no
// request body, only "mirrors policy preview inputs (image digest plus findings)"; this is the
// preview example's finding (§2.3) with the image digest and reachability the §2.7 response
// reports, so that the example's response can be replayed field by field.
const reportsSpecRequest = `{
"imageDigest": "sha256:deadbeef",
"findings": [
{ "id": "finding-1", "severity": "Critical", "source": "NVD", "reachability": "runtime" }
]
}`

// reportsSpecResponse is the §2.7 response example verbatim. reportId, the policy digest, the
// payload and the signature are content-derived or placeholders in the spec; the test puts
// ours in their place and compares everything else.
const reportsSpecResponse = `{
"report": {
"reportId": "report-3def5f362aa475ef14b6",
"imageDigest": "sha256:deadbeef",
"verdict": "blocked",
"policy": { "revisionId": "rev-1", "digest": "27d2ec2b34feedc304fc564d252ecee1c8fa14ea581a5ff5c1ea8963313d5c8d" },
"summary": { "total": 1, "blocked": 1, "warned": 0, "ignored": 0, "quieted": 0 },
"verdicts": [
{
"findingId": "finding-1",
"status": "Blocked",
"ruleName": "Block Critical",
"ruleAction": "Block",
"score": 40.5,
"configVersion": "1.0",
"inputs": {
"reachabilityWeight": 0.45,
"baseScore": 40.5,
"severityWeight": 90,
"trustWeight": 1,
"trustWeight.NVD": 1,
"reachability.runtime": 0.45
},
"quiet": false,
"sourceTrust": "NVD",
"reachability": "runtime"
}
],
"issues": []
},
"dsse": {
"payloadType": "application/vnd.stellaops.report+json",
"payload": "<base64 canonical report>",
"signatures": [
{
"keyId": "scanner-report-signing",
"algorithm": "hs256",
"signature": "<base64 signature>"
}
]
}
}`

// reportsClock is the servers' clock in these tests.
var reportsClock = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// reportsEnv is a running server with a validating client holding every scope of the area and
// policy.write, and an admin client for more.
type reportsEnv struct {
	d     *deployment
	r     *running
	c     *client.Client // validating
	plain *client.Client // same token, no validation (for requests that break the schema on purpose)
	token string
	data  string
}

func reportsToken(t *testing.T, url, id string, scopes ...string) string {
	t.Helper()
	ctx := t.Context()
	admin := newClient(t, url, client.WithBootstrapKey(bootstrap))
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

func startReports(t *testing.T, cfg server.Config, data string) *reportsEnv {
	t.Helper()
	return deployReports(t, embedded, cfg, func(testing.TB) string { return data })
}

// deployReports deploys cfg in topo on the reports clock. The validating client talks to the
// first API replica; the plain one and r, whose image evidence the tests read, are the last
// API replica, so in scale evidence recorded through one replica is read on the other.
func deployReports(t *testing.T, topo topology, cfg server.Config, dataDir func(testing.TB) string) *reportsEnv {
	t.Helper()
	clk := &clock{t: reportsClock}
	d := deploy(t, topo, cfg, server.Options{Now: clk.Now}, dataDir)
	url := d.api(0).url
	tok := reportsToken(t, url, "reports-"+testenv.RandomHex(4), authority.ScopeReports, authority.ScopeSignerSign,
		authority.ScopeAttestorWrite, authority.ScopeAPI, authority.ScopePolicyWrite, authority.ScopePolicyRead)
	return &reportsEnv{d: d, r: d.api(1), c: validated(t, url, client.WithToken(tok)),
		plain: newClient(t, d.api(1).url, client.WithToken(tok)), token: tok, data: d.dataDirs[0]}
}

func (e *reportsEnv) importPolicy(t *testing.T, content string) {
	t.Helper()
	if _, err := e.plain.ImportPolicy(t.Context(), client.PolicySource{Format: "yaml", Content: content}); err != nil {
		t.Fatalf("import policy: %v", err)
	}
}

// rawReport posts body verbatim and returns the status and the decoded JSON answer.
func (e *reportsEnv) rawReport(t *testing.T, c *client.Client, body string) (int, map[string]any, *client.Response) {
	t.Helper()
	resp, err := c.Raw(t.Context(), http.MethodPost, "/api/v1/reports", nil, "application/json", strings.NewReader(body))
	if resp == nil {
		t.Fatalf("post report: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		t.Fatalf("answer %d is not JSON: %s", resp.StatusCode, resp.Body)
	}
	return resp.StatusCode, m, resp
}

// specHS256Secret is the hs256 secret of the spec-example server (keyId scanner-report-signing).
var specHS256Secret = bytes.Repeat([]byte("stellaops-report-secret!"), 2)

// TestReportsSpecExample replays §2.7 with the spec's key setup (hs256, keyId
// scanner-report-signing) on each topology: 409 without a policy, then the example response
// field by field, its payload the canonical report, its signature verified offline with the
// shared secret; then the attestation walk-through with that key.
func TestReportsSpecExample(t *testing.T) {
	forTopologies(t, func(t *testing.T, topo topology) {
		reportsSpecExample(t, topo)
	})
}

func reportsSpecExample(t *testing.T, topo topology) {
	cfg := baseConfig()
	cfg.Signing.Key = base64.StdEncoding.EncodeToString(specHS256Secret)
	cfg.Signing.KeyID = "scanner-report-signing"
	e := deployReports(t, topo, cfg, nil)
	reportsSpecReplay(t, e)

	hmacKey, err := signing.NewHMACKey("scanner-report-signing", specHS256Secret)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := e.c.SignerKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Keys) != 1 || keys.Keys[0].KeyID != "scanner-report-signing" || keys.Keys[0].Algorithm != "hs256" || keys.Keys[0].PublicKey != "" {
		t.Errorf("published keys %+v: an hs256 key is listed without its secret", keys.Keys)
	}
	// The same request signs to the same bytes (hs256 is deterministic, the report has no clock).
	rep, err := e.c.AssembleReport(t.Context(), client.ReportRequest{ImageDigest: "sha256:deadbeef",
		Findings: []client.ReportFinding{{ID: "finding-1", Severity: "Critical", Source: "NVD", Reachability: "runtime"}}})
	if err != nil {
		t.Fatal(err)
	}
	env, err := signing.Decode(mustJSON(t, rep.DSSE))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signing.VerifyWith(t.Context(), env, hmacKey); err != nil {
		t.Fatalf("the envelope does not verify with the shared secret: %v", err)
	}
	attestWalkthrough(t, e, hmacKey)
}

// reportsSpecReplay is the §2.7 walk-through on e, whose key is the spec's hs256 key.
func reportsSpecReplay(t *testing.T, e *reportsEnv) {
	status, prob, _ := e.rawReport(t, e.c, reportsSpecRequest)
	if status != http.StatusConflict || prob["type"] != "https://stella-ops.org/probs/conflict" || !strings.Contains(prob["detail"].(string), "no active policy") {
		t.Fatalf("before any policy: %d %v", status, prob)
	}
	e.importPolicy(t, reportsPolicy)

	status, got, resp := e.rawReport(t, e.c, reportsSpecRequest)
	if status != http.StatusOK {
		t.Fatalf("report: %d %v", status, got)
	}
	var want map[string]any
	if err := json.Unmarshal([]byte(reportsSpecResponse), &want); err != nil {
		t.Fatal(err)
	}
	rep := got["report"].(map[string]any)
	dsse := got["dsse"].(map[string]any)
	sig := dsse["signatures"].([]any)[0].(map[string]any)
	payload, err := base64.StdEncoding.Strict().DecodeString(dsse["payload"].(string))
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	if _, err := base64.StdEncoding.Strict().DecodeString(sig["signature"].(string)); err != nil {
		t.Fatalf("signature: %v", err)
	}
	wrep := want["report"].(map[string]any)
	wrep["reportId"] = rep["reportId"]
	wrep["policy"].(map[string]any)["digest"] = rep["policy"].(map[string]any)["digest"]
	wdsse := want["dsse"].(map[string]any)
	wdsse["payload"] = dsse["payload"]
	wdsse["signatures"].([]any)[0].(map[string]any)["signature"] = sig["signature"]
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response (-spec +ours):\n%s", diff)
	}
	if id, _ := rep["reportId"].(string); len(id) != len("report-")+20 || !strings.HasPrefix(id, "report-") {
		t.Errorf("reportId %q", id)
	}
	// "payload is the canonical UTF-8 JSON" of the report object.
	canon, err := canonjson.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(payload, canon) {
		t.Errorf("payload is not the canonical report:\n%s\n%s", payload, canon)
	}
	link := resp.Header.Get("Link")
	if !strings.HasPrefix(link, "</rekor/log/") {
		t.Errorf("Link %q", link)
	}
}

// TestReportsEndToEnd is the area on the default key setup (an ed25519 key generated in the
// data directory on first start): reports over findings verified offline with the published
// key, the log entry's proof verified offline with the log's key, the image evidence, bad
// input, and the key kept across a restart.
func TestReportsEndToEnd(t *testing.T) {
	ctx := t.Context()
	data := t.TempDir()
	cfg := baseConfig()
	e := startReports(t, cfg, data)
	if _, err := os.Stat(filepath.Join(data, "signing", signing.KeyringFile)); err != nil {
		t.Fatalf("no key generated in the data directory: %v", err)
	}
	e.importPolicy(t, reportsPolicy)

	const img = "sha256:4bf3c2a1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3"
	req := client.ReportRequest{ImageDigest: img, Environment: "prod", Findings: []client.ReportFinding{
		{ID: "CVE-2024-0002 pkg:deb/debian/openssl@1.1.1", Severity: "High", Source: "GHSA"},
		{ID: "CVE-2024-0001 pkg:deb/debian/zlib@1.2.11", Severity: "Critical", Source: "NVD", Vulnerabilities: []string{"CVE-2024-0001"}},
		{ID: "CVE-2024-0003 pkg:npm/lodash@4.17.20", Severity: "low", Source: "OSV"},
	}}
	rep, err := e.c.AssembleReport(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Report
	if r.Verdict != "blocked" || r.ImageDigest != img || r.Policy.RevisionID != "rev-1" || len(r.Policy.Digest) != 64 {
		t.Errorf("report %+v", r)
	}
	if r.Summary != (client.ReportSummary{Total: 3, Blocked: 1}) {
		t.Errorf("summary %+v", r.Summary)
	}
	var ids []string
	for _, v := range r.Verdicts {
		ids = append(ids, v.FindingID+"="+v.Status)
	}
	if want := []string{"CVE-2024-0001 pkg:deb/debian/zlib@1.2.11=Blocked", "CVE-2024-0002 pkg:deb/debian/openssl@1.1.1=Pass",
		"CVE-2024-0003 pkg:npm/lodash@4.17.20=Pass"}; !cmp.Equal(ids, want) {
		t.Errorf("verdicts %v, want %v (sorted by finding id)", ids, want)
	}

	// Offline: the envelope verifies with the published public key, and only with it.
	keys, err := e.c.SignerKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Keys) != 1 || keys.Keys[0].Status != "active" || keys.Keys[0].Algorithm != "ed25519" ||
		!strings.HasPrefix(keys.Keys[0].KeyID, "scanner-report-signing-ed25519-") {
		t.Fatalf("keys %+v", keys.Keys)
	}
	pub, err := signing.ParsePublicKeyPEM(keys.Keys[0].KeyID, []byte(keys.Keys[0].PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	envBytes := mustJSON(t, rep.DSSE)
	env, err := signing.Decode(envBytes)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signing.VerifyWith(ctx, env, pub)
	if err != nil {
		t.Fatalf("the report does not verify with the published key: %v", err)
	}
	if v.PayloadType != "application/vnd.stellaops.report+json" || v.KeyID != keys.Keys[0].KeyID {
		t.Errorf("verification %+v", v)
	}
	var signed client.SignedReport
	if err := json.Unmarshal(v.Payload, &signed); err != nil || !cmp.Equal(signed, r) {
		t.Errorf("signed payload %+v differs from the report %+v (%v)", signed, r, err)
	}
	tampered := *env
	tampered.Payload = bytes.Replace(env.Payload, []byte(`"blocked"`), []byte(`"pass"`), 1)
	if _, err := signing.VerifyWith(ctx, &tampered, pub); err == nil {
		t.Error("a tampered verdict verified")
	}

	// The same request is the same report, signed to the same bytes.
	again, err := e.c.AssembleReport(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.Report.ReportID != r.ReportID || !bytes.Equal(mustJSON(t, again.DSSE), envBytes) || again.LogEntry != rep.LogEntry {
		t.Error("the same request gave another report, envelope or log entry")
	}

	// The log entry: its proof verifies offline with the log's published key, and its body is
	// the envelope.
	if rep.LogEntry == "" {
		t.Fatal("no log entry in the Link header")
	}
	logPub := reportsLogKey(t, keys)
	b := reportsBundle(t, e.c, rep.LogEntry, logPub)
	if !bytes.Equal(b.Entry.Body, envBytes) || b.Entry.ID() != tlog.EntryID(envBytes) {
		t.Errorf("log entry body is not the envelope")
	}

	// Image evidence for the runtime area.
	ev, err := e.r.srv.ImageEvidence(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if ev.PolicyVerdict != "fail" || ev.ReportID != r.ReportID || ev.PolicyRevision != "rev-1" || !ev.Signed || ev.HasSBOM ||
		ev.Attestation == nil || ev.Attestation.UUID != rep.LogEntry || !ev.Attestation.Verified {
		t.Errorf("evidence %+v %+v", ev, ev.Attestation)
	}
	// A later report of the image is its latest: no findings, a pass.
	pass, err := e.c.AssembleReport(ctx, client.ReportRequest{ImageDigest: img, Findings: []client.ReportFinding{}})
	if err != nil {
		t.Fatal(err)
	}
	if pass.Report.Verdict != "pass" || pass.Report.Summary.Total != 0 || len(pass.Report.Verdicts) != 0 {
		t.Errorf("empty findings: %+v", pass.Report)
	}
	if ev, err := e.r.srv.ImageEvidence(ctx, strings.ToUpper(img[:6])+img[6:]); err == nil {
		t.Errorf("an upper-case algorithm gave evidence %+v", ev)
	}
	if ev, err := e.r.srv.ImageEvidence(ctx, "sha256:"+strings.ToUpper(img[7:])); err != nil || ev.PolicyVerdict != "pass" || ev.ReportID != pass.Report.ReportID {
		t.Errorf("evidence after a passing report: %+v %v", ev, err)
	}
	if ev, err := e.r.srv.ImageEvidence(ctx, "sha256:0123"); err != nil || ev.Signed || ev.PolicyVerdict != "" || ev.Attestation != nil {
		t.Errorf("evidence of an unknown image: %+v %v", ev, err)
	}

	// A stored scan that does not exist: the §2.7 404.
	status, prob, _ := e.rawReport(t, e.c, `{"scanId": "2f6c17f9b3f548e2a28b9c412f4d63f8"}`)
	if status != http.StatusNotFound || prob["type"] != "https://stella-ops.org/probs/not-found" || !strings.Contains(prob["detail"].(string), "2f6c17f9b3f548e2a28b9c412f4d63f8") {
		t.Errorf("unknown scan: %d %v", status, prob)
	}

	reportsBadInput(t, e)

	// Without the scope.
	other := validated(t, e.r.url, client.WithToken(reportsToken(t, e.r.url, "viewer", authority.ScopeAPI)))
	if _, err := other.AssembleReport(ctx, req); !client.IsStatus(err, 403) {
		t.Errorf("report without scanner.reports: %v", err)
	}

	// After a restart the key is the same and old envelopes still verify.
	e.r.shutdown(t)
	if err := e.r.srv.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := startReports(t, cfg, data)
	keys2, err := e2.c.SignerKeys(ctx)
	if err != nil || !cmp.Equal(keys2.Keys, keys.Keys) || keys2.TransparencyLog != keys.TransparencyLog {
		t.Fatalf("keys after a restart %+v %v", keys2, err)
	}
	reportsBundle(t, e2.c, rep.LogEntry, logPub)
}

// reportsBadInput: every malformed request is a 4xx problem with a precise detail, and none
// stores anything.
func reportsBadInput(t *testing.T, e *reportsEnv) {
	digest := `"imageDigest":"sha256:abc123"`
	for _, tc := range []struct {
		name, body, contentType string
		status                  int
		detail                  string
	}{
		{"not JSON", `{"imageDigest":`, "", 400, "malformed JSON"},
		{"unknown field", `{` + digest + `,"findings":[],"extra":1}`, "", 400, "extra"},
		{"no digest", `{"findings":[]}`, "", 400, "$.imageDigest: is required"},
		{"no findings", `{` + digest + `}`, "", 400, "$.findings: is required"},
		{"upper-case hex", `{"imageDigest":"sha256:ABC123","findings":[]}`, "", 400, "lower-case hex"},
		{"no algorithm", `{"imageDigest":"abc123","findings":[]}`, "", 400, "<algorithm>:<hex>"},
		{"empty finding id", `{` + digest + `,"findings":[{"severity":"High"}]}`, "", 400, "$.findings[0].id: is required"},
		{"repeated finding", `{` + digest + `,"findings":[{"id":"a"},{"id":"a"}]}`, "", 400, "repeats $.findings[0].id"},
		{"staged policy", `{` + digest + `,"findings":[],"policy":{"content":"x"}}`, "", 400, "POST /api/v1/policy/preview"},
		{"baseline", `{` + digest + `,"findings":[],"baseline":[]}`, "", 400, "$.baseline"},
		{"scan and findings", `{"scanId":"abc","findings":[]}`, "", 400, "not both"},
		{"bad scan id", `{"scanId":"../etc/passwd"}`, "", 400, "$.scanId"},
		{"findings not a list", `{` + digest + `,"findings":{}}`, "", 400, "malformed JSON"},
		{"form body", `imageDigest=sha256:abc`, "application/x-www-form-urlencoded", 415, "application/json"},
	} {
		ct := tc.contentType
		if ct == "" {
			ct = "application/json"
		}
		resp, _ := e.c.Raw(t.Context(), http.MethodPost, "/api/v1/reports", nil, ct, strings.NewReader(tc.body))
		var p struct {
			Type, Detail string
			Status       int
		}
		if resp == nil || json.Unmarshal(resp.Body, &p) != nil {
			t.Errorf("%s: no problem answer", tc.name)
			continue
		}
		if resp.StatusCode != tc.status || p.Status != tc.status || !strings.Contains(p.Detail, tc.detail) ||
			resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %+v, want %d with %q", tc.name, resp.StatusCode, p, tc.status, tc.detail)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reportsLogKey parses the transparency log's published key.
func reportsLogKey(t *testing.T, keys client.SignerKeys) ed25519.PublicKey {
	t.Helper()
	pk, err := signing.ParsePublicKeyPEM("tlog", []byte(keys.TransparencyLog.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := pk.Public().(ed25519.PublicKey)
	if !ok {
		t.Fatalf("log key %T", pk.Public())
	}
	if id, err := tlog.KeyID(pub); err != nil || id != keys.TransparencyLog.KeyID {
		t.Fatalf("log key id %s, published %s (%v)", id, keys.TransparencyLog.KeyID, err)
	}
	return pub
}

// reportsBundle fetches /rekor/log/{id} and verifies it offline with the log's key.
func reportsBundle(t *testing.T, c *client.Client, id string, pub ed25519.PublicKey) tlog.Bundle {
	t.Helper()
	raw, err := c.LogEntry(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tlog.DecodeBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.VerifyInclusion(b, pub); err != nil {
		t.Fatalf("the proof of %s does not verify offline: %v", id, err)
	}
	if b.Entry.ID() != id {
		t.Fatalf("bundle of %s is of %s", id, b.Entry.ID())
	}
	return b
}

// attestTestdata reads a fixture of internal/attest/testdata.
func attestTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "attest", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAttestEndToEnd: a SLSA provenance statement posted to /attest (202, Location), read back
// verified, its log proof verified offline; a Signer envelope of an SBOM statement accepted;
// foreign and tampered envelopes refused; the image evidence sees both.
func TestAttestEndToEnd(t *testing.T) {
	forTopologies(t, func(t *testing.T, topo topology) {
		e := deployReports(t, topo, baseConfig(), nil)
		keys, err := e.c.SignerKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		pub, err := signing.ParsePublicKeyPEM(keys.Keys[0].KeyID, []byte(keys.Keys[0].PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		attestWalkthrough(t, e, pub)
	})
}

// attestWalkthrough runs on e, whose signing key trusted verifies.
func attestWalkthrough(t *testing.T, e *reportsEnv, trusted signing.Verifier) {
	ctx := t.Context()
	const img = "sha256:a2078ca3251cf1edd26e5faf9c4c823dfeb991ef56541d7aafc15d4460307bd0"
	keys, err := e.c.SignerKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logPub := reportsLogKey(t, keys)

	provenance := attestTestdata(t, "slsa.statement.golden.json")
	acc, err := e.c.SubmitAttestation(ctx, provenance)
	if err != nil {
		t.Fatal(err)
	}
	if acc.LocationHeader != "/attest/"+acc.ID || acc.Location != acc.LocationHeader || !acc.Created || acc.Status != "logged" ||
		acc.PredicateType != "https://slsa.dev/provenance/v1" || acc.Rekor != "/rekor/log/"+acc.ID {
		t.Fatalf("accepted %+v", acc)
	}
	got, err := e.c.Attestation(ctx, strings.TrimPrefix(acc.LocationHeader, "/attest/"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "verified" || !got.Signature.Verified || !got.TransparencyLog.Verified || got.TransparencyLog.UUID != acc.ID ||
		!cmp.Equal(got.Subjects, []string{img}) || got.CreatedAt != "2026-11-22T10:00:00.000Z" {
		t.Fatalf("attestation %+v", got)
	}
	// The statement was signed as the server's key, canonical.
	env, err := signing.Decode(mustJSON(t, got.DSSE))
	if err != nil {
		t.Fatal(err)
	}
	canon, _ := canonjson.Transform(provenance)
	if env.PayloadType != "application/vnd.in-toto+json" || !bytes.Equal(env.Payload, canon) {
		t.Errorf("envelope %s %s", env.PayloadType, env.Payload)
	}
	b := reportsBundle(t, e.c, acc.ID, logPub)
	if want, _ := env.Encode(); !bytes.Equal(b.Entry.Body, want) || tlog.EntryID(want) != acc.ID {
		t.Error("the log entry is not the attestation's envelope")
	}
	again, err := e.c.SubmitAttestation(ctx, provenance)
	if err != nil || again.ID != acc.ID || again.Created {
		t.Errorf("resubmission %+v %v", again, err)
	}

	// The Signer signs an SBOM statement; the Attestor takes its envelope.
	sbom := attestTestdata(t, "trivy-centos-7.cdx.json")
	signed, err := e.c.SignDSSE(ctx, client.SignRequest{Subject: []client.StatementSubject{{Name: "registry.example/postgres:11.15-stretch",
		Digest: map[string]string{"sha256": strings.TrimPrefix(img, "sha256:")}}}, PredicateType: "https://cyclonedx.org/bom", Predicate: sbom})
	if err != nil {
		t.Fatal(err)
	}
	if signed.DSSE.PayloadType != "application/vnd.in-toto+json" || signed.KeyID != trusted.KeyID() || signed.Algorithm != string(trusted.Algorithm()) {
		t.Fatalf("signed %+v", signed)
	}
	sacc, err := e.c.SubmitAttestation(ctx, signed.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if sacc.ID != tlog.EntryID(signed.Raw) || sacc.PredicateType != "https://cyclonedx.org/bom" || sacc.LogIndex <= acc.LogIndex {
		t.Errorf("sbom attestation %+v (envelope id %s)", sacc, tlog.EntryID(signed.Raw))
	}
	ev, err := e.r.srv.ImageEvidence(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Signed || !ev.HasSBOM || ev.Attestation == nil || ev.Attestation.UUID != sacc.ID || !ev.Attestation.Verified || ev.PolicyVerdict != "" {
		t.Errorf("evidence %+v %+v", ev, ev.Attestation)
	}

	// Refused: another signer's envelope (a real one, grype's), a tampered envelope, a
	// statement of an unknown predicate, neither a statement nor an envelope.
	var tampered map[string]any
	_ = json.Unmarshal(signed.Raw, &tampered)
	tampered["payload"] = base64.StdEncoding.EncodeToString(bytes.Replace(signed.DSSE.Payload, []byte("bash"), []byte("bosh"), 1))
	foreignKey, _ := signing.GenerateKey(rand.Reader, signing.Ed25519, "")
	foreign, _ := signing.Sign(ctx, "application/vnd.in-toto+json", canon, foreignKey)
	foreignBytes, _ := foreign.Encode()
	for _, tc := range []struct {
		name   string
		body   []byte
		detail string
	}{
		{"grype envelope", attestTestdata(t, "grype-alpine.cdx.att.json"), "no valid signature from a trusted key"},
		{"foreign key", foreignBytes, "no valid signature from a trusted key"},
		{"tampered", mustJSON(t, tampered), "no valid signature from a trusted key"},
		{"unknown predicate", bytes.Replace(provenance, []byte("https://slsa.dev/provenance/v1"), []byte("https://example.com/x"), 1), "unknown predicate type"},
		{"neither", []byte(`{"hello":"world"}`), "in-toto Statement v1"},
		{"both", []byte(`{"_type":"x","payloadType":"y"}`), "both"},
		{"not JSON", []byte(`{"_type":`), "malformed JSON"},
	} {
		_, err := e.plain.SubmitAttestation(ctx, tc.body)
		var ce *client.Error
		if !client.IsStatus(err, 400) || !errors.As(err, &ce) || !strings.Contains(ce.Detail, tc.detail) {
			t.Errorf("%s: %v, want 400 with %q", tc.name, err, tc.detail)
		}
	}
	// Sign requests that are refused.
	for _, tc := range []struct {
		name   string
		req    client.SignRequest
		detail string
	}{
		{"a report", client.SignRequest{PayloadType: "application/vnd.stellaops.report+json", Payload: []byte(`{"verdict":"pass"}`)}, "POST /api/v1/reports"},
		{"JSON type, not JSON", client.SignRequest{PayloadType: "application/json", Payload: []byte("nope")}, "application/json"},
		{"no payload", client.SignRequest{PayloadType: "text/plain"}, "$.payload"},
		{"bad type", client.SignRequest{PayloadType: "not a type", Payload: []byte("x")}, "$.payloadType"},
		{"mixed", client.SignRequest{PayloadType: "text/plain", Payload: []byte("x"), PredicateType: "https://slsa.dev/provenance/v1"}, "not both"},
		{"no subject", client.SignRequest{PredicateType: "https://cyclonedx.org/bom", Predicate: sbom}, "subjects"},
	} {
		_, err := e.c.SignDSSE(ctx, tc.req)
		var ce *client.Error
		if !client.IsStatus(err, 400) || !errors.As(err, &ce) || !strings.Contains(ce.Detail, tc.detail) {
			t.Errorf("sign %s: %v, want 400 with %q", tc.name, err, tc.detail)
		}
	}
	// A plain payload signs, and verifies offline.
	plain, err := e.c.SignDSSE(ctx, client.SignRequest{PayloadType: "text/plain", Payload: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	penv, err := signing.Decode(plain.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signing.VerifyWith(ctx, penv, trusted); err != nil || string(penv.Payload) != "hello" {
		t.Errorf("plain payload: %v %q", err, penv.Payload)
	}

	if _, err := e.c.Attestation(ctx, "not-an-id"); !client.IsStatus(err, 400) {
		t.Errorf("bad id: %v", err)
	}
	if _, err := e.c.Attestation(ctx, strings.Repeat("0", 64)); !client.IsStatus(err, 404) {
		t.Errorf("unknown attestation: %v", err)
	}
	if _, err := e.c.LogEntry(ctx, strings.Repeat("0", 64)); !client.IsStatus(err, 404) {
		t.Errorf("unknown log entry: %v", err)
	}
	if _, err := e.c.LogEntry(ctx, strings.Repeat("A", 64)); !client.IsStatus(err, 400) {
		t.Errorf("upper-case log id: %v", err)
	}
}

// discardLogger silences the test registry.
func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// TestVerifyReferrers runs the Signer's referrer check against an in-process OCI registry on
// the loopback interface: an image with a referrer signed by the server's key (trusted), one
// signed by a stranger, and registry failures.
func TestVerifyReferrers(t *testing.T) {
	ctx := t.Context()
	reg := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(discardLogger())))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	cfg := baseConfig()
	cfg.Signing.Referrers.AllowedRegistries = []string{host}
	e := startReports(t, cfg, t.TempDir())

	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(host + "/stellaops/scanner")
	if err != nil {
		t.Fatal(err)
	}
	tag := repo.Tag("1.0")
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	dig, _ := img.Digest()
	mf, _ := img.MediaType()
	size, _ := img.Size()
	subject := v1.Descriptor{MediaType: mf, Digest: dig, Size: size}

	// A release statement about the image, signed by the server's Signer, and one by a stranger.
	signed, err := e.c.SignDSSE(ctx, client.SignRequest{Subject: []client.StatementSubject{{Name: repo.String(), Digest: map[string]string{"sha256": dig.Hex}}},
		PredicateType: "https://slsa.dev/provenance/v1", Predicate: reportsPredicate(t)})
	if err != nil {
		t.Fatal(err)
	}
	strangerKey, _ := signing.GenerateKey(rand.Reader, signing.Ed25519, "stranger")
	strangerEnv, _ := signing.Sign(ctx, "application/vnd.in-toto+json", mustJSON(t, map[string]any{
		"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://slsa.dev/provenance/v1", "predicate": map[string]any{},
		"subject": []any{map[string]any{"digest": map[string]string{"sha256": dig.Hex}}}}), strangerKey)
	strangerBytes, _ := strangerEnv.Encode()
	pushReferrer(t, repo, subject, signed.Raw)
	pushReferrer(t, repo, subject, strangerBytes)

	rep, err := e.c.VerifyReferrers(ctx, tag.String())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Trusted || rep.Subject != dig.String() || rep.Image != repo.Digest(dig.String()).String() || len(rep.Referrers) != 2 || rep.Truncated {
		t.Fatalf("report %+v", rep)
	}
	var verified, failed int
	for _, r := range rep.Referrers {
		switch {
		case r.Verified && r.KeyID == signed.KeyID && cmp.Equal(r.Subjects, []string{dig.String()}) && r.PayloadType == "application/vnd.in-toto+json":
			verified++
		case !r.Verified && strings.Contains(r.Error, "no valid signature from a trusted key"):
			failed++
		}
	}
	if verified != 1 || failed != 1 {
		t.Errorf("referrers %+v", rep.Referrers)
	}

	// An image without referrers is not trusted: the check fails closed.
	other, _ := random.Image(128, 1)
	if err := remote.Write(repo.Tag("other"), other, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	odig, _ := other.Digest()
	if rep, err := e.c.VerifyReferrers(ctx, repo.Digest(odig.String()).String()); err != nil || rep.Trusted || len(rep.Referrers) != 0 {
		t.Errorf("no referrers: %+v %v", rep, err)
	}
	for _, tc := range []struct {
		image  string
		status int
	}{
		{repo.Tag("missing").String(), 404},
		{"alpine:3.20", 400},
		{"", 400},
		{host + "/UPPER/case:1", 400},
	} {
		if _, err := e.plain.VerifyReferrers(ctx, tc.image); !client.IsStatus(err, tc.status) {
			t.Errorf("%q: %v, want %d", tc.image, err, tc.status)
		}
	}
	if _, err := e.c.Raw(ctx, http.MethodGet, "/api/v1/signer/verify/referrers", map[string][]string{"image": {tag.String()}, "x": {"1"}}, "", nil); !client.IsStatus(err, 400) {
		t.Errorf("unknown parameter: %v", err)
	}
	// Registries outside the list are refused, and so, without a list, are internal addresses.
	if _, err := e.c.VerifyReferrers(ctx, "registry.example.com/acme/app:1"); !client.IsStatus(err, 403) {
		t.Errorf("unlisted registry: %v", err)
	}
	open := startReports(t, baseConfig(), t.TempDir())
	_, err = open.c.VerifyReferrers(ctx, tag.String())
	var ce *client.Error
	if !client.IsStatus(err, 403) || !errors.As(err, &ce) || !strings.Contains(ce.Detail, "internal (loopback, private or link-local) address") {
		t.Errorf("loopback registry without a list: %v", err)
	}
	reg.Close()
	if _, err := e.c.VerifyReferrers(ctx, tag.String()); !client.IsStatus(err, 502) {
		t.Errorf("registry down: %v", err)
	}
}

// reportsPredicate is the SLSA predicate of the attest fixture.
func reportsPredicate(t *testing.T) json.RawMessage {
	var st struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(attestTestdata(t, "slsa.statement.golden.json"), &st); err != nil {
		t.Fatal(err)
	}
	return st.Predicate
}

// pushReferrer pushes an OCI artifact whose one layer is the DSSE envelope and whose subject
// is the image.
func pushReferrer(t *testing.T, repo name.Repository, subject v1.Descriptor, envelope []byte) {
	t.Helper()
	art, err := mutate.AppendLayers(empty.Image, static.NewLayer(envelope, types.MediaType("application/vnd.dsse.envelope.v1+json")))
	if err != nil {
		t.Fatal(err)
	}
	art = mutate.MediaType(art, types.OCIManifestSchema1)
	art = mutate.ConfigMediaType(art, types.MediaType("application/vnd.oci.empty.v1+json"))
	art = mutate.Subject(art, subject).(v1.Image)
	d, err := art.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Digest(d.String()), art, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
}

// TestReportsConfig: the signing section's checks.
func TestReportsConfig(t *testing.T) {
	for name, mutate := range map[string]func(*server.Config){
		"key and file":     func(c *server.Config) { c.Signing.Key, c.Signing.KeyFile, c.Signing.KeyID = "a", "b", "c" },
		"key without id":   func(c *server.Config) { c.Signing.KeyFile = "/k.pem" },
		"bad algorithm":    func(c *server.Config) { c.Signing.Algorithm = "rsa" },
		"bad origin":       func(c *server.Config) { c.Signing.LogOrigin = "has space" },
		"tiny body":        func(c *server.Config) { c.Signing.MaxReportBytes = 10 },
		"no timeout":       func(c *server.Config) { c.Signing.Referrers.Timeout = 0 },
		"no referrers":     func(c *server.Config) { c.Signing.Referrers.MaxReferrers = 0 },
		"empty release id": func(c *server.Config) { c.Signing.ReleaseKeys = map[string]string{"": "/k.pem"} },
	} {
		c := server.Defaults()
		mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "signing") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A configured key file is used as given.
	dir := t.TempDir()
	k, _ := signing.GenerateKey(rand.Reader, signing.ECDSAP256, "release-2026")
	pem, _ := k.PrivateKeyPEM()
	if err := os.WriteFile(filepath.Join(dir, "k.pem"), pem, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig()
	cfg.Signing.KeyFile, cfg.Signing.KeyID = filepath.Join(dir, "k.pem"), "release-2026"
	e := startReports(t, cfg, t.TempDir())
	keys, err := e.c.SignerKeys(t.Context())
	if err != nil || len(keys.Keys) != 1 || keys.Keys[0].KeyID != "release-2026" || keys.Keys[0].Algorithm != "ecdsa-p256" {
		t.Fatalf("keys %+v %v", keys, err)
	}
}

// FuzzReportsEndpoints sends arbitrary bodies to the area's three writing endpoints through
// the server's handler: every answer is a success or a 4xx problem, never a 5xx.
func FuzzReportsEndpoints(f *testing.F) {
	cfg := baseConfig()
	cfg.Authority.Issuer = "http://stellaops.test"
	cfg.Signing.MaxAttestationBytes = 64 << 10
	cfg.Signing.MaxReportBytes = 64 << 10
	cfg.Quota.RatePerSecond = -1 // the fuzzer calls faster than any client may
	srv, err := server.New(context.Background(), cfg, server.Options{DataDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	h := srv.API.Handler()
	call := func(method, path, ct string, hdr map[string]string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://stellaops.test"+path, bytes.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	enc := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	rec := call("POST", "/internal/clients", "application/json", map[string]string{"X-StellaOps-Bootstrap-Key": bootstrap},
		enc(client.NewClient{ClientID: "fuzz", Secret: "fuzz-secret-0123456789abcdef", Scopes: authority.AllScopes()}))
	if rec.Code != 201 && rec.Code != 200 {
		f.Fatalf("create client: %d %s", rec.Code, rec.Body)
	}
	rec = call("POST", "/connect/token", "application/x-www-form-urlencoded", nil,
		[]byte("grant_type=client_credentials&client_id=fuzz&client_secret=fuzz-secret-0123456789abcdef"))
	var tok client.Token
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		f.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	auth := map[string]string{"Authorization": "Bearer " + tok.AccessToken}
	if rec := call("POST", "/policy/import", "application/json", auth, enc(map[string]any{"policy": map[string]string{"content": reportsPolicy}})); rec.Code >= 300 {
		f.Fatalf("import: %d %s", rec.Code, rec.Body)
	}
	paths := []string{"/api/v1/reports", "/api/v1/signer/sign/dsse", "/attest"}
	f.Add(uint8(0), []byte(reportsSpecRequest))
	f.Add(uint8(0), []byte(`{"scanId":"abc"}`))
	f.Add(uint8(0), []byte(`{"imageDigest":"sha256:ab","findings":[{"id":"x","vex":[{"status":"not_affected"}]}],"environment":"dev"}`))
	f.Add(uint8(1), []byte(`{"payloadType":"application/json","payload":"eyJhIjoxfQ=="}`))
	f.Add(uint8(1), []byte(`{"subject":[{"digest":{"sha256":"ab"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`))
	f.Add(uint8(2), []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AA=="}]}`))
	if b, err := os.ReadFile(filepath.Join("..", "attest", "testdata", "slsa.statement.golden.json")); err == nil {
		f.Add(uint8(2), b)
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		rec := call("POST", path, "application/json", auth, body)
		switch {
		case rec.Code == 200 || rec.Code == 202:
			return
		case rec.Code >= 400 && rec.Code < 500:
			var p struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if rec.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil ||
				p.Status != rec.Code || !strings.HasPrefix(p.Type, "https://stella-ops.org/probs/") || p.Detail == "" {
				t.Fatalf("%s → %d is not a precise problem: %s", path, rec.Code, rec.Body)
			}
		default:
			t.Fatalf("%s → %d: %s", path, rec.Code, rec.Body)
		}
	})
}

// TestReportsFromStoredScan assembles a report over a scan the scans area ran (the
// postgres-stretch SBOM against the bundled advisories): the scan's digest is the report's,
// every finding has a verdict, and the verdict is the scan's policy status.
func TestReportsFromStoredScan(t *testing.T) {
	forTopologies(t, reportsFromStoredScan)
}

func reportsFromStoredScan(t *testing.T, topo topology) {
	ctx := t.Context()
	cfg := scansConfig(t)
	cfg.Scanner.SyncBudget = time.Minute // answered in the request: the scan's policy status comes with it
	e := deployReports(t, topo, cfg, scansDataDir)
	e.importPolicy(t, "version: \"1.0\"\nrules:\n  - name: Block High\n    severity: [Critical, High]\n    action: block\n")
	// The scan runs on the replica the reports client does not use.
	scanURL := e.d.api(1).url
	scanner := validated(t, scanURL, client.WithToken(reportsToken(t, scanURL, "scanner", authority.ScopeScansEnqueue, authority.ScopeScansRead)))
	sbomXML := scansGunzip(t, filepath.Join(scansTestdata(t), "sbom", "postgres-stretch.cdx.xml.gz"))
	up, _, err := scanner.ScanUpload(ctx, bytes.NewReader(sbomXML), client.ScanUploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if up.Completed == nil {
		t.Fatalf("the scan was not answered in the request: %+v", up.Accepted)
	}
	scanID, digest, status, findings := up.Completed.ScanID, up.Completed.Digest, up.Completed.PolicyStatus, up.Completed.Findings
	rep, err := e.c.AssembleReport(ctx, client.ReportRequest{ScanID: scanID})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Report
	if r.ImageDigest != digest || r.Summary.Total != findings || len(r.Verdicts) != findings || findings == 0 || r.Policy.RevisionID != "rev-1" {
		t.Fatalf("report over scan %s (%s, %d findings): %+v", scanID, digest, findings, r.Summary)
	}
	if r.Verdict != status {
		t.Errorf("report verdict %q, the scan's policy status %q", r.Verdict, status)
	}
	for _, v := range r.Verdicts {
		if id, purl, ok := strings.Cut(v.FindingID, " "); !ok || id == "" || !strings.HasPrefix(purl, "pkg:") {
			t.Errorf("finding id %q is not '<vulnerability> <purl>'", v.FindingID)
		}
	}
	ev, err := e.r.srv.ImageEvidence(ctx, digest)
	if err != nil || ev.ReportID != r.ReportID || !ev.Signed {
		t.Errorf("evidence %+v %v", ev, err)
	}
	status2, prob, _ := e.rawReport(t, e.c, `{"scanId":"`+scanID+`","imageDigest":"sha256:0000"}`)
	if status2 != 400 || !strings.Contains(prob["detail"].(string), "is of "+digest) {
		t.Errorf("mismatched digest: %d %v", status2, prob)
	}
}
