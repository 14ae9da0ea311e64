package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/authority"
)

// TestJobsRoutesAreAudited: a /jobs* route is audited even if it does not ask to be, with
// subject, client, scopes, status and trace id.
func TestJobsRoutesAreAudited(t *testing.T) {
	e := newEnv(t, "https://authority.test", nil)
	err := e.srv.Handle(api.Route{Method: "POST", Path: "/jobs/{kind}", Scope: authority.ScopeConcelierTrigger,
		Handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }})
	if err != nil {
		t.Fatal(err)
	}
	tok, c := e.tokenWith(t, "ops", []string{authority.ScopeConcelierTrigger})
	resp, _ := e.call(t, "POST", "/jobs/merge:reconcile", map[string]string{"Authorization": "Bearer " + tok})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	denied, _ := e.call(t, "POST", "/jobs/export:json", nil)
	evs, err := e.store.Audit(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []authority.AuditEvent
	for _, ev := range evs {
		if ev.Type == "http.request" {
			got = append(got, ev)
		}
	}
	if len(got) != 2 {
		t.Fatalf("audit events %+v", got)
	}
	ok, fail := got[0], got[1]
	if ok.Subject != "ops" || ok.ClientID != c.ClientID || len(ok.Scopes) != 1 || ok.Status != 202 || ok.Outcome != "success" ||
		ok.TraceID != resp.Header.Get("X-Trace-Id") || ok.Detail != "POST /jobs/merge:reconcile" || ok.RemoteIP != "127.0.0.1" {
		t.Fatalf("success event %+v", ok)
	}
	if fail.Status != 401 || fail.Outcome != "failure" || fail.TraceID != denied.Header.Get("X-Trace-Id") {
		t.Fatalf("failure event %+v", fail)
	}
}

func TestBodyLimitsAndMalformedJSON(t *testing.T) {
	e := newEnv(t, "https://authority.test", nil)
	post := func(path, ct, body string) (*http.Response, []byte) {
		req, _ := http.NewRequest("POST", e.http.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set(api.HeaderBootstrapKey, bootstrapKey)
		resp, err := e.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := post("/internal/users", "application/json", `{"username":"x","password":"y","roles":["viewer"],"extra":1}`)
	assertProblem(t, resp, body, 400)
	resp, body = post("/internal/users", "application/json", `{"username":`)
	assertProblem(t, resp, body, 400)
	resp, body = post("/internal/users", "application/json", strings.Repeat("[", 100)+strings.Repeat("]", 100))
	assertProblem(t, resp, body, 400)
	resp, body = post("/internal/users", "text/plain", `{}`)
	assertProblem(t, resp, body, 415)
	resp, body = post("/internal/users", "application/json", `{"username":"`+strings.Repeat("a", 2<<20)+`"}`)
	assertProblem(t, resp, body, 413)
	// The token endpoint's form is bounded at 16 KiB.
	resp, body = post("/connect/token", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id="+strings.Repeat("a", 20<<10))
	assertProblem(t, resp, body, 413)
}

func TestTokenEndpointErrors(t *testing.T) {
	e := newEnv(t, "https://authority.test", nil)
	cases := []struct {
		name, ct, body, basic string
		status                int
		code                  string
	}{
		{"json body", "application/json", `{"grant_type":"client_credentials"}`, "", 400, "invalid_request"},
		{"no grant", "application/x-www-form-urlencoded", "client_id=a", "", 400, "invalid_request"},
		{"unknown client", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=a&client_secret=b", "", 401, "invalid_client"},
		{"basic wrong", "application/x-www-form-urlencoded", "grant_type=client_credentials", "a:b", 401, "invalid_client"},
		{"bad grant", "application/x-www-form-urlencoded", "grant_type=implicit&client_id=a", "", 400, "unsupported_grant_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.http.URL+"/connect/token", strings.NewReader(c.body))
			req.Header.Set("Content-Type", c.ct)
			if c.basic != "" {
				u, p, _ := strings.Cut(c.basic, ":")
				req.SetBasicAuth(u, p)
			}
			resp, err := e.http.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b struct {
				Error   string `json:"error"`
				Status  int    `json:"status"`
				TraceID string `json:"traceId"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&b)
			if resp.StatusCode != c.status || b.Error != c.code || b.Status != c.status || b.TraceID == "" {
				t.Fatalf("status %d body %+v", resp.StatusCode, b)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("headers %v", resp.Header)
			}
			if c.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// Credentials in the query string are refused: logs keep URLs.
	resp, err := e.http.Client().Post(e.http.URL+"/connect/token?client_secret=x", "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials&client_id=a"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("query parameters: %d", resp.StatusCode)
	}
}

// FuzzTokenEndpoint sends arbitrary bodies, content types and Authorization headers to the
// token endpoint through the whole middleware: the answer is never a 5xx, always JSON, and
// never a token unless the credentials are the real ones.
func FuzzTokenEndpoint(f *testing.F) {
	e := newEnv(f, "https://authority.test", nil)
	if _, _, err := e.auth.CreateClient(context.Background(), authority.NewClient{ID: "ci", Scopes: []string{"stella.api"}, Secret: "ci-secret-0123456789"}); err != nil {
		f.Fatal(err)
	}
	h := e.srv.Handler()
	f.Add("grant_type=client_credentials&client_id=ci&client_secret=ci-secret-0123456789", "application/x-www-form-urlencoded", "")
	f.Add("grant_type=password&username=a&password=b", "application/x-www-form-urlencoded; charset=utf-8", "Basic Y2k6Y2ktc2VjcmV0LTAxMjM0NTY3ODk=")
	f.Add("%zz", "application/x-www-form-urlencoded", "Bearer x")
	f.Add("{}", "application/json", "")
	f.Fuzz(func(t *testing.T, body, ct, authz string) {
		req := httptest.NewRequest("POST", "/connect/token", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("status %d for body %q ct %q authz %q: %s", w.Code, body, ct, authz, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("non-JSON answer %q", w.Body)
		}
		if w.Code == 200 {
			form, _ := url.ParseQuery(body)
			if !strings.Contains(body+authz, "ci-secret-0123456789") && !strings.Contains(authz, "Y2k6Y2ktc2VjcmV0LTAxMjM0NTY3ODk") && form.Get("client_secret") != "ci-secret-0123456789" {
				t.Fatalf("token issued without the secret: body %q authz %q", body, authz)
			}
		}
	})
}
