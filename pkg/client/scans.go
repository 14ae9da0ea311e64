package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ScanSummary counts findings per severity (API spec §2.1).
type ScanSummary struct {
	Critical int `json:"Critical"`
	High     int `json:"High"`
	Medium   int `json:"Medium"`
	Low      int `json:"Low"`
	Unknown  int `json:"Unknown"`
}

// ScanPolicyRef says what decided a policy status: "active" (with the revision) or
// "threshold" (no active policy: blocked when a finding reaches the threshold).
type ScanPolicyRef struct {
	Source     string `json:"source"`
	RevisionID string `json:"revisionId,omitempty"`
	Digest     string `json:"digest,omitempty"`
	Threshold  string `json:"threshold"`
}

// ScanQuota is the `quota` object of POST /scan answers.
type ScanQuota struct {
	Limit     int       `json:"limit"`
	Remaining int       `json:"remaining"`
	Reset     time.Time `json:"reset"`
	DelayedMs int64     `json:"delayedMs"`
}

// ScanCompleted is POST /scan's 200 answer.
type ScanCompleted struct {
	ScanID       string        `json:"scanId"`
	Digest       string        `json:"digest"`
	Summary      ScanSummary   `json:"summary"`
	PolicyStatus string        `json:"policyStatus"`
	Policy       ScanPolicyRef `json:"policy"`
	Snapshot     string        `json:"snapshot"`
	Findings     int           `json:"findings"`
	Location     string        `json:"location"`
	Quota        ScanQuota     `json:"quota"`
}

// ScanAccepted is a 202: a queued scan, or a POST /scan that outlasted the sync budget.
type ScanAccepted struct {
	ScanID   string     `json:"scanId"`
	Status   string     `json:"status"`
	Location string     `json:"location"`
	Created  bool       `json:"created"`
	Quota    *ScanQuota `json:"quota,omitempty"`
}

// ScanUploadOptions are POST /scan's query and headers.
type ScanUploadOptions struct {
	// Threshold is low, medium, high or critical ("" is the server's default, critical).
	Threshold string
	// SBOMOnly asks for the fast path: the body must be an SBOM.
	SBOMOnly bool
	// SBOMType is X-Stella-Sbom-Type ("" detects).
	SBOMType string
	// ContentType of the body ("" sends application/octet-stream).
	ContentType string
}

// ScanUploadResult is POST /scan's answer: Completed (200) or Accepted (202).
type ScanUploadResult struct {
	Completed *ScanCompleted
	Accepted  *ScanAccepted
}

// ScanUpload posts body (an SBOM, an image archive, or an upload URL as text/uri-list) to
// POST /scan. The body is streamed.
func (c *Client) ScanUpload(ctx context.Context, body io.Reader, o ScanUploadOptions) (ScanUploadResult, *Response, error) {
	q := url.Values{}
	if o.Threshold != "" {
		q.Set("threshold", o.Threshold)
	}
	if o.SBOMOnly {
		q.Set("sbom-only", "true")
	}
	ct := o.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	hdr := http.Header{"Content-Type": {ct}}
	if o.SBOMType != "" {
		hdr.Set("X-Stella-Sbom-Type", o.SBOMType)
	}
	r, err := c.doWithHeaders(ctx, http.MethodPost, "/scan", q, body, hdr)
	if err != nil {
		return ScanUploadResult{}, r, err
	}
	var out ScanUploadResult
	if r.StatusCode == http.StatusAccepted {
		out.Accepted = &ScanAccepted{}
		return out, r, decode(r, out.Accepted)
	}
	out.Completed = &ScanCompleted{}
	return out, r, decode(r, out.Completed)
}

// LayersMissing asks which of the layer digests the server has no inventory for (§2.2).
func (c *Client) LayersMissing(ctx context.Context, layers []string) ([]string, error) {
	if layers == nil {
		layers = []string{}
	}
	var out struct {
		Missing []string `json:"missing"`
	}
	_, err := c.sendJSON(ctx, http.MethodPost, "/layers/missing", map[string][]string{"layers": layers}, true, false, &out)
	return out.Missing, err
}

