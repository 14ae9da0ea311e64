package api

import (
	"encoding/json"
	"net/http"
)

// Problem type URIs (RFC 7807 `type`). Clients branch on these, never on `title` or `detail`.
const (
	ProbBase            = "https://stella-ops.org/probs/"
	ProbValidation      = ProbBase + "validation"
	ProbUnauthorized    = ProbBase + "unauthorized"
	ProbForbidden       = ProbBase + "forbidden"
	ProbNotFound        = ProbBase + "not-found"
	ProbMethod          = ProbBase + "method-not-allowed"
	ProbConflict        = ProbBase + "conflict"
	ProbTooLarge        = ProbBase + "payload-too-large"
	ProbUnsupportedType = ProbBase + "unsupported-media-type"
	ProbRateLimited     = ProbBase + "rate-limited"
	ProbQuota           = ProbBase + "quota-exceeded"
	ProbUnavailable     = ProbBase + "unavailable"
	ProbInternal        = ProbBase + "internal"
)

// Problem is an RFC 7807 problem details object with the trace id of the request.
type Problem struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Status  int    `json:"status"`
	Detail  string `json:"detail,omitempty"`
	TraceID string `json:"traceId"`
	// Errors lists field errors of validation problems.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError locates one validation error.
type FieldError struct {
	Path string `json:"path"`
	Msg  string `json:"msg"`
}

var titles = map[string]string{
	ProbValidation:      "Invalid request",
	ProbUnauthorized:    "Unauthorized",
	ProbForbidden:       "Forbidden",
	ProbNotFound:        "Not found",
	ProbMethod:          "Method not allowed",
	ProbConflict:        "Conflict",
	ProbTooLarge:        "Payload too large",
	ProbUnsupportedType: "Unsupported media type",
	ProbRateLimited:     "Too many requests",
	ProbQuota:           "Quota exceeded",
	ProbUnavailable:     "Service unavailable",
	ProbInternal:        "Internal error",
}

// WriteProblem answers r with a problem of type typ. The title is the type's fixed title.
func WriteProblem(w http.ResponseWriter, r *http.Request, status int, typ, detail string) {
	WriteProblemValue(w, r, Problem{Type: typ, Status: status, Detail: detail})
}

// WriteProblemValue answers with p, filling title and traceId.
func WriteProblemValue(w http.ResponseWriter, r *http.Request, p Problem) {
	if p.Title == "" {
		p.Title = titles[p.Type]
	}
	if p.TraceID == "" {
		p.TraceID = TraceID(r.Context())
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
