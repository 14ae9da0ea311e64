package scanjob

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/stellaops/stellaops/internal/canonjson"
)

// EnqueueRequest is the body of POST /api/v1/scans (API spec §2.4).
type EnqueueRequest struct {
	Image           ImageRef          `json:"image"`
	Force           bool              `json:"force"`
	ClientRequestID string            `json:"clientRequestId"`
	Metadata        map[string]string `json:"metadata"`
}

// ImageRef names an image by reference, digest or both.
type ImageRef struct {
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
}

// Limits of an enqueue request: generous for real use, small enough that a stored request
// and its events stay small.
const (
	maxReference    = 1024
	maxClientReqID  = 256
	maxMetadata     = 64
	maxMetadataKey  = 128
	maxMetadataText = 1024
)

// FieldError locates one problem of a request (the problem+json errors[] entry).
type FieldError struct {
	Path string
	Msg  string
}

// Normalized is a validated enqueue request in canonical form. Reference is the fully
// qualified registry reference ("index.docker.io/library/alpine:3.10") or a cleaned absolute
// local path; Digest is lower-case.
type Normalized struct {
	Reference string
	// LocalPath is set when Reference names a local file or directory.
	LocalPath bool
	Digest    string
	// Given is the reference as the client wrote it (trimmed), echoed in status answers.
	Given           string
	Force           bool
	ClientRequestID string
	Metadata        map[string]string
}

// Normalize validates r and puts it in canonical form. Every problem is reported, each with
// its JSON path; a non-empty list means r is refused.
func Normalize(r EnqueueRequest) (Normalized, []FieldError) {
	var errs []FieldError
	bad := func(path, format string, args ...any) {
		errs = append(errs, FieldError{path, fmt.Sprintf(format, args...)})
	}
	n := Normalized{Force: r.Force, Given: strings.TrimSpace(r.Image.Reference)}

	ref := n.Given
	digest := strings.TrimSpace(r.Image.Digest)
	if ref == "" && digest == "" {
		bad("$.image", "image.reference or image.digest is required")
	}
	if digest != "" {
		d, err := normalizeDigest(digest)
		if err != nil {
			bad("$.image.digest", "%v", err)
		}
		n.Digest = d
	}
	switch {
	case ref == "":
	case len(ref) > maxReference:
		bad("$.image.reference", "longer than %d bytes", maxReference)
	case !printable(ref):
		bad("$.image.reference", "contains control characters or invalid UTF-8")
	case strings.HasPrefix(ref, "/"):
		n.Reference, n.LocalPath = filepath.Clean(ref), true
	default:
		r, err := name.ParseReference(ref)
		if err != nil {
			bad("$.image.reference", "not an image reference (registry/repository[:tag][@digest]): %v", err)
			break
		}
		n.Reference = r.Name()
		if d, ok := r.(name.Digest); ok && n.Digest != "" && d.DigestStr() != n.Digest {
			bad("$.image.digest", "%s differs from the reference's digest %s", n.Digest, d.DigestStr())
		}
	}

	n.ClientRequestID = strings.TrimSpace(r.ClientRequestID)
	if len(n.ClientRequestID) > maxClientReqID {
		bad("$.clientRequestId", "longer than %d bytes", maxClientReqID)
	} else if !printable(n.ClientRequestID) {
		bad("$.clientRequestId", "contains control characters or invalid UTF-8")
	}
	if len(r.Metadata) > maxMetadata {
		bad("$.metadata", "more than %d entries", maxMetadata)
	}
	keys := make([]string, 0, len(r.Metadata))
	for k := range r.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(r.Metadata) > 0 {
		n.Metadata = make(map[string]string, len(r.Metadata))
	}
	for _, k := range keys {
		v := r.Metadata[k]
		path := "$.metadata[" + strconvQuote(k) + "]"
		switch {
		case k == "" || len(k) > maxMetadataKey:
			bad(path, "keys must be 1 to %d bytes", maxMetadataKey)
		case !printable(k):
			bad(path, "key contains control characters or invalid UTF-8")
		case len(v) > maxMetadataText:
			bad(path, "value longer than %d bytes", maxMetadataText)
		case !printable(v):
			bad(path, "value contains control characters or invalid UTF-8")
		default:
			n.Metadata[k] = v
		}
	}
	if len(errs) > 0 {
		return Normalized{}, errs
	}
	return n, nil
}

