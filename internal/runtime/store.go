package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stellaops/stellaops/internal/canonjson"
)

// ErrNotFound is returned for an event that is not stored.
var ErrNotFound = errors.New("runtime event not found")

// Record is a stored event: the canonical envelope (RFC 8785) and the columns queries use.
// Times have millisecond precision, in UTC.
type Record struct {
	Tenant  string
	EventID string
	Node    string
	Kind    Kind
	// ObservedAt is the event's when.
	ObservedAt  time.Time
	ImageDigest string
	Namespace   string
	Pod         string
	Container   string
	// ImageSigned and SBOMReferrer are the observer's posture, when it reported one.
	ImageSigned  *bool
	SBOMReferrer string
	BatchID      string
	ReceivedAt   time.Time
	ExpiresAt    time.Time
	// Payload is the canonical JSON of the envelope.
	Payload []byte
}

// NewRecord builds the record of env received at now and kept for ttl.
func NewRecord(env Envelope, batchID string, now time.Time, ttl time.Duration) (Record, error) {
	payload, err := canonjson.Marshal(env)
	if err != nil {
		return Record{}, fmt.Errorf("runtime: event %q: %w", env.Event.EventID, err)
	}
	e := &env.Event
	now = ms(now)
	r := Record{
		Tenant: e.Tenant, EventID: e.EventID, Node: e.Node, Kind: e.Kind, ObservedAt: ms(e.WhenTime()),
		ImageDigest: e.ImageDigest(), BatchID: batchID, ReceivedAt: now, ExpiresAt: now.Add(ttl), Payload: payload,
	}
	if w := e.Workload; w != nil {
		r.Namespace, r.Pod, r.Container = w.Namespace, w.Pod, w.Container
	}
	if p := e.Posture; p != nil {
		r.ImageSigned, r.SBOMReferrer = p.ImageSigned, p.SBOMReferrer
	}
	return r, nil
}

// ms is t in UTC at the precision records keep.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// ImageQuery selects the events of one image digest.
type ImageQuery struct {
	Digest string
	// Tenant limits the events to one tenant; "" is every tenant.
	Tenant string
	// Namespace, if set, is counted in ImageActivity.InNamespace.
	Namespace string
	// Now hides events that expired at or before it, swept or not.
	Now time.Time
	// MaxNames bounds Namespaces and Nodes (default 50).
	MaxNames int
}

// ImageActivity summarises the unexpired events of an image digest.
type ImageActivity struct {
	Events int
	// FirstSeen and LastSeen are the earliest and latest observation times.
	FirstSeen, LastSeen time.Time
	// ByKind counts events per kind.
	ByKind map[Kind]int
	// Namespaces and Nodes are the distinct non-empty values, in byte order, at most
	// MaxNames of each; NamespaceCount and NodeCount count them all.
	Namespaces     []string
	NamespaceCount int
	Nodes          []string
	NodeCount      int
	// InNamespace counts the events in the query's Namespace.
	InNamespace int
	// Posture is the latest observation that carried a posture, if any.
	Posture *ObservedPosture
}

// ObservedPosture is an observer's report of the image's signature and SBOM referrer.
type ObservedPosture struct {
	ImageSigned  *bool
	SBOMReferrer string
	ObservedAt   time.Time
	Node         string
}

// Store keeps runtime events. Implementations are safe for concurrent use, and several
// replicas may share one database.
type Store interface {
	// Insert stores, in one transaction, every record whose (Tenant, EventID) is not stored
	// yet (a repeated pair within recs counts once) and returns how many it stored; the others
	// are duplicates and leave the stored ones unchanged. On error nothing is stored.
	Insert(ctx context.Context, recs []Record) (int, error)
	// Get returns the stored record of (tenant, eventID), expired or not, or ErrNotFound.
	Get(ctx context.Context, tenant, eventID string) (Record, error)
	// Count returns how many records are stored, expired ones not yet swept included.
	Count(ctx context.Context) (int, error)
	// Sweep deletes at most limit records that expired at or before now and returns how many.
	Sweep(ctx context.Context, now time.Time, limit int) (int, error)
	// Image summarises the unexpired records of q.Digest.
	Image(ctx context.Context, q ImageQuery) (ImageActivity, error)
	Close() error
}

// DefaultMaxNames bounds the names ImageActivity lists when the query does not.
const DefaultMaxNames = 50
