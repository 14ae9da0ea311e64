// Package reportstore keeps the signed evidence of the reports and signer area: the signed
// policy reports of POST /api/v1/reports (spec §2.7) and the attestations accepted by
// POST /attest (§2.4), each with the transparency-log entry that records its DSSE envelope.
// It answers what the runtime area asks of an image digest: its latest report, and its newest
// attestation (of a given predicate type).
//
// This package holds the record types, their validation and the [Store] interface; the
// backends are sqlitestore (embedded default) and pgstore (PostgreSQL), both held to the
// conformance suite in storetest. It stores what it is given: signing, verification and the
// log itself belong to internal/signing and internal/tlog.
package reportstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Sentinel errors, compared with errors.Is.
var (
	// ErrNotFound: no such report or attestation.
	ErrNotFound = errors.New("reportstore: not found")
	// ErrInvalid: a record that is missing a required field or has a malformed one.
	ErrInvalid = errors.New("reportstore: invalid record")
)

// Report is a signed policy report as stored.
type Report struct {
	// ReportID is the report's content-derived id ("report-<20 hex>"): the same findings,
	// policy and image give the same id, so assembling a report again updates its record.
	ReportID    string
	ImageDigest string
	// Verdict is the report's verdict: pass, warn or blocked.
	Verdict        string
	PolicyRevision string
	PolicyDigest   string
	// ScanID is the stored scan the report was assembled from, "" for posted findings.
	ScanID string
	// KeyID names the key that signed Envelope.
	KeyID string
	// Envelope is the encoded DSSE envelope (the §2.7 "dsse" member, as signing encodes it).
	Envelope []byte
	// LogID and LogIndex are the transparency-log entry of Envelope: its lowercase hex leaf
	// hash and its index.
	LogID    string
	LogIndex uint64
	// CreatedAt is when the report was first stored; AssembledAt when it was last assembled.
	// Both are UTC with millisecond precision (the store truncates).
	CreatedAt   time.Time
	AssembledAt time.Time
}

// Attestation is an in-toto statement in a DSSE envelope, accepted and logged.
type Attestation struct {
	// ID is the envelope's transparency-log entry id (lowercase hex leaf hash): the same
	// envelope is one attestation.
	ID       string
	LogIndex uint64
	// PredicateType is the statement's predicate type.
	PredicateType string
	// Subjects are the statement's subject digests as "<algorithm>:<lowercase hex>", sorted
	// and without duplicates (the store normalises them).
	Subjects []string
	// StatementDigest is "sha256:<hex>" of the statement's canonical bytes.
	StatementDigest string
	// KeyID names the key whose signature was verified when it was accepted.
	KeyID    string
	Envelope []byte
	// CreatedAt is when it was first stored (UTC, milliseconds).
	CreatedAt time.Time
}

// Store persists reports and attestations. Implementations are safe for concurrent use, also
// from several processes sharing one database.
type Store interface {
	// PutReport stores r, or, when a report with its id is stored, replaces its signature
	// (KeyID, Envelope, LogID, LogIndex), its AssembledAt and (when r has one) its ScanID,
	// keeping CreatedAt; either way r becomes its image's latest report. It returns the record
	// as stored.
	PutReport(ctx context.Context, r Report) (Report, error)
	// Report returns the report with id, or ErrNotFound.
	Report(ctx context.Context, reportID string) (Report, error)
	// LatestReport returns the report of imageDigest stored (or assembled again) last, or
	// ErrNotFound.
	LatestReport(ctx context.Context, imageDigest string) (Report, error)
	// PutAttestation stores a unless an attestation with its ID is stored, and returns the
	// stored record; created is false when it was there already.
	PutAttestation(ctx context.Context, a Attestation) (stored Attestation, created bool, err error)
	// Attestation returns the attestation with id, or ErrNotFound.
	Attestation(ctx context.Context, id string) (Attestation, error)
	// LatestAttestation returns the attestation with the highest log index among those with
	// subject digest (and, when predicateTypes are given, one of those predicate types), or
	// ErrNotFound.
	LatestAttestation(ctx context.Context, subject string, predicateTypes ...string) (Attestation, error)
	// Close releases the store's connections.
	Close() error
}

// Limits of a record's text fields, so a hostile value cannot bloat the tables.
const (
	maxIDLen      = 256
	maxDigestLen  = 256
	maxSubjects   = 1024
	maxTypeLength = 1024
)

