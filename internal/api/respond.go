package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// maxJSONDepth bounds nesting of request bodies: encoding/json recurses per level.
const maxJSONDepth = 64

// DecodeJSON reads r's body (already bounded by the route's MaxBody) into dst, rejecting
// unknown fields, trailing data and excessive nesting. On failure it has answered with a 4xx
// problem and returns false.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			WriteProblem(w, r, http.StatusUnsupportedMediaType, ProbUnsupportedType, "the body must be application/json")
			return false
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeBodyError(w, r, err)
		return false
	}
	if err := checkDepth(body); err != nil {
		WriteProblem(w, r, http.StatusBadRequest, ProbValidation, err.Error())
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		WriteProblem(w, r, http.StatusBadRequest, ProbValidation, "malformed JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		WriteProblem(w, r, http.StatusBadRequest, ProbValidation, "malformed JSON body: data after the JSON value")
		return false
	}
	return true
}

// writeBodyError maps a body read error: over the limit is 413, anything else 400.
func writeBodyError(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		WriteProblem(w, r, http.StatusRequestEntityTooLarge, ProbTooLarge, fmt.Sprintf("the body exceeds %d bytes", mbe.Limit))
		return
	}
	WriteProblem(w, r, http.StatusBadRequest, ProbValidation, "reading the body: "+err.Error())
}

// checkDepth refuses JSON nested deeper than maxJSONDepth, scanning bytes outside strings.
func checkDepth(b []byte) error {
	depth, inStr, esc := 0, false, false
	for _, c := range b {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			if depth > maxJSONDepth {
				return fmt.Errorf("JSON nested deeper than %d levels", maxJSONDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}
