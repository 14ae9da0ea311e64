// Package apitest checks a test's HTTP traffic against the OpenAPI document of internal/api:
// a Validator wraps a client's transport, finds the documented operation of every request and
// fails the test when the response (status, headers, content type, body) does not match the
// document, or when the request went to a route the document does not have.
//
//	v := apitest.Default(t)
//	c := &http.Client{Transport: v.Transport(t, http.DefaultTransport, apitest.Options{})}
//	… drive the server with c …
//	t.Log(v.Uncovered())
//
// Responses are validated, not authentication: security requirements are never checked.
package apitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/stellaops/stellaops/internal/api"
)

// Responses of the document (components/responses) that answer requests no route matched.
const (
	// NoRouteResponse is the 404 of a path outside the document.
	NoRouteResponse = "NoRoute"
	// MethodNotAllowedResponse is the 405 of a documented path with another method.
	MethodNotAllowedResponse = "MethodNotAllowed"
)

// Unmatched is the Path of a Hit whose request matched no documented path or method.
const Unmatched = "(unmatched)"

// Hit is one (operation, status) pair.
type Hit struct {
	// OperationID is empty for Unmatched requests.
	OperationID string
	Method      string
	// Path is the document's path template ("/internal/users/{username}"), or Unmatched.
	Path   string
	Status int
}

func (h Hit) String() string {
	return fmt.Sprintf("%s %s %d (%s)", h.Method, h.Path, h.Status, h.OperationID)
}

// Options tune a validating transport.
type Options struct {
	// ValidateRequests validates requests too (parameters and body, not security) and fails
	// the test on an invalid one. Leave it off for tests that send bad requests on purpose.
	ValidateRequests bool
}

// Validator validates exchanges against one OpenAPI document and records what it saw. It is
// safe for concurrent use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen map[Hit]int
}

// New loads and validates an OpenAPI 3 document (YAML or JSON). Its servers are ignored:
// requests to any host match.
func New(spec []byte) (*Validator, error) {
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("apitest: load document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("apitest: invalid document: %w", err)
	}
	for _, name := range []string{NoRouteResponse, MethodNotAllowedResponse} {
		if doc.Components == nil || doc.Components.Responses[name] == nil {
			return nil, fmt.Errorf("apitest: the document has no components/responses/%s", name)
		}
	}
	doc.Servers = nil
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("apitest: router: %w", err)
	}
	return &Validator{doc: doc, router: r, seen: map[Hit]int{}}, nil
}

// Default returns a Validator of the server's embedded document (api.OpenAPIYAML), failing t
// if it does not load.
func Default(t testing.TB) *Validator {
	t.Helper()
	v, err := New(api.OpenAPIYAML())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ValidatingTransport wraps base (nil means http.DefaultTransport) so that every response
// passing through is validated against the server's embedded document; mismatches fail t.
func ValidatingTransport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	t.Helper()
	return Default(t).Transport(t, base, Options{})
}

// Doc returns the loaded document.
func (v *Validator) Doc() *openapi3.T { return v.doc }

// Transport wraps base (nil means http.DefaultTransport): every exchange through it is
// checked with Check, and an error fails t (t.Errorf with method, path, status and the
// validation error; the response is still returned to the caller).
func (v *Validator) Transport(t testing.TB, base http.RoundTripper, opts Options) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{t: t, v: v, base: base, opts: opts}
}

type transport struct {
	t    testing.TB
	v    *Validator
	base http.RoundTripper
	opts Options
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
	}
	out := req.Clone(req.Context())
	out.Body, out.GetBody = bodyOf(reqBody), func() (io.ReadCloser, error) { return bodyOf(reqBody), nil }
	if tr.opts.ValidateRequests {
		if err := tr.v.CheckRequest(req.Clone(req.Context()), reqBody); err != nil {
			tr.t.Errorf("apitest: request %s %s: %v", req.Method, req.URL.RequestURI(), err)
		}
	}
	resp, err := tr.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return resp, err
	}
	if err := tr.v.Check(req, resp.StatusCode, resp.Header, body); err != nil {
		tr.t.Errorf("apitest: %s %s → %d: %v\nresponse headers: %v\nresponse body: %s", req.Method, req.URL.RequestURI(), resp.StatusCode, err,
			resp.Header, truncate(body))
	}
	return resp, nil
}

func bodyOf(b []byte) io.ReadCloser {
	if b == nil {
		return http.NoBody
	}
	return io.NopCloser(bytes.NewReader(b))
}

