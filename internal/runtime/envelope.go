package runtime

import (
	"strings"
	"time"
)

// SchemaVersion is the only envelope version the decoder accepts.
const SchemaVersion = "zastava.runtime.event@v1"

// Kind is what an observer saw happen.
type Kind string

// The event kinds of zastava.runtime.event@v1.
const (
	KindContainerStart    Kind = "ContainerStart"
	KindContainerStop     Kind = "ContainerStop"
	KindDrift             Kind = "Drift"
	KindPolicyViolation   Kind = "PolicyViolation"
	KindAttestationStatus Kind = "AttestationStatus"
)

// Kinds lists the known kinds, sorted.
func Kinds() []Kind {
	return []Kind{KindAttestationStatus, KindContainerStart, KindContainerStop, KindDrift, KindPolicyViolation}
}

func (k Kind) known() bool {
	for _, v := range Kinds() {
		if k == v {
			return true
		}
	}
	return false
}

// Envelope is one element of a batch's events: the schema version and the event, as in the
// spec's example. Optional members that are absent, null or empty are left out when it is
// encoded, so the stored canonical form has no nulls.
type Envelope struct {
	SchemaVersion string `json:"schemaVersion"`
	Event         Event  `json:"event"`
}

// Event is what a Zastava observer reports about one container.
type Event struct {
	// EventID is the observer's id; with Tenant it identifies the event (duplicates are
	// ignored).
	EventID string `json:"eventId"`
	// When is the observation time, RFC 3339; decoding normalises it to UTC milliseconds.
	When        string            `json:"when"`
	Kind        Kind              `json:"kind"`
	Tenant      string            `json:"tenant"`
	Node        string            `json:"node"`
	Runtime     *Engine           `json:"runtime,omitempty"`
	Workload    *Workload         `json:"workload,omitempty"`
	Process     *Process          `json:"process,omitempty"`
	LoadedLibs  []LoadedLib       `json:"loadedLibs,omitempty"`
	Posture     *Posture          `json:"posture,omitempty"`
	Delta       *Delta            `json:"delta,omitempty"`
	Evidence    []Evidence        `json:"evidence,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Engine is the container runtime of the node.
type Engine struct {
	Engine  string `json:"engine,omitempty"`
	Version string `json:"version,omitempty"`
}

// Workload locates the container.
type Workload struct {
	Platform    string `json:"platform,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Pod         string `json:"pod,omitempty"`
	Container   string `json:"container,omitempty"`
	ContainerID string `json:"containerId,omitempty"`
	// ImageRef is the image reference the container runs; its "@<digest>" part names the image.
	ImageRef string `json:"imageRef,omitempty"`
}

// Process is the container's main process.
type Process struct {
	PID        *int64   `json:"pid,omitempty"`
	Entrypoint []string `json:"entrypoint,omitempty"`
}

// LoadedLib is a shared object the process has mapped.
type LoadedLib struct {
	Path   string  `json:"path"`
	Inode  *uint64 `json:"inode,omitempty"`
	SHA256 string  `json:"sha256,omitempty"`
}

// Posture is the observer's own check of the image's supply-chain evidence.
type Posture struct {
	ImageSigned  *bool  `json:"imageSigned,omitempty"`
	SBOMReferrer string `json:"sbomReferrer,omitempty"`
}

// Delta relates the running container to the image it started from.
type Delta struct {
	BaselineImageDigest string `json:"baselineImageDigest,omitempty"`
}

// Evidence is one raw signal behind the event.
type Evidence struct {
	Signal string `json:"signal"`
	Value  string `json:"value,omitempty"`
}

// ImageDigest is the digest of the image the event is about: the "@<digest>" of
// workload.imageRef, else delta.baselineImageDigest, else "". Decoding has checked and
// lower-cased both.
func (e *Event) ImageDigest() string {
	if e.Workload != nil {
		if _, d, ok := strings.Cut(e.Workload.ImageRef, "@"); ok {
			return d
		}
	}
	if e.Delta != nil {
		return e.Delta.BaselineImageDigest
	}
	return ""
}

// WhenTime is When parsed; decoding guarantees it parses.
func (e *Event) WhenTime() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, e.When)
	return t
}

// timeFormat is how timestamps leave the package: UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime formats t as the package writes timestamps (UTC, milliseconds).
func FormatTime(t time.Time) string { return t.UTC().Format(timeFormat) }
