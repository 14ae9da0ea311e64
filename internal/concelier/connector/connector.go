// Package connector holds what every Concelier source connector shares: the fetch modes of the
// spec's `db fetch --mode`, the default host of a source, and the parse stage. The connectors live in its subpackages, one per source.
package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/fetch"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// Mode is how a fetch treats its source's cursor.
type Mode string

// Modes, as `db fetch --mode` names them.
const (
	// ModeInit ignores the cursor: everything is fetched again.
	ModeInit Mode = "init"
	// ModeResume fetches nothing new; parse and map go on with what is pending.
	ModeResume Mode = "resume"
	// ModeCursor fetches only what changed since the cursor (conditional requests, windows).
	ModeCursor Mode = "cursor"
)

// ParseMode checks a mode name; empty means cursor.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "":
		return ModeCursor, nil
	case ModeInit, ModeResume, ModeCursor:
		return Mode(s), nil
	}
	return "", fmt.Errorf("unknown mode %q (want init, resume or cursor)", s)
}

// HostOf is the host of a source's base URL, the one host its HTTP client is allowed by default.
func HostOf(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return "", fmt.Errorf("base URL %q is not an http(s) URL", base)
	}
	return u.Hostname(), nil
}

// NewClient is a source's HTTP client: fc, with the allowed hosts defaulting to base's host and
// the clock to now.
func NewClient(fc fetch.Config, base string, now func() time.Time) (*fetch.Client, error) {
	if len(fc.AllowedHosts) == 0 {
		host, err := HostOf(base)
		if err != nil {
			return nil, err
		}
		fc.AllowedHosts = []string{host}
	}
	if fc.Now == nil {
		fc.Now = now
	}
	return fetch.New(fc), nil
}

// LoadCursor reads source's cursor into cur (a pointer); with none stored, cur is left as it is.
func LoadCursor(ctx context.Context, st store.Cursors, source string, cur any) error {
	raw, err := st.GetCursor(ctx, source)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, cur); err != nil {
		return fmt.Errorf("%s cursor: %w", source, err)
	}
	return nil
}

// SaveCursor stores cur as source's cursor. encoding/json writes map keys sorted, so equal
// cursors are equal bytes.
func SaveCursor(ctx context.Context, st store.Cursors, source string, cur any) error {
	b, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	return st.SetCursor(ctx, source, b)
}

// Stored counts what storing fetched documents did; every source's FetchStats embeds it.
type Stored struct {
	Created   int `json:"created"`
	Replaced  int `json:"replaced"`
	Unchanged int `json:"unchanged"`
}

// Count records one PutDocument outcome.
func (s *Stored) Count(out store.PutOutcome) {
	switch out {
	case store.Created:
		s.Created++
	case store.Replaced:
		s.Replaced++
	case store.Unchanged:
		s.Unchanged++
	}
}

// BatchSize bounds how many documents a stage reads and writes per store call.
const BatchSize = 4096

// Checked counts what a parse stage did.
type Checked struct {
	Documents int
	OK        int
	Failed    int
	Errors    []advisory.DocError
}

// Check is every connector's parse stage: it walks the source's pending documents in batches,
// runs check on each (on all CPUs; check must only read the document), and marks each parsed, or
// failed with check's error as the reason. A document that changed meanwhile is left pending.
func Check(ctx context.Context, st store.Documents, source string, check func(store.Document) error) (Checked, error) {
	var c Checked
	after := ""
	for {
		docs, err := st.ListDocumentsAfter(ctx, source, store.StatusPendingParse, after, BatchSize)
		if err != nil || len(docs) == 0 {
			return c, err
		}
		errs := make([]error, len(docs))
		g, gctx := errgroup.WithContext(ctx)
		workers := runtime.GOMAXPROCS(0)
		for w := range workers {
			g.Go(func() error {
				for i := w; i < len(docs); i += workers {
					if err := gctx.Err(); err != nil {
						return err
					}
					errs[i] = check(docs[i])
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return c, err
		}
		updates := make([]store.StatusUpdate, len(docs))
		for i, d := range docs {
			c.Documents++
			u := store.StatusUpdate{Source: source, URI: d.URI, Digest: d.Digest, Status: store.StatusParsed}
			if errs[i] != nil {
				u.Status, u.Reason = store.StatusFailed, errs[i].Error()
				c.Failed++
				c.Errors = append(c.Errors, advisory.DocError{Document: d.URI, Reason: u.Reason})
			} else {
				c.OK++
			}
			updates[i] = u
		}
		if _, err := st.SetDocumentStatuses(ctx, updates); err != nil {
			return c, err
		}
		after = docs[len(docs)-1].URI
	}
}