func truncate(b []byte) string {
	const max = 2048
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// find locates the documented operation of req. HEAD requests use the GET operation.
func (v *Validator) find(req *http.Request) (*routers.Route, map[string]string, error) {
	if req.Method == http.MethodHead {
		req = req.Clone(req.Context())
		req.Method = http.MethodGet
	}
	return v.router.FindRoute(req)
}

// CheckRequest validates a request (parameters and body, not security) against its
// documented operation. body is the request's body, which replaces req.Body.
func (v *Validator) CheckRequest(req *http.Request, body []byte) error {
	route, params, err := v.find(req)
	if err != nil {
		return fmt.Errorf("no documented operation: %w", err)
	}
	req.Body = bodyOf(body)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: &openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true, SkipSettingDefaults: true,
		RejectWhenRequestBodyNotSpecified: true}}
	return openapi3filter.ValidateRequest(req.Context(), in)
}

// Check validates one response (status, headers, content type and body) to req against the
// document, and records the Hit. A request to a path outside the document is an error unless
// the server answered it with the document's NoRoute 404; an undocumented method of a
// documented path, unless with its MethodNotAllowed 405.
func (v *Validator) Check(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := v.find(req)
	hit := Hit{Method: req.Method, Path: Unmatched, Status: status}
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		v.record(hit)
		if status != http.StatusNotFound {
			return fmt.Errorf("the path is not in the document, yet the server answered %d", status)
		}
		route, params = v.unmatched(req, NoRouteResponse, status)
	case errors.Is(err, routers.ErrMethodNotAllowed):
		v.record(hit)
		if status != http.StatusMethodNotAllowed {
			return fmt.Errorf("the method is not documented for the path, yet the server answered %d", status)
		}
		route, params = v.unmatched(req, MethodNotAllowedResponse, status)
	case err != nil:
		v.record(hit)
		return fmt.Errorf("finding the operation: %w", err)
	default:
		v.record(Hit{OperationID: route.Operation.OperationID, Method: req.Method, Path: route.Path, Status: status})
	}

	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	vreq := req
	if req.Method == http.MethodHead {
		// kin-openapi skips HEAD responses entirely; check their headers as GET's.
		vreq = req.Clone(req.Context())
		vreq.Method = http.MethodGet
		opts.ExcludeResponseBody = true
		if len(body) > 0 {
			return errors.New("a HEAD response has a body")
		}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts},
		Status:                 status,
		Header:                 header,
		Options:                opts,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		return err
	}
	if ref := route.Operation.Responses.Status(status); ref != nil && ref.Value != nil && len(ref.Value.Content) == 0 && len(body) > 0 {
		return fmt.Errorf("the document describes no body for %d, yet the response has %d bytes", status, len(body))
	}
	return nil
}

// unmatched builds a route whose only response is the document's components/responses/name.
func (v *Validator) unmatched(req *http.Request, name string, status int) (*routers.Route, map[string]string) {
	op := openapi3.NewOperation()
	op.Responses = openapi3.NewResponses()
	op.Responses.Delete("default")
	op.Responses.Set(strconv.Itoa(status), v.doc.Components.Responses[name])
	return &routers.Route{Spec: v.doc, Path: req.URL.Path, Method: req.Method, Operation: op}, map[string]string{}
}

func (v *Validator) record(h Hit) {
	v.mu.Lock()
	v.seen[h]++
	v.mu.Unlock()
}

// Coverage returns how often each (operation, status) pair was seen.
func (v *Validator) Coverage() map[Hit]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[Hit]int, len(v.seen))
	for h, n := range v.seen {
		out[h] = n
	}
	return out
}

// Documented lists every (operation, status) pair of the document, sorted by path, method
// and status. A "default" response is left out.
func (v *Validator) Documented() []Hit {
	var out []Hit
	for path, item := range v.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code := range op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil {
					continue
				}
				out = append(out, Hit{OperationID: op.OperationID, Method: method, Path: path, Status: status})
			}
		}
	}
	sortHits(out)
	return out
}

// Uncovered lists the documented (operation, status) pairs not seen yet.
func (v *Validator) Uncovered() []Hit {
	seen := v.Coverage()
	var out []Hit
	for _, h := range v.Documented() {
		if seen[h] == 0 {
			out = append(out, h)
		}
	}
	return out
}

func sortHits(hs []Hit) {
	slices.SortFunc(hs, func(a, b Hit) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		if c := strings.Compare(a.Method, b.Method); c != 0 {
			return c
		}
		return a.Status - b.Status
	})
}
