package client

import (
	"context"
	"net/http"
	"time"
)

// RuntimeSchemaVersion is the envelope version of runtime events.
const RuntimeSchemaVersion = "zastava.runtime.event@v1"

// RuntimeEventBatch is the body of POST /api/v1/runtime/events (API spec §2.8).
type RuntimeEventBatch struct {
	BatchID string            `json:"batchId,omitempty"`
	Events  []RuntimeEnvelope `json:"events"`
}

// RuntimeEnvelope wraps one event with its schema version (RuntimeSchemaVersion).
type RuntimeEnvelope struct {
	SchemaVersion string       `json:"schemaVersion"`
	Event         RuntimeEvent `json:"event"`
}

// RuntimeEvent is one observation of a Zastava observer.
type RuntimeEvent struct {
	EventID string    `json:"eventId"`
	When    time.Time `json:"when"`
	// Kind: ContainerStart, ContainerStop, Drift, PolicyViolation or AttestationStatus.
	Kind        string             `json:"kind"`
	Tenant      string             `json:"tenant"`
	Node        string             `json:"node"`
	Runtime     *RuntimeEngine     `json:"runtime,omitempty"`
	Workload    *RuntimeWorkload   `json:"workload,omitempty"`
	Process     *RuntimeProcess    `json:"process,omitempty"`
	LoadedLibs  []RuntimeLoadedLib `json:"loadedLibs,omitempty"`
	Posture     *RuntimePosture    `json:"posture,omitempty"`
	Delta       *RuntimeDelta      `json:"delta,omitempty"`
	Evidence    []RuntimeEvidence  `json:"evidence,omitempty"`
	Annotations map[string]string  `json:"annotations,omitempty"`
}

// RuntimeEngine is the node's container runtime.
type RuntimeEngine struct {
	Engine  string `json:"engine,omitempty"`
	Version string `json:"version,omitempty"`
}

// RuntimeWorkload locates the container; ImageRef's "@<digest>" names the image.
type RuntimeWorkload struct {
	Platform    string `json:"platform,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Pod         string `json:"pod,omitempty"`
	Container   string `json:"container,omitempty"`
	ContainerID string `json:"containerId,omitempty"`
	ImageRef    string `json:"imageRef,omitempty"`
}

// RuntimeProcess is the container's main process.
type RuntimeProcess struct {
	PID        *int64   `json:"pid,omitempty"`
	Entrypoint []string `json:"entrypoint,omitempty"`
}

// RuntimeLoadedLib is a mapped shared object.
type RuntimeLoadedLib struct {
	Path   string  `json:"path"`
	Inode  *uint64 `json:"inode,omitempty"`
	SHA256 string  `json:"sha256,omitempty"`
}

// RuntimePosture is the observer's check of signature and SBOM referrer.
type RuntimePosture struct {
	ImageSigned  *bool  `json:"imageSigned,omitempty"`
	SBOMReferrer string `json:"sbomReferrer,omitempty"`
}

// RuntimeDelta relates the container to its baseline image.
type RuntimeDelta struct {
	BaselineImageDigest string `json:"baselineImageDigest,omitempty"`
}

// RuntimeEvidence is one raw signal.
type RuntimeEvidence struct {
	Signal string `json:"signal"`
	Value  string `json:"value,omitempty"`
}

// RuntimeIngestResult is the 202 answer: events stored and duplicates ignored.
type RuntimeIngestResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// PostRuntimeEvents posts a batch. Over a rate limit the error is an *Error with status 429
// and RetryAfter set; observers retry after it.
func (c *Client) PostRuntimeEvents(ctx context.Context, b RuntimeEventBatch) (RuntimeIngestResult, *Response, error) {
	var out RuntimeIngestResult
	r, err := c.sendJSON(ctx, http.MethodPost, "/api/v1/runtime/events", b, true, false, &out)
	return out, r, err
}

// RuntimePolicyRequest asks for the verdicts of image digests (the webhook's question).
type RuntimePolicyRequest struct {
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Images    []string          `json:"images"`
}

// RuntimePolicyResponse carries one verdict per digest, cacheable for TTLSeconds.
type RuntimePolicyResponse struct {
	TTLSeconds     int                            `json:"ttlSeconds"`
	ExpiresAtUTC   time.Time                      `json:"expiresAtUtc"`
	PolicyRevision string                         `json:"policyRevision,omitempty"`
	Results        map[string]RuntimeImageVerdict `json:"results"`
}

// RuntimeImageVerdict is the verdict of one digest.
type RuntimeImageVerdict struct {
	// PolicyVerdict: pass, warn, fail or unknown.
	PolicyVerdict    string              `json:"policyVerdict"`
	Signed           bool                `json:"signed"`
	HasSBOMReferrers bool                `json:"hasSbomReferrers"`
	Quiet            bool                `json:"quiet"`
	QuietedBy        []string            `json:"quietedBy,omitempty"`
	Confidence       float64             `json:"confidence"`
	Rekor            *RuntimeRekor       `json:"rekor,omitempty"`
	ReportID         string              `json:"reportId,omitempty"`
	PolicyRevision   string              `json:"policyRevision,omitempty"`
	Reasons          []string            `json:"reasons"`
	Runtime          *RuntimeObservation `json:"runtime,omitempty"`
}

// RuntimeRekor is a transparency-log entry and whether it verified.
type RuntimeRekor struct {
	UUID     string `json:"uuid"`
	Index    uint64 `json:"index"`
	Verified bool   `json:"verified"`
}

// RuntimeObservation summarises the runtime events of a digest.
type RuntimeObservation struct {
	Events         int                   `json:"events"`
	FirstSeen      time.Time             `json:"firstSeen"`
	LastSeen       time.Time             `json:"lastSeen"`
	Kinds          map[string]int        `json:"kinds"`
	Namespaces     []string              `json:"namespaces"`
	NamespaceCount int                   `json:"namespaceCount"`
	Nodes          []string              `json:"nodes"`
	NodeCount      int                   `json:"nodeCount"`
	InNamespace    *int                  `json:"inNamespace,omitempty"`
	Posture        *RuntimePostureReport `json:"posture,omitempty"`
}

// RuntimePostureReport is an observer's latest posture report.
type RuntimePostureReport struct {
	ImageSigned  *bool     `json:"imageSigned,omitempty"`
	SBOMReferrer string    `json:"sbomReferrer,omitempty"`
	ObservedAt   time.Time `json:"observedAt"`
	Node         string    `json:"node"`
}

// RuntimePolicy posts to /api/v1/scanner/policy/runtime.
func (c *Client) RuntimePolicy(ctx context.Context, req RuntimePolicyRequest) (RuntimePolicyResponse, *Response, error) {
	var out RuntimePolicyResponse
	r, err := c.sendJSON(ctx, http.MethodPost, "/api/v1/scanner/policy/runtime", req, true, false, &out)
	return out, r, err
}