// ScanImage names an image by reference, digest or both.
type ScanImage struct {
	Reference string `json:"reference,omitempty"`
	Digest    string `json:"digest,omitempty"`
}

// ScanRequest is the body of POST /api/v1/scans (§2.4).
type ScanRequest struct {
	Image           ScanImage         `json:"image"`
	Force           bool              `json:"force,omitempty"`
	ClientRequestID string            `json:"clientRequestId,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
}

// EnqueueScan queues a scan. An identical request returns the same scan, Created false.
func (c *Client) EnqueueScan(ctx context.Context, req ScanRequest) (ScanAccepted, *Response, error) {
	var out ScanAccepted
	r, err := c.sendJSON(ctx, http.MethodPost, "/api/v1/scans", req, true, false, &out)
	return out, r, err
}

// ScanOutcome is what a succeeded scan found.
type ScanOutcome struct {
	Digest       string          `json:"digest"`
	Target       json.RawMessage `json:"target"`
	Summary      ScanSummary     `json:"summary"`
	PolicyStatus string          `json:"policyStatus"`
	Policy       ScanPolicyRef   `json:"policy"`
	Snapshot     string          `json:"snapshot"`
	Findings     int             `json:"findings"`
	Components   int             `json:"components"`
	Notes        []string        `json:"notes"`
}

// ScanStatus is a scan (§2.5).
type ScanStatus struct {
	ScanID string `json:"scanId"`
	// Status is Pending, Running, Succeeded, Failed or Cancelled.
	Status string `json:"status"`
	Image  struct {
		Reference *string `json:"reference"`
		Digest    *string `json:"digest"`
	} `json:"image"`
	CreatedAt     time.Time    `json:"createdAt"`
	UpdatedAt     time.Time    `json:"updatedAt"`
	FailureReason *string      `json:"failureReason"`
	Kind          string       `json:"kind"`
	Run           int          `json:"run"`
	Attempt       int          `json:"attempt"`
	StartedAt     *time.Time   `json:"startedAt"`
	FinishedAt    *time.Time   `json:"finishedAt"`
	Result        *ScanOutcome `json:"result"`
	Links         struct {
		Self   string `json:"self"`
		Events string `json:"events"`
		Result string `json:"result"`
	} `json:"links"`
}

// Terminal reports whether the scan's run has ended.
func (s ScanStatus) Terminal() bool {
	return s.Status == "Succeeded" || s.Status == "Failed" || s.Status == "Cancelled"
}

// Scan returns a scan's status.
func (c *Client) Scan(ctx context.Context, id string) (ScanStatus, error) {
	var out ScanStatus
	_, err := c.getJSON(ctx, "/api/v1/scans/"+url.PathEscape(id), nil, true, false, &out)
	return out, err
}

// CancelScan cancels a pending or running scan.
func (c *Client) CancelScan(ctx context.Context, id string) (ScanStatus, error) {
	var out ScanStatus
	_, err := c.sendJSON(ctx, http.MethodPost, "/api/v1/scans/"+url.PathEscape(id)+"/cancel", nil, true, false, &out)
	return out, err
}

// ScanResult returns a succeeded scan's result document (stellaops.scan-result/v1).
func (c *Client) ScanResult(ctx context.Context, id string) (json.RawMessage, error) {
	r, err := c.getJSON(ctx, "/api/v1/scans/"+url.PathEscape(id)+"/result", nil, true, false, nil)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(r.Body), nil
}

// WaitScan polls a scan every interval until its run ends or ctx does.
func (c *Client) WaitScan(ctx context.Context, id string, interval time.Duration) (ScanStatus, error) {
	for {
		s, err := c.Scan(ctx, id)
		if err != nil || s.Terminal() {
			return s, err
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(interval):
		}
	}
}

// ScanEvent is one progress frame (§2.6).
type ScanEvent struct {
	ScanID        string          `json:"scanId"`
	Sequence      int64           `json:"sequence"`
	State         string          `json:"state"`
	Message       string          `json:"message"`
	Timestamp     string          `json:"timestamp"`
	CorrelationID string          `json:"correlationId"`
	Data          json.RawMessage `json:"data"`
	// SSEEvent and SSEID are the SSE frame's event and id fields (empty for JSON lines).
	SSEEvent string `json:"-"`
	SSEID    string `json:"-"`
}

// ScanEventsOptions choose the stream's format and where it resumes.
type ScanEventsOptions struct {
	// Format is "sse" (default) or "jsonl".
	Format string
	// After resumes after this sequence.
	After int64
}

// ErrStopStream may be returned by a ScanEvents callback to end the stream without error.
var ErrStopStream = errors.New("client: stop stream")

// maxEventLine bounds one line of an event stream.
const maxEventLine = 1 << 20

// ScanEvents streams a scan's events to fn until the stream ends (the scan's run ended), fn
// returns an error (ErrStopStream ends it quietly), or ctx ends. It returns the response's
// headers with the first error.
func (c *Client) ScanEvents(ctx context.Context, id string, o ScanEventsOptions, fn func(ScanEvent) error) (http.Header, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + "/api/v1/scans/" + url.PathEscape(id) + "/events"
	q := url.Values{}
	if o.Format != "" {
		q.Set("format", o.Format)
	}
	if o.After > 0 {
		q.Set("after", strconv.FormatInt(o.After, 10))
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	accept := "text/event-stream"
	if o.Format == "jsonl" {
		accept = "application/x-ndjson"
	}
	req.Header.Set("Accept", accept+", application/problem+json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != nil {
		tok, err := c.token(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: token: %w", err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: GET events: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		return resp.Header, decodeError(&Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: b})
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxEventLine)
	var ev ScanEvent
	var data []byte
	deliver := func(line []byte) error {
		ev = ScanEvent{SSEEvent: ev.SSEEvent, SSEID: ev.SSEID}
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("client: event frame: %w", err)
		}
		err := fn(ev)
		ev = ScanEvent{}
		return err
	}
	for sc.Scan() {
		line := sc.Bytes()
		var err error
		if o.Format == "jsonl" {
			if len(bytes.TrimSpace(line)) > 0 {
				err = deliver(line)
			}
		} else {
			switch {
			case len(line) == 0: // end of an SSE event
				if data != nil {
					err = deliver(data)
					data = nil
				}
			case line[0] == ':': // comment (keep-alive)
			default:
				field, value, _ := bytes.Cut(line, []byte(":"))
				value = bytes.TrimPrefix(value, []byte(" "))
				switch string(field) {
				case "data":
					data = append(data[:len(data):len(data)], value...)
				case "event":
					ev.SSEEvent = string(value)
				case "id":
					ev.SSEID = string(value)
				}
			}
		}
		if errors.Is(err, ErrStopStream) {
			return resp.Header, nil
		}
		if err != nil {
			return resp.Header, err
		}
	}
	if err := sc.Err(); err != nil {
		return resp.Header, fmt.Errorf("client: events: %w", err)
	}
	return resp.Header, nil
}

// doWithHeaders is do for requests that carry headers of their own (POST /scan's
// X-Stella-Sbom-Type), with the client's token.
func (c *Client) doWithHeaders(ctx context.Context, method, path string, q url.Values, body io.Reader, hdr http.Header) (*Response, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != nil {
		tok, err := c.token(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: token: %w", err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: read body: %w", method, path, err)
	}
	if len(b) > maxResponse {
		return nil, fmt.Errorf("client: %s %s: response larger than %d bytes", method, path, maxResponse)
	}
	r := &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: b}
	if resp.StatusCode >= 300 {
		return r, decodeError(r)
	}
	return r, nil
}
