package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/api/apitest"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/authority/sqlitestore"
	"github.com/stellaops/stellaops/internal/quota"
	"github.com/stellaops/stellaops/internal/quota/memstore"
)

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIYAML())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentValidates(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.OpenAPI != "3.0.3" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" || op.Summary == "" || len(op.Tags) == 0 {
				t.Errorf("%s: operationId, summary and tags are required", where)
			}
			if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s: operationId %q is also %s", where, op.OperationID, other)
			}
			ids[op.OperationID] = where
			for code, r := range op.Responses.Map() {
				if code == "default" {
					t.Errorf("%s: a default response hides undocumented statuses", where)
				}
				if _, ok := r.Value.Headers["X-Trace-Id"]; !ok {
					t.Errorf("%s %s: no X-Trace-Id header", where, code)
				}
			}
		}
	}
}

// openapiPath turns a net/http pattern path into an OpenAPI path template: "{name...}"
// becomes "{name}" and a trailing "{$}" goes.
func openapiPath(p string) string {
	p = strings.TrimSuffix(p, "{$}")
	return strings.ReplaceAll(p, "...}", "}")
}

// TestOpenAPICoversEveryRoute keeps the document and the route table in step: a route
// without documentation, or documentation without a route, fails.
// platformPaths are the paths of openapi/v1.yaml: the routes this package registers. The other
// fragments belong to product areas, whose routes internal/server checks on a full server.
func platformPaths(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("openapi", "v1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var base struct {
		Paths map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &base); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for p := range base.Paths {
		out[p] = true
	}
	return out
}

func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	platform := platformPaths(t)
	e := newEnv(t, "https://authority.test", nil)
	routes := map[string]bool{}
	for _, rt := range e.srv.Routes() {
		key := rt.Method + " " + openapiPath(rt.Path)
		routes[key] = true
		item := doc.Paths.Value(openapiPath(rt.Path))
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("route %s (%s) is not in internal/api/openapi/v1.yaml", rt.Pattern(), rt.Summary)
		}
	}
	for path, item := range doc.Paths.Map() {
		if !platform[path] {
			continue
		}
		for method := range item.Operations() {
			if !routes[method+" "+path] {
				t.Errorf("the document has %s %s, which the server does not register", method, path)
			}
		}
	}
	if len(routes) < 20 {
		t.Fatalf("only %d routes", len(routes))
	}
}

// TestOpenAPISecurity checks that each operation declares the route's authentication.
func TestOpenAPISecurity(t *testing.T) {
	doc := loadOpenAPI(t)
	if s := doc.Components.SecuritySchemes["bearer"]; s == nil || s.Value.Type != "http" || s.Value.Scheme != "bearer" || s.Value.BearerFormat != "JWT" {
		t.Fatalf("bearer scheme %+v", s)
	}
	if s := doc.Components.SecuritySchemes["bootstrapKey"]; s == nil || s.Value.Type != "apiKey" || s.Value.In != "header" || s.Value.Name != api.HeaderBootstrapKey {
		t.Fatalf("bootstrapKey scheme %+v", s)
	}
	if len(doc.Security) != 0 {
		t.Fatalf("a global security requirement %v: operations declare their own", doc.Security)
	}
	e := newEnv(t, "https://authority.test", nil)
	for _, rt := range e.srv.Routes() {
		op := doc.Paths.Value(openapiPath(rt.Path)).GetOperation(rt.Method)
		if op == nil {
			continue // TestOpenAPICoversEveryRoute reports it
		}
		where := rt.Pattern()
		if op.Security == nil {
			t.Errorf("%s: no security (use [] for public routes)", where)
			continue
		}
		var names []string
		for _, req := range *op.Security {
			var keys []string
			for k, scopes := range req {
				keys = append(keys, k)
				if len(scopes) != 0 {
					t.Errorf("%s: %s lists scopes; the scope goes in x-stellaops-scope", where, k)
				}
			}
			slices.Sort(keys)
			names = append(names, strings.Join(keys, "+"))
		}
		scope, _ := op.Extensions["x-stellaops-scope"].(string)
		anonymous, _ := op.Extensions["x-stellaops-anonymous"].(bool)
		has := func(code string) bool { return op.Responses.Value(code) != nil }
		switch rt.Auth {
		case api.AuthPublic:
			if len(names) != 0 || scope != "" {
				t.Errorf("%s is public but has security %v, scope %q", where, names, scope)
			}
		case api.AuthBootstrap:
			if !slices.Equal(names, []string{"bootstrapKey"}) || scope != "" {
				t.Errorf("%s: security %v scope %q, want [bootstrapKey]", where, names, scope)
			}
			if !has("401") {
				t.Errorf("%s: 401 is not documented", where)
			}
		case api.AuthToken:
			want := []string{"bearer"}
			if rt.Anonymous {
				want = append(want, "")
			}
			if !slices.Equal(names, want) {
				t.Errorf("%s: security %v, want %v", where, names, want)
			}
			if anonymous != rt.Anonymous {
				t.Errorf("%s: x-stellaops-anonymous %v, route Anonymous %v", where, anonymous, rt.Anonymous)
			}
			if scope != rt.Scope {
				t.Errorf("%s: x-stellaops-scope %q, want %q", where, scope, rt.Scope)
			}
			if !strings.Contains(op.Description, "scope `"+rt.Scope+"`") {
				t.Errorf("%s: the description does not name scope %s", where, rt.Scope)
			}
			for _, code := range []string{"401", "403", "429", "503"} {
				if !has(code) {
					t.Errorf("%s: %s is not documented", where, code)
				}
			}
		}
		for _, code := range []string{"413", "500"} {
			if !has(code) {
				t.Errorf("%s: %s is not documented", where, code)
			}
		}
	}
}

