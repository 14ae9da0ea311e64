// Package scanstore persists scans, their progress events and results, and the index of
// layers whose inventories are cached, for every replica of an installation to share.
//
// A scan is a small state machine: Pending → Running → Succeeded | Failed, with Cancelled
// reachable from Pending and Running, and a finished scan may be run again (a new Run). Every
// write that a worker makes while running a scan carries a fence — the queue lease's token,
// or the inline executor's — and succeeds only while that fence is the scan's current one:
// Claim installs it, Finish, Release and Cancel remove it. A worker that lost its lease
// therefore cannot append events to, release or finish a scan another worker now holds, and of
// all the deliveries of one run at most one Finish succeeds.
//
// Events are numbered per scan from 1, in the order the store accepted them, across runs.
//
// The store interprets nothing it is given: requests, outcomes, event data and results are
// opaque bytes, times are kept to the microsecond, UTC. Backends: sqlitestore (embedded) and
// pgstore (scale), both passing storetest.
package scanstore

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"
)

// Errors of the store. Every method wraps them; compare with errors.Is.
var (
	// ErrNotFound: no scan with that id (or no result, or no cached value of that layer).
	ErrNotFound = errors.New("scanstore: not found")
	// ErrFenceLost: the call's fence is not the scan's current fence (another delivery holds
	// the scan, or it was released, finished or cancelled). Nothing was written.
	ErrFenceLost = errors.New("scanstore: fence lost")
	// ErrNotClaimable: the scan is finished, in another run, or already claimed by a later
	// delivery. Nothing was written.
	ErrNotClaimable = errors.New("scanstore: scan not claimable")
)

// Status is a scan's state (API spec §2.5).
type Status string

// Statuses.
const (
	StatusPending   Status = "Pending"
	StatusRunning   Status = "Running"
	StatusSucceeded Status = "Succeeded"
	StatusFailed    Status = "Failed"
	StatusCancelled Status = "Cancelled"
)

// Terminal reports whether s ends a run.
func (s Status) Terminal() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCancelled
}

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusRunning, StatusSucceeded, StatusFailed, StatusCancelled:
		return true
	}
	return false
}

// Kind says who runs a scan.
type Kind string

// Kinds.
const (
	// KindQueued scans (POST /api/v1/scans) are run by workers leasing jobs from the queue;
	// a lost lease is redelivered by the queue.
	KindQueued Kind = "queued"
	// KindUpload scans (POST /scan) are run by the replica that received the upload; their
	// LeaseUntil is a heartbeat, and a sweeper fails those whose replica stopped beating.
	KindUpload Kind = "upload"
)

// Image is what a scan was asked to scan, as the request named it.
type Image struct {
	Reference string
	Digest    string
}

// Scan is one stored scan.
type Scan struct {
	ID   string
	Kind Kind
	// Image is the requested image (both empty for uploads).
	Image Image
	// Request is the normalised request, a JSON object.
	Request []byte
	Status  Status
	// Run counts the runs of the scan, from 1.
	Run int
	// Attempt is the delivery of the current run that claimed it last (0 before any claim).
	Attempt int
	// Fence is the token of the delivery that may write; empty unless Running.
	Fence string
	// LeaseUntil is when the current holder's lease (or, for uploads, heartbeat) runs out.
	LeaseUntil time.Time
	CreatedAt  time.Time
	// UpdatedAt is the time of the last status change.
	UpdatedAt time.Time
	// StartedAt is the first claim of the current run; zero before it.
	StartedAt time.Time
	// FinishedAt is set when the current run ended.
	FinishedAt    time.Time
	FailureReason string
	// ImageDigest is the digest of what was scanned, set on success.
	ImageDigest string
	// Outcome is the result summary (a JSON object), set on success.
	Outcome []byte
	// LastSequence is the sequence of the scan's newest event.
	LastSequence int64
}

// Event is one progress frame of a scan (API spec §2.6).
type Event struct {
	ScanID string
	// Sequence is assigned by the store: 1, 2, … per scan.
	Sequence int64
	State    Status
	Message  string
	Time     time.Time
	// CorrelationID is kept as given; empty means the default ({scanId}:{sequence:0000}).
	CorrelationID string
	// Data is a JSON object; nil is stored as {}.
	Data []byte
}

// Claim is a delivery taking a scan.
type Claim struct {
	ID string
	// Run must be the scan's current run.
	Run int
	// Fence is the delivery's token; Attempt must be above the scan's Attempt.
	Fence      string
	Attempt    int
	LeaseUntil time.Time
	Now        time.Time
}

// Finish ends the current run.
type Finish struct {
	ID    string
	Fence string
	// Status is StatusSucceeded or StatusFailed.
	Status        Status
	Now           time.Time
	FailureReason string
	ImageDigest   string
	Outcome       []byte
	// Result is stored on success (opaque bytes, fetched with Result).
	Result []byte
}

// Abandon fails a scan whose holder is gone.
type Abandon struct {
	ID     string
	Run    int
	Reason string
	Now    time.Time
	// Expired requires LeaseUntil to be before Now (an upload whose replica stopped beating);
	// without it the caller knows the run is dead (its queue job is dead-lettered).
	Expired bool
}

// LayerName names a layer whose inventory is cached: its diff ID (the cache key) and, when
// known, the digest of its blob as stored (the manifest's layer digest).
type LayerName struct {
	DiffID string
	Digest string
}

