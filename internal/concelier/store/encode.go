package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/canonjson"
)

// Digest returns "sha256:<hex>" of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Encode gives a's stored form. The canonical JSON is what merge digests are computed over, so
// callers usually have it already; encoding is the costly part of an ingest, not the write.
func Encode(a *advisory.Advisory) (Encoded, error) {
	if a.ID == "" {
		return Encoded{}, fmt.Errorf("encode advisory: empty id")
	}
	b, err := canonjson.Marshal(a)
	if err != nil {
		return Encoded{}, fmt.Errorf("encode advisory %s: %w", a.ID, err)
	}
	return Encoded{ID: a.ID, JSON: b, Digest: Digest(b)}, nil
}

// EncodeAll encodes advs on all CPUs, keeping their order.
func EncodeAll(ctx context.Context, advs []*advisory.Advisory) ([]Encoded, error) {
	out := make([]Encoded, len(advs))
	workers := runtime.GOMAXPROCS(0)
	g, ctx := errgroup.WithContext(ctx)
	for w := range workers {
		g.Go(func() error {
			for i := w; i < len(advs); i += workers {
				if err := ctx.Err(); err != nil {
					return err
				}
				e, err := Encode(advs[i])
				if err != nil {
					return err
				}
				out[i] = e
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// Check validates a record before a backend writes it: an ID, JSON bytes, and a digest that
// matches them (filled in when empty). Backends call it inside their write transaction.
func Check(e *Encoded) error {
	if e.ID == "" {
		return fmt.Errorf("advisory record: empty id")
	}
	if len(e.JSON) == 0 {
		return fmt.Errorf("advisory record %s: no json", e.ID)
	}
	d := Digest(e.JSON)
	if e.Digest == "" {
		e.Digest = d
	} else if e.Digest != d {
		return fmt.Errorf("advisory record %s: digest %s does not match content %s", e.ID, e.Digest, d)
	}
	return nil
}

// LastWins drops earlier records with the same (source, ID), keeping the order of the rest, so
// bulk writers never touch a row twice in one statement.
func LastWins(recs []MappedRecord) []MappedRecord {
	type key struct{ s, id string }
	last := make(map[key]int, len(recs))
	for i, r := range recs {
		last[key{r.Source, r.ID}] = i
	}
	if len(last) == len(recs) {
		return recs
	}
	out := make([]MappedRecord, 0, len(last))
	for i, r := range recs {
		if last[key{r.Source, r.ID}] == i {
			out = append(out, r)
		}
	}
	return out
}

// CanonicalJSON validates and canonicalises an opaque JSON value (cursors, job parameters and
// counts), so every backend returns the same bytes whatever it stores internally.
func CanonicalJSON(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	return canonjson.Transform(b)
}