// TestOpenAPIServed checks both endpoints serve the embedded document.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, "https://authority.test", nil)
	get := func(path string) (*http.Response, []byte) {
		resp, err := e.http.Client().Get(e.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return resp, b
	}
	resp, y := get("/openapi/v1.yaml")
	if ct := resp.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Fatalf("yaml content type %q", ct)
	}
	if !bytes.Equal(y, api.OpenAPIYAML()) {
		t.Fatal("/openapi/v1.yaml is not the embedded document")
	}
	resp, j := get("/openapi/v1.json")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("json content type %q", ct)
	}
	var fromYAML any
	if err := yaml.Unmarshal(api.OpenAPIYAML(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	converted, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(converted, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(j, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("/openapi/v1.json differs from the YAML document converted to JSON")
	}
	// Both forms load as the same document.
	dj, err := openapi3.NewLoader().LoadFromData(j)
	if err != nil {
		t.Fatal(err)
	}
	if err := dj.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if dj.Paths.Len() != loadOpenAPI(t).Paths.Len() {
		t.Fatal("the JSON document has other paths")
	}
}

// exchange is one call of TestOpenAPIResponsesValidate.
type exchange struct {
	name         string
	method, path string
	header       map[string]string
	body         string
	contentType  string
	status       int
	// strict validates the request too; off for requests that are bad on purpose.
	strict bool
	// tokenExpires: the request carries a valid token, so X-Stella-Token-Expires is due.
	tokenExpires bool
	// check inspects the body further.
	check func(t *testing.T, resp *http.Response, body []byte)
}

// driver sends exchanges through the validating transport.
type driver struct {
	base        string
	strict, lax *http.Client
}

func newDriver(t *testing.T, v *apitest.Validator, hs *httptest.Server) *driver {
	base := hs.Client().Transport
	return &driver{base: hs.URL,
		strict: &http.Client{Transport: v.Transport(t, base, apitest.Options{ValidateRequests: true})},
		lax:    &http.Client{Transport: v.Transport(t, base, apitest.Options{})}}
}

func (d *driver) do(t *testing.T, x exchange) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if x.body != "" {
		body = strings.NewReader(x.body)
	}
	req, err := http.NewRequest(x.method, d.base+x.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if x.contentType != "" {
		req.Header.Set("Content-Type", x.contentType)
	}
	for k, v := range x.header {
		req.Header.Set(k, v)
	}
	c := d.lax
	if x.strict {
		c = d.strict
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", x.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != x.status {
		t.Errorf("%s: %s %s: status %d, want %d: %s", x.name, x.method, x.path, resp.StatusCode, x.status, b)
	}
	// The document marks the quota headers optional (a quota store outage drops them); with a
	// working store every response carries them, unmatched routes too (API spec §2.1).
	for _, h := range []string{quota.HeaderRemaining, quota.HeaderReset} {
		if resp.Header.Get(h) == "" {
			t.Errorf("%s: header %s missing", x.name, h)
		}
	}
	if got := resp.Header.Get(quota.HeaderTokenExpires) != ""; got != x.tokenExpires {
		t.Errorf("%s: header %s present=%v, want %v", x.name, quota.HeaderTokenExpires, got, x.tokenExpires)
	}
	if x.check != nil && resp.StatusCode == x.status {
		x.check(t, resp, b)
	}
	return resp, b
}

func basicAuth(id, secret string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req.Header.Get("Authorization")
}

func decodeInto(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

// writeEd25519Key writes a PKCS#8 PEM Ed25519 key for rotation.
func writeEd25519Key(t *testing.T, path string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOpenAPIResponsesValidate drives a real server through success and error calls of every
// route family with a validating transport: every response must match the document.
func TestOpenAPIResponsesValidate(t *testing.T) {
	v := apitest.Default(t)
	e := newEnv(t, "https://authority.test", nil)
	d := newDriver(t, v, e.http)
	ctx := context.Background()

	admin, _ := e.tokenWith(t, "admin", authority.AllScopes())
	viewer, _ := e.tokenWith(t, "viewer", []string{authority.ScopeScansRead})
	const ciSecret = "ci-bot-secret-0123456789"
	if _, _, err := e.auth.CreateClient(ctx, authority.NewClient{ID: "ci-bot", Scopes: []string{authority.ScopeAPI, authority.ScopeScansRead}, Secret: ciSecret}); err != nil {
		t.Fatal(err)
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	key := map[string]string{api.HeaderBootstrapKey: bootstrapKey}
	const form = "application/x-www-form-urlencoded"
	const jsonCT = "application/json"

	// The token endpoints.
	var ciToken string
	d.do(t, exchange{name: "token ok", method: "POST", path: "/connect/token", strict: true, contentType: form,
		header: map[string]string{"Authorization": basicAuth("ci-bot", ciSecret)}, body: "grant_type=client_credentials&scope=stella.api", status: 200,
		check: func(t *testing.T, _ *http.Response, b []byte) {
			var tr authority.TokenResponse
			decodeInto(t, b, &tr)
			ciToken = tr.AccessToken
		}})
	d.do(t, exchange{name: "token client_secret_post", method: "POST", path: "/connect/token", strict: true, contentType: form,
		body: "grant_type=client_credentials&client_id=ci-bot&client_secret=" + ciSecret, status: 200})
	d.do(t, exchange{name: "token invalid_client", method: "POST", path: "/connect/token", strict: true, contentType: form,
		header: map[string]string{"Authorization": basicAuth("ci-bot", "wrong-secret-0123456789")}, body: "grant_type=client_credentials", status: 401,
		check: func(t *testing.T, resp *http.Response, b []byte) {
			if !strings.Contains(string(b), `"error":"invalid_client"`) || resp.Header.Get("Content-Type") != jsonCT {
				t.Errorf("invalid_client: %s %s", resp.Header.Get("Content-Type"), b)
			}
		}})
	d.do(t, exchange{name: "token unsupported grant", method: "POST", path: "/connect/token", contentType: form,
		body: "grant_type=authorization_code&client_id=ci-bot", status: 400})
	d.do(t, exchange{name: "token not a form", method: "POST", path: "/connect/token", contentType: jsonCT, body: "{}", status: 400})
	d.do(t, exchange{name: "token too large", method: "POST", path: "/connect/token", contentType: form,
		body: "grant_type=client_credentials&scope=" + strings.Repeat("a", 17<<10), status: 413})
	d.do(t, exchange{name: "revoke ok", method: "POST", path: "/connect/revoke", strict: true, contentType: form,
		header: map[string]string{"Authorization": basicAuth("ci-bot", ciSecret)}, body: "token=" + ciToken, status: 200})
	d.do(t, exchange{name: "revoke without token", method: "POST", path: "/connect/revoke", contentType: form,
		header: map[string]string{"Authorization": basicAuth("ci-bot", ciSecret)}, body: "token_type_hint=access_token", status: 400})
	d.do(t, exchange{name: "revoke invalid_client", method: "POST", path: "/connect/revoke", strict: true, contentType: form,
		body: "token=abc&client_id=ci-bot&client_secret=nope-nope-nope-nope", status: 401})

	// Discovery and keys.
	d.do(t, exchange{name: "discovery", method: "GET", path: "/.well-known/openid-configuration", strict: true, status: 200})
	d.do(t, exchange{name: "jwks", method: "GET", path: "/jwks", strict: true, status: 200})

	// Quota.
	d.do(t, exchange{name: "quota", method: "GET", path: "/api/v1/quota", strict: true, header: bearer(admin), status: 200, tokenExpires: true})
	d.do(t, exchange{name: "quota without token", method: "GET", path: "/api/v1/quota", strict: true, status: 401})
	d.do(t, exchange{name: "quota malformed authorization", method: "GET", path: "/api/v1/quota", header: map[string]string{"Authorization": "Token abc"}, status: 401})
	d.do(t, exchange{name: "quota revoked token", method: "GET", path: "/api/v1/quota", header: bearer(ciToken), status: 401})
	d.do(t, exchange{name: "quota wrong scope", method: "GET", path: "/api/v1/quota", header: bearer(viewer), status: 403, tokenExpires: true})

	// Offline tokens.
	d.do(t, exchange{name: "offline", method: "POST", path: "/token/offline", strict: true, header: bearer(admin), contentType: jsonCT,
		body: `{"expiresDays":7,"maxScansPerDay":50,"scope":"stella.api scanner.scans.read"}`, status: 200, tokenExpires: true})
	d.do(t, exchange{name: "offline empty body", method: "POST", path: "/token/offline", strict: true, header: bearer(admin), status: 200, tokenExpires: true})
	d.do(t, exchange{name: "offline too long", method: "POST", path: "/token/offline", strict: true, header: bearer(admin), contentType: jsonCT,
		body: `{"expiresDays":1000}`, status: 400, tokenExpires: true})
	d.do(t, exchange{name: "offline unknown field", method: "POST", path: "/token/offline", header: bearer(admin), contentType: jsonCT,
		body: `{"days":7}`, status: 400, tokenExpires: true})
	d.do(t, exchange{name: "offline not json", method: "POST", path: "/token/offline", header: bearer(admin), contentType: "text/plain",
		body: `days=7`, status: 415, tokenExpires: true})
	d.do(t, exchange{name: "offline wrong scope", method: "POST", path: "/token/offline", header: bearer(viewer), contentType: jsonCT,
		body: `{}`, status: 403, tokenExpires: true})
	d.do(t, exchange{name: "offline without token", method: "POST", path: "/token/offline", contentType: jsonCT, body: `{}`, status: 401})

	// Authority admin.
	d.do(t, exchange{name: "no bootstrap key", method: "GET", path: "/internal/clients", status: 401})
	keyFile := filepath.Join(e.dir, "next.pem")
	writeEd25519Key(t, keyFile)
	d.do(t, exchange{name: "rotate", method: "POST", path: "/internal/signing/rotate", strict: true, header: key, contentType: jsonCT,
		body: fmt.Sprintf(`{"keyId":"authority-signing-2026","location":%q,"source":"file","provider":"default"}`, keyFile), status: 200,
		check: func(t *testing.T, _ *http.Response, b []byte) {
			var r authority.RotateResult
			decodeInto(t, b, &r)
			if r.PreviousKeyID == "" || len(r.RetiredKeyIDs) != 1 {
				t.Errorf("rotate: %s", b)
			}
		}})
	d.do(t, exchange{name: "rotate again", method: "POST", path: "/internal/signing/rotate", strict: true, header: key, contentType: jsonCT,
		body: fmt.Sprintf(`{"keyId":"authority-signing-2026","location":%q}`, keyFile), status: 409})
	d.do(t, exchange{name: "rotate bad key id", method: "POST", path: "/internal/signing/rotate", header: key, contentType: jsonCT,
		body: `{"keyId":"no spaces","location":"x.pem"}`, status: 400})
	d.do(t, exchange{name: "rotate malformed", method: "POST", path: "/internal/signing/rotate", header: key, contentType: jsonCT,
		body: `{"keyId":`, status: 400})
	d.do(t, exchange{name: "jwks after rotation", method: "GET", path: "/jwks", strict: true, status: 200,
		check: func(t *testing.T, _ *http.Response, b []byte) {
			if !strings.Contains(string(b), `"OKP"`) || !strings.Contains(string(b), `"EC"`) {
				t.Errorf("jwks after rotation: %s", b)
			}
		}})
	d.do(t, exchange{name: "revoke jti", method: "POST", path: "/internal/revocations", strict: true, header: key, contentType: jsonCT,
		body: `{"jti":"jti-1","reason":"compromised","subject":"alice","clientId":"ci-bot"}`, status: 201})
	d.do(t, exchange{name: "revoke jti again", method: "POST", path: "/internal/revocations", strict: true, header: key, contentType: jsonCT,
		body: `{"jti":"jti-1"}`, status: 200})
	d.do(t, exchange{name: "revoke empty jti", method: "POST", path: "/internal/revocations", header: key, contentType: jsonCT,
		body: `{"jti":""}`, status: 400})
	d.do(t, exchange{name: "export revocations", method: "GET", path: "/internal/revocations/export", strict: true, header: key, status: 200,
		check: func(t *testing.T, _ *http.Response, b []byte) {
			var x struct {
				Bundle authority.RevocationBundle `json:"bundle"`
			}
			decodeInto(t, b, &x)
			if len(x.Bundle.Revocations) != 2 {
				t.Errorf("export: %s", b)
			}
		}})
	d.do(t, exchange{name: "create client", method: "POST", path: "/internal/clients", strict: true, header: key, contentType: jsonCT,
		body:   `{"clientId":"scanner-1","displayName":"Scanner","scopes":["stella.api","scanner.scans.enqueue"],"grants":["client_credentials","password"],"tenant":"t1","maxScansPerDay":100}`,
		status: 201})
	d.do(t, exchange{name: "create client without scopes", method: "POST", path: "/internal/clients", strict: true, header: key, contentType: jsonCT,
		body: `{"clientId":"bare","secret":"bare-secret-0123456789"}`, status: 201})
	d.do(t, exchange{name: "create client bad id", method: "POST", path: "/internal/clients", header: key, contentType: jsonCT,
		body: `{"clientId":"-bad","scopes":[]}`, status: 400})
	d.do(t, exchange{name: "create client too large", method: "POST", path: "/internal/clients", header: key, contentType: jsonCT,
		body: `{"clientId":"` + strings.Repeat("a", api.DefaultMaxBody) + `"}`, status: 413})
	d.do(t, exchange{name: "list clients", method: "GET", path: "/internal/clients", strict: true, header: key, status: 200})
	d.do(t, exchange{name: "delete client", method: "DELETE", path: "/internal/clients/bare", strict: true, header: key, status: 204})
	d.do(t, exchange{name: "delete missing client", method: "DELETE", path: "/internal/clients/bare", strict: true, header: key, status: 404})
	d.do(t, exchange{name: "token of a deleted client", method: "POST", path: "/connect/token", strict: true, contentType: form,
		body: "grant_type=client_credentials&client_id=bare&client_secret=bare-secret-0123456789", status: 401})
	d.do(t, exchange{name: "create user", method: "POST", path: "/internal/users", strict: true, header: key, contentType: jsonCT,
		body: `{"username":"alice","password":"Correct-Horse-9","roles":["viewer","developer"],"tenant":"t1"}`, status: 201})
	d.do(t, exchange{name: "create user weak password", method: "POST", path: "/internal/users", strict: true, header: key, contentType: jsonCT,
		body: `{"username":"bob","password":"short","roles":["viewer"]}`, status: 400})
	d.do(t, exchange{name: "list users", method: "GET", path: "/internal/users", strict: true, header: key, status: 200})
	d.do(t, exchange{name: "delete user", method: "DELETE", path: "/internal/users/alice", strict: true, header: key, status: 204})
	d.do(t, exchange{name: "delete missing user", method: "DELETE", path: "/internal/users/alice", strict: true, header: key, status: 404})
	d.do(t, exchange{name: "audit page", method: "GET", path: "/internal/audit?after=0&limit=2", strict: true, header: key, status: 200,
		check: func(t *testing.T, _ *http.Response, b []byte) {
			var p struct {
				Events []authority.AuditEvent `json:"events"`
				Next   *int64                 `json:"next"`
			}
			decodeInto(t, b, &p)
			if len(p.Events) != 2 || p.Next == nil || *p.Next != p.Events[1].Seq {
				t.Errorf("audit page: %s", b)
			}
		}})
	d.do(t, exchange{name: "audit all", method: "GET", path: "/internal/audit?limit=1000", strict: true, header: key, status: 200})
	d.do(t, exchange{name: "audit bad limit", method: "GET", path: "/internal/audit?limit=0", header: key, status: 400})

	// Platform.
	d.do(t, exchange{name: "healthz", method: "GET", path: "/healthz", strict: true, status: 200})
	d.do(t, exchange{name: "healthz head", method: "HEAD", path: "/healthz", status: 200})
	d.do(t, exchange{name: "readyz", method: "GET", path: "/readyz", strict: true, status: 200})
	d.do(t, exchange{name: "version", method: "GET", path: "/version", strict: true, status: 200})
	d.do(t, exchange{name: "metrics", method: "GET", path: "/metrics", strict: true, status: 200,
		check: func(t *testing.T, _ *http.Response, b []byte) {
			if !strings.Contains(string(b), "stellaops_http_requests_total") {
				t.Error("metrics lack stellaops_http_requests_total")
			}
		}})
	d.do(t, exchange{name: "metrics protobuf", method: "GET", path: "/metrics", strict: true, status: 200,
		header: map[string]string{"Accept": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"},
		check: func(t *testing.T, resp *http.Response, _ []byte) {
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.google.protobuf") {
				t.Errorf("metrics content type %q", resp.Header.Get("Content-Type"))
			}
		}})
	d.do(t, exchange{name: "openapi json", method: "GET", path: "/openapi/v1.json", strict: true, status: 200})
	d.do(t, exchange{name: "openapi yaml", method: "GET", path: "/openapi/v1.yaml", strict: true, status: 200})
	d.do(t, exchange{name: "unknown route", method: "GET", path: "/no/such/route", status: 404})
	d.do(t, exchange{name: "unknown method", method: "DELETE", path: "/connect/token", status: 405,
		check: func(t *testing.T, resp *http.Response, _ []byte) {
			if resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
		}})

	// Not ready.
	down := newEnv(t, "https://authority.test", func(c *api.Config) {
		c.Ready = func(context.Context) error { return errors.New("store down") }
	})
	newDriver(t, v, down.http).do(t, exchange{name: "readyz down", method: "GET", path: "/readyz", status: 503})

	// The anonymous fallback.
	anon := newEnv(t, "https://authority.test", func(c *api.Config) { c.AllowAnonymousFallback = true })
	newDriver(t, v, anon.http).do(t, exchange{name: "anonymous quota", method: "GET", path: "/api/v1/quota", strict: true, status: 200})

	// Rate limits: one request per second on a frozen clock.
	rl := newRateLimitedServer(t)
	rd := newDriver(t, v, rl.http)
	rlTok, _ := rl.tokenWith(t, "rl", authority.AllScopes())
	rd.do(t, exchange{name: "rate ok", method: "GET", path: "/api/v1/quota", header: bearer(rlTok), status: 200, tokenExpires: true})
	rd.do(t, exchange{name: "rate limited", method: "GET", path: "/api/v1/quota", header: bearer(rlTok), status: 429, tokenExpires: true,
		check: func(t *testing.T, resp *http.Response, _ []byte) {
			if resp.Header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
		}})
	rd.do(t, exchange{name: "token endpoint ok", method: "POST", path: "/connect/token", contentType: form, body: "grant_type=password", status: 401})
	rd.do(t, exchange{name: "token endpoint limited", method: "POST", path: "/connect/token", contentType: form, body: "grant_type=password", status: 429})

	// Every operation was exercised.
	seen := map[string]bool{}
	for h := range v.Coverage() {
		seen[h.OperationID] = true
	}
	platform := platformPaths(t)
	for _, h := range v.Documented() {
		if !seen[h.OperationID] && platform[h.Path] {
			t.Errorf("operation %s (%s %s) was never called", h.OperationID, h.Method, h.Path)
			seen[h.OperationID] = true
		}
	}
	if testing.Verbose() {
		var un []string
		for _, h := range v.Uncovered() {
			un = append(un, h.String())
		}
		t.Logf("documented responses not exercised (%d):\n%s", len(un), strings.Join(un, "\n"))
	}
}

// newRateLimitedServer is newEnv with a rate limit of one request per second.
func newRateLimitedServer(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "authority.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	auth, err := authority.New(st, authority.Config{Issuer: "https://authority.test", Argon2: cheap, KeyDir: filepath.Join(dir, "keys"), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.EnsureSigningKey(ctx, authority.AlgES256); err != nil {
		t.Fatal(err)
	}
	lim, err := quota.New(memstore.New(clk.Now), quota.Config{Now: clk.Now, RatePerSecond: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{BootstrapKey: bootstrapKey, Now: clk.Now}, auth, lim, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{srv: srv, http: hs, auth: auth, store: st, dir: dir, clk: clk}
}