// Store persists scans. Implementations are safe for concurrent use by several processes
// (replicas) at once; every method is atomic.
type Store interface {
	// Create stores s (Status Pending, Run 1) with its first event ev (sequence 1). When a
	// scan with s.ID exists it writes nothing and returns that scan with created=false.
	Create(ctx context.Context, s Scan, ev Event) (stored Scan, created bool, err error)
	// Rerun starts the next run of a finished scan: Pending, Attempt 0, no fence, LeaseUntil
	// set, the previous run's times, failure, outcome and result cleared, and ev appended.
	// A scan that is Pending or Running is returned unchanged with started=false.
	Rerun(ctx context.Context, id string, now, leaseUntil time.Time, ev Event) (s Scan, started bool, err error)
	// Get returns the scan, or ErrNotFound.
	Get(ctx context.Context, id string) (Scan, error)
	// Result returns the result stored by a successful Finish, or ErrNotFound.
	Result(ctx context.Context, id string) ([]byte, error)
	// LatestByImageDigest returns the most recently finished Succeeded scan of an image
	// digest, or ErrNotFound.
	LatestByImageDigest(ctx context.Context, digest string) (Scan, error)
	// Claim makes c's delivery the holder of a Pending or Running scan of run c.Run whose
	// Attempt is below c.Attempt: Running, Fence, Attempt, LeaseUntil set, StartedAt kept
	// or set to c.Now, and ev appended. Otherwise ErrNotClaimable (ErrNotFound for an
	// unknown id), writing nothing.
	Claim(ctx context.Context, c Claim, ev Event) (Scan, error)
	// Heartbeat moves LeaseUntil of a Running scan held by fence to until. With another
	// fence (or a scan no longer Running) it writes nothing and returns the scan and
	// ErrFenceLost, so the caller sees why (Cancelled, say).
	Heartbeat(ctx context.Context, id, fence string, until time.Time) (Scan, error)
	// Append adds events to a Running scan held by fence, or returns ErrFenceLost.
	Append(ctx context.Context, id, fence string, evs []Event) error
	// Release returns a Running scan held by fence to Pending (a retry will claim it), with
	// no fence, appending ev; or ErrFenceLost.
	Release(ctx context.Context, id, fence string, now time.Time, ev Event) error
	// Finish ends the run of a Running scan held by f.Fence, appending ev in the same
	// transaction; or ErrFenceLost, writing nothing.
	Finish(ctx context.Context, f Finish, ev Event) error
	// Cancel moves a Pending or Running scan to Cancelled (no fence, FinishedAt now) and
	// appends ev; a finished scan is returned unchanged with cancelled=false.
	Cancel(ctx context.Context, id string, now time.Time, ev Event) (s Scan, cancelled bool, err error)
	// Abandon fails a Pending or Running scan of run a.Run (see Abandon) and appends ev;
	// false when the scan is finished, in another run or (Expired) still beating.
	Abandon(ctx context.Context, a Abandon, ev Event) (bool, error)
	// Expired lists Pending or Running scans of kind whose LeaseUntil is before now, oldest
	// lease first, at most limit.
	Expired(ctx context.Context, kind Kind, now time.Time, limit int) ([]Scan, error)
	// Events returns the scan's events with a sequence above after, in order, at most limit.
	Events(ctx context.Context, id string, after int64, limit int) ([]Event, error)

	// GetLayer returns the cached value of a layer and marks it used, or ErrNotFound (also
	// when the layer is known but its value is held elsewhere).
	GetLayer(ctx context.Context, fingerprint, diffID string, now time.Time) ([]byte, error)
	// PutLayer stores a layer's value (nil: known, value not shared) and names it by its diff
	// ID. A stored value is never replaced by nil.
	PutLayer(ctx context.Context, fingerprint, diffID string, value []byte, now time.Time) error
	// NameLayers records that the layers' inventories are cached (values possibly elsewhere),
	// under their diff IDs and blob digests, and marks them used.
	NameLayers(ctx context.Context, fingerprint string, names []LayerName, now time.Time) error
	// KnownLayers returns which of names (diff IDs or blob digests) name a cached layer of
	// fingerprint, sorted, without duplicates.
	KnownLayers(ctx context.Context, fingerprint string, names []string) ([]string, error)
	// PruneLayers forgets layers not used since before and returns how many.
	PruneLayers(ctx context.Context, before time.Time) (int, error)

	Close() error
}

// DefaultCorrelationID is the spec's {scanId}:{sequence:0000}.
func DefaultCorrelationID(scanID string, seq int64) string {
	const digits = "0123456789"
	s := make([]byte, 0, len(scanID)+6)
	s = append(s, scanID...)
	s = append(s, ':')
	var buf [20]byte
	i := len(buf)
	for n := seq; n > 0 || i > len(buf)-4; n /= 10 {
		i--
		buf[i] = digits[n%10]
	}
	return string(append(s, buf[i:]...))
}

// SortedLayerNames returns names sorted by diff ID then digest (a copy), the order backends
// write them in.
func SortedLayerNames(names []LayerName) []LayerName {
	out := slices.Clone(names)
	slices.SortFunc(out, func(a, b LayerName) int {
		return cmp.Or(cmp.Compare(a.DiffID, b.DiffID), cmp.Compare(a.Digest, b.Digest))
	})
	return out
}
