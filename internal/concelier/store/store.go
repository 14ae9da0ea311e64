// Package store owns Concelier's persistent state behind small role interfaces: raw documents as
// fetched, per-source cursors, per-source mapped advisories, the merged canonical set with its
// merge events, and job records with per-kind leases. Backends live in sqlitestore (embedded
// default) and pgstore (scale); storetest is the conformance suite both must pass.
//
// It must not fetch, parse or merge anything, and domain code never imports a backend.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"time"
)

// Sentinel errors, compared with errors.Is.
var (
	// ErrNotFound: the document, cursor, job or lock does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write disagrees with what is stored (a stale digest, a job finished twice,
	// a duplicate key within one replace).
	ErrConflict = errors.New("conflict")
)

// DocumentStatus is where a raw document is in the fetch → parse → map pipeline.
type DocumentStatus string

// Document statuses.
const (
	StatusPendingParse DocumentStatus = "pending_parse"
	StatusParsed       DocumentStatus = "parsed"
	StatusMapped       DocumentStatus = "mapped"
	StatusFailed       DocumentStatus = "failed"
)

// Valid reports whether s is one of the statuses above.
func (s DocumentStatus) Valid() bool {
	switch s {
	case StatusPendingParse, StatusParsed, StatusMapped, StatusFailed:
		return true
	}
	return false
}

// Document is a raw document as fetched from a source. Times are stored with microsecond
// precision in UTC (PostgreSQL's resolution), on every backend.
type Document struct {
	Source string
	URI    string // unique within Source
	// Digest is "sha256:<hex>" of Content; the store computes it.
	Digest       string
	FetchedAt    time.Time
	ETag         string
	LastModified string
	ContentType  string
	Content      []byte
	Status       DocumentStatus
	// Error is the reason of a failed status; empty otherwise.
	Error string
}

// PutOutcome says what PutDocument did.
type PutOutcome int

// Put outcomes.
const (
	// Created: the URI was new.
	Created PutOutcome = iota + 1
	// Replaced: the content changed; the status is back to pending_parse.
	Replaced
	// Unchanged: the stored digest is the same; nothing was written.
	Unchanged
)

// Documents stores raw documents.
type Documents interface {
	// PutDocument stores d (its Status, Error and Digest are ignored). An identical digest is
	// a no-op reported as Unchanged, so re-fetches are cheap; a changed digest replaces content
	// and metadata and resets the status to pending_parse.
	PutDocument(ctx context.Context, d Document) (PutOutcome, error)
	// GetDocument returns one document, or ErrNotFound.
	GetDocument(ctx context.Context, source, uri string) (Document, error)
	// SetDocumentStatus moves a document to status. digest must be the one the caller worked on:
	// if the content has been replaced since, it returns ErrConflict so a stale parse cannot mark
	// new content done. reason is kept only for StatusFailed.
	SetDocumentStatus(ctx context.Context, source, uri, digest string, status DocumentStatus, reason string) error
	// ListDocuments returns a source's documents with the given status, by URI.
	ListDocuments(ctx context.Context, source string, status DocumentStatus) ([]Document, error)
	// ListDocumentsAfter returns up to limit of those documents whose URI sorts after the given
	// one, by URI: a large source is walked in batches without holding it all in memory.
	ListDocumentsAfter(ctx context.Context, source string, status DocumentStatus, after string, limit int) ([]Document, error)
	// PutDocuments is PutDocument for many documents in one transaction, all or none; the
	// outcomes are in the order of docs. (A feed of 14k records is one call, not 14k commits.)
	PutDocuments(ctx context.Context, docs []Document) ([]PutOutcome, error)
	// SetDocumentStatuses applies many status changes in one transaction. An update whose
	// document's content changed since (its digest no longer matches) is skipped and its index
	// returned in stale; an unknown document or an invalid status aborts them all.
	SetDocumentStatuses(ctx context.Context, updates []StatusUpdate) (stale []int, err error)
}

// StatusUpdate is one change of SetDocumentStatuses: as SetDocumentStatus's arguments.
type StatusUpdate struct {
	Source, URI, Digest string
	Status              DocumentStatus
	Reason              string
}

// Cursors stores one opaque JSON value per source (a connector's resume point).
type Cursors interface {
	// GetCursor returns the source's cursor as canonical JSON, or ErrNotFound.
	GetCursor(ctx context.Context, source string) (json.RawMessage, error)
	// SetCursor replaces the source's cursor; it must be valid JSON.
	SetCursor(ctx context.Context, source string, cursor json.RawMessage) error
}

// Encoded is an advisory in stored form: canonical JSON (RFC 8785) and its digest. Build it with
// Encode or EncodeAll.
type Encoded struct {
	ID     string
	JSON   []byte
	Digest string // "sha256:<hex>" of JSON
}

