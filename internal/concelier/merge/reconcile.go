package merge

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// Store is what reconcile needs of Concelier's store.
type Store interface {
	store.Mapped
	store.Merged
}

// Reconcile reads every record the named sources mapped, merges them and publishes the merged
// set with its events in one transaction: a failed run leaves the previous set in place.
func Reconcile(ctx context.Context, st Store, sources []string, prec Precedence, runID string, now func() time.Time) (*Result, error) {
	var inputs []Input
	for _, src := range sources {
		for rec, err := range st.MappedBySource(ctx, src) {
			if err != nil {
				return nil, fmt.Errorf("merge: reading %s: %w", src, err)
			}
			a := &advisory.Advisory{}
			if err := json.Unmarshal(rec.JSON, a); err != nil {
				return nil, fmt.Errorf("merge: %s record %s: %w", src, rec.ID, err)
			}
			name := src
			if len(a.Sources) > 0 {
				name = a.Sources[0].Source
			}
			inputs = append(inputs, Input{Key: src + "/" + rec.ID, Source: name, Advisory: a, Digest: rec.Digest})
		}
	}
	res, err := Merge(ctx, inputs, prec, runID, now())
	if err != nil {
		return nil, err
	}
	enc, err := store.EncodeAll(ctx, res.Advisories)
	if err != nil {
		return nil, err
	}
	if err := st.ReplaceMerged(ctx, runID, enc, res.Events); err != nil {
		return nil, fmt.Errorf("merge: publishing: %w", err)
	}
	res.Encoded = enc
	return res, nil
}
