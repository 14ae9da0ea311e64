package indexer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/inventory"
)

// DeltaSchema is the schema version of a delta SBOM (spec §2.2: the client asks which layers
// the server lacks, then sends the inventory of those only).
const DeltaSchema = "stellaops.delta-sbom/v1"

// DeltaMediaType is the Content-Type of a delta SBOM on POST /scan.
const DeltaMediaType = "application/vnd.stellaops.delta-sbom+json"

// Delta is an image described by all its layers, with the layer results of the layers the
// receiver does not have. A layer result, not a plain SBOM, is what travels: stacking needs
// each layer's whiteouts, opaque directories, symlinks and owned files, which an SBOM loses.
type Delta struct {
	SchemaVersion string `json:"schemaVersion"`
	// Fingerprint is the sender's analyzer set; results of another set do not stack with the
	// receiver's cached ones.
	Fingerprint string            `json:"fingerprint"`
	Target      inventory.Target  `json:"target"`
	Layers      []inventory.Layer `json:"layers"`
	// Supplied are the results of some of Layers, each naming its DiffID.
	Supplied []*LayerResult `json:"supplied"`
}

// maxDeltaLayers bounds Delta.Layers (no real image comes near it).
const maxDeltaLayers = 512

// ErrDeltaInvalid wraps what is wrong with a delta document.
var ErrDeltaInvalid = errors.New("invalid delta SBOM")

// MissingLayersError is Compose's answer when a layer is neither supplied nor cached (the
// cache dropped it since the sender asked): the sender supplies those and tries again.
type MissingLayersError struct{ DiffIDs []string }

func (e *MissingLayersError) Error() string {
	return fmt.Sprintf("%d layer(s) neither supplied nor cached: %s", len(e.DiffIDs), strings.Join(e.DiffIDs, ", "))
}

// AnalyzeLayers analyses the layers of img that want selects (all when want is nil), as
// IndexImage would, without the cache, and returns their results in layer order: the
// supplied part of a Delta. Only the selected layers are read (or downloaded).
func (x *Indexer) AnalyzeLayers(ctx context.Context, img *image.Image, want func(diffID string) bool) ([]*LayerResult, error) {
	tmp, err := os.MkdirTemp(x.cfg.TempDir, "stellaops-index-*")
	if err != nil {
		return nil, fmt.Errorf("index: temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	results := make([]*LayerResult, len(img.Layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(x.cfg.Parallel)
	n := len(img.Layers)
	for i, l := range img.Layers {
		if want != nil && !want(l.DiffID) {
			x.progress(Progress{Layer: i, Layers: n, DiffID: l.DiffID, State: "cached"})
			continue
		}
		g.Go(func() error {
			x.progress(Progress{Layer: i, Layers: n, DiffID: l.DiffID, State: "analyzing"})
			lr, err := x.analyzeLayer(gctx, img, i, tmp, func(b int64) {
				x.progress(Progress{Layer: i, Layers: n, DiffID: l.DiffID, State: "reading", Bytes: b})
			})
			if err != nil {
				return fmt.Errorf("layer %d (%s): %w", i, l.DiffID, err)
			}
			lr.DiffID = l.DiffID
			results[i] = lr
			x.progress(Progress{Layer: i, Layers: n, DiffID: l.DiffID, State: "done", Bytes: lr.Bytes})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := results[:0]
	for _, r := range results {
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// Delta builds the delta document of img with supplied results (from AnalyzeLayers).
func (x *Indexer) Delta(img *image.Image, supplied []*LayerResult) *Delta {
	if supplied == nil {
		supplied = []*LayerResult{}
	}
	return &Delta{SchemaVersion: DeltaSchema, Fingerprint: x.fingerprint, Target: img.Target, Layers: img.Layers, Supplied: supplied}
}

// Compose stacks a delta into the image's inventory: supplied results where given, the
// cache's elsewhere. Supplied results are used for this inventory only and never cached:
// they are the sender's word, and the cache is shared by every caller. LayerStatus.Supplied
// tells the layers that came with the delta.
func (x *Indexer) Compose(ctx context.Context, d *Delta) (*Result, error) {
	if err := x.CheckDelta(d); err != nil {
		return nil, err
	}
	byID := make(map[string]*LayerResult, len(d.Supplied))
	for _, lr := range d.Supplied {
		byID[lr.DiffID] = lr
	}
	results := make([]*LayerResult, len(d.Layers))
	status := make([]LayerStatus, len(d.Layers))
	var missing []string
	for i, l := range d.Layers {
		status[i].DiffID = l.DiffID
		if lr, ok := byID[l.DiffID]; ok {
			results[i], status[i].Supplied = lr, true
		} else if lr := x.cached(ctx, l.DiffID); lr != nil {
			results[i], status[i].Cached = lr, true
		} else {
			missing = append(missing, l.DiffID)
			continue
		}
		status[i].Entries, status[i].Bytes = results[i].Entries, results[i].Bytes
		state := "cached"
		if status[i].Supplied {
			state = "supplied"
		}
		x.progress(Progress{Layer: i, Layers: len(d.Layers), DiffID: l.DiffID, State: state, Bytes: results[i].Bytes})
	}
	if len(missing) > 0 {
		return nil, &MissingLayersError{DiffIDs: missing}
	}
	inv, presence, err := x.stack(results, d.Layers)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDeltaInvalid, err)
	}
	inv.Target, inv.Layers = d.Target, d.Layers
	return &Result{Inventory: inv, Layers: status, Presence: presence}, nil
}

// CheckDelta reports what makes d unusable by this indexer (wrapping ErrDeltaInvalid).
func (x *Indexer) CheckDelta(d *Delta) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrDeltaInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case d.SchemaVersion != DeltaSchema:
		return bad("schemaVersion %q: this server reads %s", d.SchemaVersion, DeltaSchema)
	case d.Fingerprint != x.fingerprint:
		return bad("fingerprint %q: the layers were analysed by another analyzer set than this server's %s; send the whole image", d.Fingerprint, x.fingerprint)
	case len(d.Layers) == 0:
		return bad("layers: the image has none")
	case len(d.Layers) > maxDeltaLayers:
		return bad("layers: %d, at most %d", len(d.Layers), maxDeltaLayers)
	}
	seen := make(map[string]bool, len(d.Layers))
	for i, l := range d.Layers {
		if !isSHA256(l.DiffID) {
			return bad("layers[%d].diffId %q is not a sha256 digest", i, l.DiffID)
		}
		seen[l.DiffID] = true
	}
	dup := map[string]bool{}
	for i, lr := range d.Supplied {
		switch {
		case lr == nil:
			return bad("supplied[%d] is null", i)
		case !seen[lr.DiffID]:
			return bad("supplied[%d].diffId %q is not one of the layers", i, lr.DiffID)
		case dup[lr.DiffID]:
			return bad("supplied[%d].diffId %q is supplied twice", i, lr.DiffID)
		case lr.Format != layerFormat || lr.Fingerprint != x.fingerprint:
			return bad("supplied[%d]: format %d and fingerprint %q; want %d and %s", i, lr.Format, lr.Fingerprint, layerFormat, x.fingerprint)
		}
		dup[lr.DiffID] = true
	}
	return nil
}

// isSHA256 reports whether s is "sha256:" and 64 lower-case hex digits, as diff IDs are.
func isSHA256(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	for _, c := range h {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
