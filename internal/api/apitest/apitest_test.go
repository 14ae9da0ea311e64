package apitest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/stellaops/internal/api/apitest"
)

const spec = `
openapi: 3.0.3
info: {title: t, version: "1"}
servers: [{url: "https://api.example.com/v9"}]
paths:
  /things/{id}:
    get:
      operationId: getThing
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        '200':
          description: ok
          headers:
            X-Trace-Id: {required: true, schema: {type: string, pattern: '^t-'}}
          content:
            application/json:
              schema:
                type: object
                additionalProperties: false
                required: [id]
                properties: {id: {type: string}}
        '204': {description: nothing}
  /things:
    post:
      operationId: createThing
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [name], properties: {name: {type: string}}}
      responses:
        '201': {description: created}
components:
  responses:
    NoRoute:
      description: no route
      content:
        application/problem+json:
          schema: {type: object, required: [status], properties: {status: {type: integer}}}
    MethodNotAllowed:
      description: bad method
      headers:
        Allow: {required: true, schema: {type: string}}
`

// recorder is a testing.TB that collects Errorf calls instead of failing.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.errs
	r.errs = nil
	return e
}

// fake answers with what the request's X-Answer header says: "status|content-type|body",
// plus a valid X-Trace-Id unless X-No-Trace is set.
func fake(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(r.Header.Get("X-Answer"), "|", 3)
	if r.Header.Get("X-No-Trace") == "" {
		w.Header().Set("X-Trace-Id", "t-1")
	}
	if r.Header.Get("X-Allow") != "" {
		w.Header().Set("Allow", r.Header.Get("X-Allow"))
	}
	if parts[1] != "" {
		w.Header().Set("Content-Type", parts[1])
	}
	var status int
	_, _ = fmt.Sscan(parts[0], &status)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(parts[2]))
}

func TestTransport(t *testing.T) {
	v, err := apitest.New([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(fake))
	defer hs.Close()
	rec := &recorder{TB: t}
	lax := &http.Client{Transport: v.Transport(rec, hs.Client().Transport, apitest.Options{})}
	strict := &http.Client{Transport: v.Transport(rec, hs.Client().Transport, apitest.Options{ValidateRequests: true})}

	cases := []struct {
		name, method, path, answer, body string
		header                           map[string]string
		strict                           bool
		wantErr                          string // "" means valid
	}{
		{name: "valid", method: "GET", path: "/things/1", answer: `200|application/json|{"id":"1"}`},
		{name: "valid with charset", method: "GET", path: "/things/1", answer: `200|application/json; charset=utf-8|{"id":"1"}`},
		{name: "no content", method: "GET", path: "/things/1", answer: `204||`},
		{name: "head", method: "HEAD", path: "/things/1", answer: `200|application/json|`},
		{name: "head without trace", method: "HEAD", path: "/things/1", answer: `200|application/json|`, header: map[string]string{"X-No-Trace": "1"}, wantErr: `"X-Trace-Id" missing`},
		{name: "extra field", method: "GET", path: "/things/1", answer: `200|application/json|{"id":"1","x":2}`, wantErr: "doesn't match schema"},
		{name: "wrong type", method: "GET", path: "/things/1", answer: `200|application/json|{"id":1}`, wantErr: "doesn't match schema"},
		{name: "not json", method: "GET", path: "/things/1", answer: `200|application/json|{`, wantErr: "failed to decode"},
		{name: "content type", method: "GET", path: "/things/1", answer: `200|text/plain|{"id":"1"}`, wantErr: "Content-Type"},
		{name: "missing header", method: "GET", path: "/things/1", answer: `200|application/json|{"id":"1"}`, header: map[string]string{"X-No-Trace": "1"}, wantErr: `"X-Trace-Id" missing`},
		{name: "undocumented status", method: "GET", path: "/things/1", answer: `500|text/plain|boom`, wantErr: "status is not supported"},
		{name: "body where none is documented", method: "POST", path: "/things", body: `{"name":"a"}`, answer: `201|text/plain|x`, wantErr: "describes no body"},
		{name: "unknown path 404", method: "GET", path: "/nope", answer: `404|application/problem+json|{"status":404}`},
		{name: "unknown path 404 bad body", method: "GET", path: "/nope", answer: `404|application/problem+json|{}`, wantErr: "doesn't match schema"},
		{name: "unknown path 200", method: "GET", path: "/nope", answer: `200|application/json|{}`, wantErr: "not in the document"},
		{name: "bad method 405", method: "DELETE", path: "/things/1", answer: `405||`, header: map[string]string{"X-Allow": "GET, HEAD"}},
		{name: "bad method 405 without Allow", method: "DELETE", path: "/things/1", answer: `405||`, wantErr: `"Allow" missing`},
		{name: "bad method 200", method: "DELETE", path: "/things/1", answer: `200||`, wantErr: "method is not documented"},
		{name: "valid request", method: "POST", path: "/things", body: `{"name":"a"}`, answer: `201||`, strict: true},
		{name: "invalid request", method: "POST", path: "/things", body: `{"nom":"a"}`, answer: `201||`, strict: true, wantErr: "request body has an error"},
		{name: "invalid request, lax", method: "POST", path: "/things", body: `{"nom":"a"}`, answer: `201||`},
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, hs.URL+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Answer", c.answer)
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		cl := lax
		if c.strict {
			cl = strict
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		resp.Body.Close()
		errs := rec.take()
		switch {
		case c.wantErr == "" && len(errs) != 0:
			t.Errorf("%s: unexpected errors %q", c.name, errs)
		case c.wantErr != "" && (len(errs) != 1 || !strings.Contains(errs[0], c.wantErr)):
			t.Errorf("%s: errors %q, want one containing %q", c.name, errs, c.wantErr)
		case c.wantErr != "" && !strings.Contains(errs[0], c.method+" "+c.path):
			t.Errorf("%s: error %q does not name the request", c.name, errs[0])
		}
	}

	cov := v.Coverage()
	if cov[apitest.Hit{OperationID: "getThing", Method: "GET", Path: "/things/{id}", Status: 200}] == 0 ||
		cov[apitest.Hit{Method: "GET", Path: apitest.Unmatched, Status: 404}] == 0 {
		t.Fatalf("coverage %v", cov)
	}
	if got := fmt.Sprint(v.Uncovered()); got != "[]" {
		t.Fatalf("uncovered %s", got)
	}
	if n := len(v.Documented()); n != 3 {
		t.Fatalf("documented %v", v.Documented())
	}
}

func TestNewRefusesDocumentsWithoutUnmatchedResponses(t *testing.T) {
	if _, err := apitest.New([]byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n")); err == nil {
		t.Fatal("no error")
	}
	if _, err := apitest.New([]byte("openapi: 3.0.3\ninfo: {title: t}\npaths: {}\n")); err == nil {
		t.Fatal("an invalid document loaded")
	}
}

func TestDefaultLoadsTheServerDocument(t *testing.T) {
	if apitest.Default(t).Doc().Paths.Len() == 0 {
		t.Fatal("no paths")
	}
}