// normalizeDigest accepts sha256:<64 hex> and sha512:<128 hex>, any case, and returns it in
// lower case.
func normalizeDigest(s string) (string, error) {
	if hasUpper(s) {
		s = strings.ToLower(s)
	}
	algo, enc, ok := strings.Cut(s, ":")
	want := 0
	switch algo {
	case "sha256":
		want = 64
	case "sha512":
		want = 128
	}
	if !ok || want == 0 {
		return "", fmt.Errorf("%q is not an OCI digest (sha256:<64 hex digits>)", truncate(s, 80))
	}
	if len(enc) != want || !isHex(enc) {
		return "", fmt.Errorf("%q is not an OCI digest: %s needs %d hex digits", truncate(s, 80), algo, want)
	}
	return s, nil
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// printable refuses invalid UTF-8 and control characters, which would corrupt logs and SSE
// frames.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

func strconvQuote(s string) string {
	b, _ := canonjson.Marshal(truncate(s, 64))
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// requestDoc is what a queued scan's id is the hash of, and what the store keeps as the
// request: everything of the request but force, which asks for a re-run of the same scan.
type requestDoc struct {
	Kind            string            `json:"kind"`
	Image           ImageRef          `json:"image"`
	ClientRequestID string            `json:"clientRequestId,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
}

// Doc is the stored request: RFC 8785 JSON, the same bytes for the same normalised request.
func (n Normalized) Doc() []byte {
	b, err := canonjson.Marshal(requestDoc{Kind: "image", Image: ImageRef{Reference: n.Reference, Digest: n.Digest},
		ClientRequestID: n.ClientRequestID, Metadata: n.Metadata})
	if err != nil {
		panic(fmt.Sprintf("scanjob: canonical request: %v", err)) // strings only: cannot fail
	}
	return b
}

// ScanID is the deterministic id of a normalised request: the first 128 bits of the SHA-256
// of its canonical JSON, in hex (32 characters, as the spec's example).
func (n Normalized) ScanID() string { return idOf(n.Doc()) }

func idOf(doc []byte) string {
	h := sha256.New()
	h.Write([]byte("stellaops.scan-request/v1\x00"))
	h.Write(doc)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// ValidScanID reports whether s has the form of a scan id, so that lookups of garbage never
// reach the store.
func ValidScanID(s string) bool { return len(s) == 32 && isHex(s) }

// UploadRequest is a POST /scan: its content (by digest, or the URL it is fetched from) and
// its options. Its id is the hash of all of them, so an identical request joins or re-runs
// the same scan.
type UploadRequest struct {
	// ContentDigest is the sha256 of the uploaded body ("" for a URL).
	ContentDigest string `json:"contentDigest,omitempty"`
	URL           string `json:"url,omitempty"`
	SBOMType      string `json:"sbomType,omitempty"`
	SBOMOnly      bool   `json:"sbomOnly,omitempty"`
	Threshold     string `json:"threshold"`
}

// Doc is the stored request, RFC 8785 JSON.
func (u UploadRequest) Doc() []byte {
	b, err := canonjson.Marshal(struct {
		Kind string `json:"kind"`
		UploadRequest
	}{"upload", u})
	if err != nil {
		panic(fmt.Sprintf("scanjob: canonical request: %v", err))
	}
	return b
}

// ScanID is the deterministic id of the upload request.
func (u UploadRequest) ScanID() string { return idOf(u.Doc()) }
