// Package client is a typed Go client of the StellaOps API, used by the CLIs and by the
// integration tests. It defines its own wire types so that programs outside this module can
// use it without reaching into internal packages.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one StellaOps server.
type Client struct {
	base *url.URL
	hc   *http.Client
	// token returns the bearer token of a request; nil sends none.
	token func(ctx context.Context) (string, error)
	// bootstrapKey is sent on /internal/* calls.
	bootstrapKey string
	userAgent    string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithToken sends a fixed bearer token.
func WithToken(tok string) Option {
	return func(c *Client) { c.token = func(context.Context) (string, error) { return tok, nil } }
}

// WithTokenSource sends the token f returns (e.g. a cached, refreshed client_credentials token).
func WithTokenSource(f func(ctx context.Context) (string, error)) Option {
	return func(c *Client) { c.token = f }
}

// WithBootstrapKey sets the bootstrap key of the /internal/* admin API.
func WithBootstrapKey(k string) Option { return func(c *Client) { c.bootstrapKey = k } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the server at baseURL (e.g. http://localhost:8080).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q must be http(s)://host[:port]", baseURL)
	}
	c := &Client{base: u, hc: http.DefaultClient, userAgent: "stellaops-client"}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// With returns a copy of c with more options (another token, say).
func (c *Client) With(opts ...Option) *Client {
	cp := *c
	for _, o := range opts {
		o(&cp)
	}
	return &cp
}

// Error is a non-2xx answer: an RFC 7807 problem, or an RFC 6749 OAuth error from the token
// endpoint (Code set).
type Error struct {
	StatusCode int
	Type       string `json:"type"`
	Title      string `json:"title"`
	Status     int    `json:"status"`
	Detail     string `json:"detail"`
	TraceID    string `json:"traceId"`
	// Code and Description are the OAuth2 error fields.
	Code        string `json:"error"`
	Description string `json:"error_description"`
	// RetryAfter is the Retry-After header of 429 and 503 answers.
	RetryAfter time.Duration
	// Errors are field errors of validation problems.
	Errors []FieldError `json:"errors"`
}

// FieldError locates one validation error.
type FieldError struct {
	Path string `json:"path"`
	Msg  string `json:"msg"`
}

func (e *Error) Error() string {
	msg := e.Message()
	if e.TraceID != "" {
		return fmt.Sprintf("HTTP %d: %s (trace %s)", e.StatusCode, msg, e.TraceID)
	}
	return fmt.Sprintf("HTTP %d: %s", e.StatusCode, msg)
}

// Message is what the server said: the problem's detail, else the OAuth error description,
// else the title, after the OAuth error code when there is one.
func (e *Error) Message() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Description
	}
	if msg == "" {
		msg = e.Title
	}
	if e.Code != "" {
		msg = e.Code + ": " + msg
	}
	return msg
}

// IsStatus reports whether err is an *Error with the given status code.
func IsStatus(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == code
}

// maxResponse bounds what the client reads of a response body.
const maxResponse = 64 << 20

// request is one call.
type request struct {
	method, path string
	query        url.Values
	body         io.Reader
	contentType  string
	auth         bool // send the bearer token
	bootstrap    bool // send the bootstrap key
	basicUser    string
	basicPass    string
	basic        bool
}

// Response is a raw answer, for callers that need headers (quota) or the status.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

func (c *Client) do(ctx context.Context, rq request) (*Response, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + rq.path
	if rq.query != nil {
		u.RawQuery = rq.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, u.String(), rq.body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if rq.contentType != "" {
		req.Header.Set("Content-Type", rq.contentType)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.userAgent)
	if rq.auth && c.token != nil {
		tok, err := c.token(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: token: %w", err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	if rq.bootstrap {
		req.Header.Set("X-StellaOps-Bootstrap-Key", c.bootstrapKey)
	}
	if rq.basic {
		req.SetBasicAuth(url.QueryEscape(rq.basicUser), url.QueryEscape(rq.basicPass))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", rq.method, rq.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: read body: %w", rq.method, rq.path, err)
	}
	if len(body) > maxResponse {
		return nil, fmt.Errorf("client: %s %s: response larger than %d bytes", rq.method, rq.path, maxResponse)
	}
	r := &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}
	if resp.StatusCode >= 300 {
		return r, decodeError(r)
	}
	return r, nil
}

func decodeError(r *Response) error {
	e := &Error{StatusCode: r.StatusCode}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" || mt == "application/problem+json" {
		_ = json.Unmarshal(r.Body, e)
	}
	if e.Title == "" && e.Detail == "" && e.Code == "" {
		e.Detail = strings.TrimSpace(string(r.Body))
		if len(e.Detail) > 200 {
			e.Detail = e.Detail[:200]
		}
	}
	if s := r.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}

// getJSON and postJSON are the common shapes.
func (c *Client) getJSON(ctx context.Context, path string, q url.Values, auth, bootstrap bool, out any) (*Response, error) {
	r, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q, auth: auth, bootstrap: bootstrap})
	if err != nil {
		return r, err
	}
	return r, decode(r, out)
}

func (c *Client) sendJSON(ctx context.Context, method, path string, in any, auth, bootstrap bool, out any) (*Response, error) {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("client: encode %s body: %w", path, err)
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	r, err := c.do(ctx, request{method: method, path: path, body: body, contentType: ct, auth: auth, bootstrap: bootstrap})
	if err != nil {
		return r, err
	}
	return r, decode(r, out)
}

func decode(r *Response, out any) error {
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.Body, out); err != nil {
		return fmt.Errorf("client: decode response: %w", err)
	}
	return nil
}

// Raw sends an arbitrary request with the client's token, for endpoints without a typed
// method. A non-2xx answer is returned as *Error together with the response.
func (c *Client) Raw(ctx context.Context, method, path string, q url.Values, contentType string, body io.Reader) (*Response, error) {
	return c.do(ctx, request{method: method, path: path, query: q, body: body, contentType: contentType, auth: true})
}
