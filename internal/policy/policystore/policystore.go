// Package policystore keeps the policy's revisions where every replica sees them: an
// append-only history whose newest revision is the active policy (the spec's
// /policy/history audit trail and what /policy/export serves). It stores sources and their
// digests; it never parses or compiles a policy, which is internal/policy's job.
//
// Backends: sqlitestore (embedded) and pgstore (replicas sharing PostgreSQL); both pass the
// storetest conformance suite.
package policystore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stellaops/stellaops/internal/policy"
)

// ErrNotFound is returned for an unknown revision, and by Active when nothing was ever
// imported.
var ErrNotFound = errors.New("policystore: revision not found")

// ErrInvalid is wrapped by Append for a revision the store refuses (unknown format, a digest
// that is not hex SHA-256, text that is not valid UTF-8 or contains NUL).
var ErrInvalid = errors.New("policystore: invalid revision")

// Store is the revision history. Implementations are safe for concurrent use, and every
// handle on the same database (another replica) sees a completed Append at once.
type Store interface {
	// Append records rev as the newest, and so active, revision, numbered one after the
	// newest. When the newest revision already has rev's digest nothing is written: the
	// newest is returned with created false, so importing the same policy twice is
	// idempotent. Appends are serialised across handles, so revision numbers are dense and
	// the digest check and the insert are one step.
	Append(ctx context.Context, rev NewRevision) (r Revision, created bool, err error)
	// Active returns the newest revision without its Content; ErrNotFound when there is none.
	// It is cheap (one index probe): callers use it to notice imports made elsewhere.
	Active(ctx context.Context) (Revision, error)
	// Get returns revision seq with its Content.
	Get(ctx context.Context, seq int64) (Revision, error)
	// List returns up to limit revisions with Seq below before (0: from the newest), newest
	// first, without Content. limit <= 0 returns none.
	List(ctx context.Context, before int64, limit int) ([]Revision, error)
	Close() error
}

// NewRevision is what Append records.
type NewRevision struct {
	// Digest is the policy's digest (policy.Policy.Digest: 64 lower-case hex digits).
	Digest string
	Format policy.Format
	// Content is the source as submitted, byte for byte.
	Content     string
	Actor       string
	Description string
	// CreatedAt is kept to the millisecond, in UTC.
	CreatedAt time.Time
}

// Revision is one stored revision.
type Revision struct {
	// Seq numbers revisions 1, 2, … in append order; the revision id is "rev-<Seq>".
	Seq         int64
	Digest      string
	Format      policy.Format
	Content     string
	Actor       string
	Description string
	CreatedAt   time.Time
}

// ID is the revision id, "rev-<Seq>" (the spec's "rev-12").
func (r Revision) ID() string { return FormatID(r.Seq) }

// Policy is r in internal/policy's type, as reports and the API show revisions.
func (r Revision) Policy() policy.Revision {
	return policy.Revision{RevisionID: r.ID(), Digest: r.Digest, CreatedAt: policy.Timestamp(r.CreatedAt.UTC()),
		Actor: r.Actor, Description: r.Description, Format: r.Format, Content: r.Content}
}

const idPrefix = "rev-"

// FormatID is the revision id of seq.
func FormatID(seq int64) string { return idPrefix + strconv.FormatInt(seq, 10) }

// ParseID reads a revision id ("rev-12"): a positive number without sign or leading zeros,
// so every revision has exactly one id.
func ParseID(id string) (int64, bool) {
	num, ok := strings.CutPrefix(id, idPrefix)
	if !ok || num == "" || num[0] < '1' || num[0] > '9' {
		return 0, false
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return 0, false
		}
	}
	seq, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, false
	}
	return seq, true
}

// Check validates rev as every backend must before writing it; the returned copy has
// CreatedAt in UTC, truncated to the millisecond. Backends call it so that both refuse the
// same input (PostgreSQL would refuse NUL and invalid UTF-8 only halfway through a write).
func Check(rev NewRevision) (NewRevision, error) {
	if rev.Format != policy.FormatYAML && rev.Format != policy.FormatRego {
		return rev, fmt.Errorf("%w: format %q (yaml or rego)", ErrInvalid, rev.Format)
	}
	if len(rev.Digest) != 64 || strings.Trim(rev.Digest, "0123456789abcdef") != "" {
		return rev, fmt.Errorf("%w: digest %q is not a hex SHA-256", ErrInvalid, rev.Digest)
	}
	for name, v := range map[string]string{"content": rev.Content, "actor": rev.Actor, "description": rev.Description} {
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return rev, fmt.Errorf("%w: %s is not UTF-8 text without NUL", ErrInvalid, name)
		}
	}
	if rev.CreatedAt.IsZero() {
		return rev, fmt.Errorf("%w: no creation time", ErrInvalid)
	}
	rev.CreatedAt = rev.CreatedAt.UTC().Truncate(time.Millisecond)
	return rev, nil
}