// Timestamp normalises t to the stored precision: UTC, truncated to milliseconds.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// CheckReport validates r before it is written; errors wrap ErrInvalid.
func CheckReport(r Report) error {
	var errs []error
	need := func(name, v string, max int) {
		if v == "" || len(v) > max {
			errs = append(errs, fmt.Errorf("%s must have 1 to %d bytes", name, max))
		}
	}
	need("report id", r.ReportID, maxIDLen)
	need("image digest", r.ImageDigest, maxDigestLen)
	need("verdict", r.Verdict, 32)
	need("policy digest", r.PolicyDigest, maxDigestLen)
	need("key id", r.KeyID, maxIDLen)
	if len(r.PolicyRevision) > maxIDLen || len(r.ScanID) > maxIDLen {
		errs = append(errs, fmt.Errorf("policy revision and scan id have at most %d bytes", maxIDLen))
	}
	if len(r.Envelope) == 0 {
		errs = append(errs, errors.New("no envelope"))
	}
	if !isLogID(r.LogID) {
		errs = append(errs, fmt.Errorf("log id %.80q is not 64 lowercase hex digits", r.LogID))
	}
	if r.AssembledAt.IsZero() {
		errs = append(errs, errors.New("no assembly time"))
	}
	if r.LogIndex > 1<<62 {
		errs = append(errs, fmt.Errorf("log index %d out of range", r.LogIndex))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: report %.80q: %w", ErrInvalid, r.ReportID, errors.Join(errs...))
	}
	return nil
}

// CheckAttestation validates a and returns it with its subjects normalised (lower-case hex,
// sorted, unique); errors wrap ErrInvalid.
func CheckAttestation(a Attestation) (Attestation, error) {
	var errs []error
	if !isLogID(a.ID) {
		errs = append(errs, fmt.Errorf("id %.80q is not 64 lowercase hex digits", a.ID))
	}
	if a.PredicateType == "" || len(a.PredicateType) > maxTypeLength {
		errs = append(errs, fmt.Errorf("predicate type must have 1 to %d bytes", maxTypeLength))
	}
	if a.KeyID == "" || len(a.KeyID) > maxIDLen {
		errs = append(errs, fmt.Errorf("key id must have 1 to %d bytes", maxIDLen))
	}
	if a.StatementDigest == "" || len(a.StatementDigest) > maxDigestLen {
		errs = append(errs, fmt.Errorf("statement digest must have 1 to %d bytes", maxDigestLen))
	}
	if len(a.Envelope) == 0 {
		errs = append(errs, errors.New("no envelope"))
	}
	if a.CreatedAt.IsZero() {
		errs = append(errs, errors.New("no creation time"))
	}
	if a.LogIndex > 1<<62 {
		errs = append(errs, fmt.Errorf("log index %d out of range", a.LogIndex))
	}
	subjects := make([]string, 0, len(a.Subjects))
	for _, s := range a.Subjects {
		d, err := NormaliseDigest(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		subjects = append(subjects, d)
	}
	slices.Sort(subjects)
	subjects = slices.Compact(subjects)
	if len(subjects) == 0 || len(subjects) > maxSubjects {
		errs = append(errs, fmt.Errorf("%d subjects (1 to %d)", len(subjects), maxSubjects))
	}
	if len(errs) > 0 {
		return Attestation{}, fmt.Errorf("%w: attestation %.80q: %w", ErrInvalid, a.ID, errors.Join(errs...))
	}
	a.Subjects = subjects
	return a, nil
}

// NormaliseDigest checks "<algorithm>:<hex>" (lower-case algorithm, hex of any length) and
// lower-cases the hex, so that subjects written by different producers compare equal.
func NormaliseDigest(d string) (string, error) {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || alg == "" || hex == "" || len(d) > maxDigestLen {
		return "", fmt.Errorf("digest %.80q is not <algorithm>:<hex>", d)
	}
	for _, c := range alg {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '_' || c == '-') {
			return "", fmt.Errorf("digest %.80q: the algorithm must be lower-case", d)
		}
	}
	hex = strings.ToLower(hex)
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("digest %.80q: not hex", d)
		}
	}
	return alg + ":" + hex, nil
}

func isLogID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
