package policy

import (
	"errors"
	"strconv"
	"sync"
	"time"
)

// ErrRevisionNotFound is returned for an unknown revision id.
var ErrRevisionNotFound = errors.New("policy revision not found")

// Revision is one activated version of the policy: the audit trail's unit (the spec's
// /policy/history) and what reports name in their policy block.
type Revision struct {
	RevisionID  string    `json:"revisionId"`
	Digest      string    `json:"digest"`
	CreatedAt   Timestamp `json:"createdAt"`
	Actor       string    `json:"actor,omitempty"`
	Description string    `json:"description,omitempty"`
	Format      Format    `json:"format"`
	Content     string    `json:"content"`
}

// History is an in-memory, append-only list of revisions, numbered rev-1, rev-2, … in the
// order they were added. It is safe for concurrent use. Persistence will sit behind the same
// methods.
type History struct {
	mu   sync.Mutex
	now  func() time.Time
	revs []Revision
}

// NewHistory returns an empty history stamping revisions with now.
func NewHistory(now func() time.Time) *History {
	if now == nil {
		now = time.Now
	}
	return &History{now: now}
}

// Add records p as the newest revision and returns it with p bound to its id. Adding a policy
// whose digest equals the newest revision's creates nothing: created is false and the
// existing revision is returned, so re-importing the same policy is idempotent.
func (h *History) Add(p *Policy) (rev Revision, bound *Policy, created bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.revs); n > 0 && h.revs[n-1].Digest == p.Digest() {
		last := h.revs[n-1]
		return last, p.WithRevisionID(last.RevisionID), false
	}
	src := p.Source()
	rev = Revision{
		RevisionID:  "rev-" + strconv.Itoa(len(h.revs)+1),
		Digest:      p.Digest(),
		CreatedAt:   Timestamp(h.now().UTC()),
		Actor:       src.Actor,
		Description: src.Description,
		Format:      src.Format,
		Content:     src.Content,
	}
	h.revs = append(h.revs, rev)
	return rev, p.WithRevisionID(rev.RevisionID), true
}

// Latest is the newest revision; ok is false when there is none.
func (h *History) Latest() (Revision, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.revs) == 0 {
		return Revision{}, false
	}
	return h.revs[len(h.revs)-1], true
}

// Get returns the revision with id.
func (h *History) Get(id string) (Revision, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.revs {
		if r.RevisionID == id {
			return r, nil
		}
	}
	return Revision{}, ErrRevisionNotFound
}

// List returns up to limit revisions, newest first, skipping offset; total is the count of
// all revisions.
func (h *History) List(offset, limit int) (revs []Revision, total int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	total = len(h.revs)
	for i := total - 1 - max(offset, 0); i >= 0 && len(revs) < limit; i-- {
		revs = append(revs, h.revs[i])
	}
	return revs, total
}