// MappedRecord is one source's view of one advisory, and the document it was mapped from.
type MappedRecord struct {
	Source      string
	DocumentURI string
	Encoded
}

// Mapped stores per-source mapped advisories.
type Mapped interface {
	// UpsertMapped inserts or replaces records in one transaction: all or none. Each record's
	// document must exist. Within one call a later record with the same (source, ID) wins.
	UpsertMapped(ctx context.Context, recs []MappedRecord) error
	// MappedBySource yields a source's records in ID order. The store may be used while iterating.
	MappedBySource(ctx context.Context, source string) iter.Seq2[MappedRecord, error]
	// DeleteMappedByDocument deletes the records mapped from one document and returns how many.
	DeleteMappedByDocument(ctx context.Context, source, uri string) (int, error)
}

// MergedRecord is one advisory of the merged set, with the merge run that published it.
type MergedRecord struct {
	RunID string
	Encoded
}

// MergeEvent records one field decision of a merge.
type MergeEvent struct {
	AdvisoryID   string
	Field        string
	WinnerSource string
	LoserSource  string
	Reason       string // precedence, freshness, tie-breaker
	DigestBefore string
	DigestAfter  string
	At           time.Time // the store's clock when zero
	RunID        string
}

// Merged stores the merged canonical set and the merge events.
type Merged interface {
	// ReplaceMerged publishes a merge run: the whole set is replaced and events appended in one
	// transaction, so a failure (cancellation, an invalid or duplicate record) leaves the
	// previous set as it was. Duplicate IDs give ErrConflict.
	ReplaceMerged(ctx context.Context, runID string, recs []Encoded, events []MergeEvent) error
	// MergedAll yields the merged set in ID order. The store may be used while iterating.
	MergedAll(ctx context.Context) iter.Seq2[MergedRecord, error]
	// CountMerged returns the size of the merged set.
	CountMerged(ctx context.Context) (int, error)
	// AppendMergeEvents appends events in one transaction.
	AppendMergeEvents(ctx context.Context, events []MergeEvent) error
	// MergeEvents returns an advisory's events in the order they were recorded.
	MergeEvents(ctx context.Context, advisoryID string) ([]MergeEvent, error)
}

// JobOutcome is how a job run ended.
type JobOutcome string

// Job outcomes; a running job has none.
const (
	OutcomeSucceeded JobOutcome = "succeeded"
	OutcomeFailed    JobOutcome = "failed"
	OutcomeCancelled JobOutcome = "cancelled"
)

// Job is the record of one run of a job kind ("source:osv:fetch", "merge:reconcile").
type Job struct {
	ID         string // generated when empty
	Kind       string
	Trigger    string          // who or what started it: "scheduler", "user:alice"
	Params     json.RawMessage // canonical JSON; nil when none
	StartedAt  time.Time       // the store's clock when zero
	FinishedAt time.Time       // zero while running
	Outcome    JobOutcome      // empty while running
	Counts     json.RawMessage // canonical JSON; nil when none
	Error      string
}

// Jobs stores job records and the per-kind leases that keep two runs of a kind apart.
type Jobs interface {
	// StartJob records a running job and returns it as stored (ID and StartedAt filled in).
	// An existing ID gives ErrConflict.
	StartJob(ctx context.Context, j Job) (Job, error)
	// FinishJob sets the outcome, counts and error and stamps FinishedAt from the clock.
	// ErrNotFound for an unknown ID; ErrConflict if it already finished.
	FinishJob(ctx context.Context, id string, outcome JobOutcome, counts json.RawMessage, errText string) error
	// GetJob returns one job, or ErrNotFound.
	GetJob(ctx context.Context, id string) (Job, error)
	// ListJobs returns up to limit jobs of kind (all kinds when empty), newest first.
	ListJobs(ctx context.Context, kind string, limit int) ([]Job, error)
	// AcquireLock takes the lease of kind for holder until now+ttl. It returns false when another
	// holder has an unexpired lease; the same holder re-acquiring renews it. Safe for concurrent
	// use: of simultaneous callers exactly one wins.
	AcquireLock(ctx context.Context, kind, holder string, ttl time.Duration) (bool, error)
	// ReleaseLock drops holder's lease of kind; ErrNotFound when holder does not hold it (it
	// expired and was taken, or was never held).
	ReleaseLock(ctx context.Context, kind, holder string) error
}

// Store is everything Concelier persists. Implementations are safe for concurrent use.
type Store interface {
	Documents
	Cursors
	Mapped
	Merged
	Jobs
	Close() error
}

// Options configures a backend.
type Options struct {
	// Now is the clock; time.Now when nil. Tests inject a fake one.
	Now func() time.Time
}

// Clock returns the configured clock, normalised to what the backends store (UTC, microseconds).
func (o Options) Clock() func() time.Time {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return func() time.Time { return Timestamp(now()) }
}

// Timestamp normalises t to the stored precision: UTC, truncated to microseconds.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
