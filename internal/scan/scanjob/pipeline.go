package scanjob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/klauspost/compress/zstd"

	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/indexer"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/policyinput"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/scan"
	"github.com/stellaops/stellaops/internal/scan/scanstore"
	"github.com/stellaops/stellaops/internal/target"
)

// PolicySource returns the active policy and its revision; ok=false when none is active.
type PolicySource func(ctx context.Context) (p *policy.Policy, rev policy.Revision, ok bool, err error)

// Pipeline scans one target: inventory (reusing cached layer inventories), match against the
// current advisory snapshot, policy evaluation. It is safe for concurrent use.
type Pipeline struct {
	Snapshots *snapshot.Store
	Analyzers []analyzer.Analyzer
	Cache     *LayerCache
	Decoder   *sbom.Decoder
	// TempDir receives expanded archives and spooled files.
	TempDir string
	Limits  image.Limits
	// Policy may be nil: the policy status is then decided at the threshold alone.
	Policy PolicySource
	// PolicyConfig configures the threshold-only policy (its Now is the clock).
	PolicyConfig policy.Config
	Match        match.Config
	Now          func() time.Time
	Log          *slog.Logger

	seedMu   sync.Mutex
	fallback func() (*policy.Policy, error)
	once     sync.Once
}

// Target is what one run scans: exactly one of Inventory (an SBOM decoded already), Delta (a
// delta SBOM, stacked with this replica's cached layers), Path (a local file or directory: an
// upload, an allowed local image) and Reference (a registry image).
type Target struct {
	Inventory  *inventory.Inventory
	Delta      *indexer.Delta
	Path       string
	Reference  string
	SBOMFormat sbom.Format
	// SBOMOnly refuses a Path that is an image archive (POST /scan?sbom-only=true).
	SBOMOnly bool
	// Insecure allows a plain-HTTP registry.
	Insecure bool
	// WantDigest, when set, fails the scan unless the scanned artefact has this digest.
	WantDigest string
}

// Progress receives progress messages; it must not block.
type Progress func(message string, data map[string]any)

// PolicyRef says which policy decided the policy status.
type PolicyRef struct {
	// Source is "active" (the imported policy) or "threshold" (none is active: the status
	// is blocked when an unsuppressed finding reaches the threshold, otherwise pass).
	Source     string `json:"source"`
	RevisionID string `json:"revisionId,omitempty"`
	Digest     string `json:"digest,omitempty"`
	Threshold  string `json:"threshold"`
}

// Outcome is what a scan found, as stored with the scan and returned by the API.
type Outcome struct {
	Digest       string           `json:"digest"`
	Target       inventory.Target `json:"target"`
	Summary      match.Summary    `json:"summary"`
	PolicyStatus string           `json:"policyStatus"`
	Policy       PolicyRef        `json:"policy"`
	Snapshot     string           `json:"snapshot"`
	Findings     int              `json:"findings"`
	Components   int              `json:"components"`
	Notes        []string         `json:"notes,omitempty"`
}

// Permanent marks errors a retry cannot fix (bad input, a missing image, no access).
type Permanent struct{ Err error }

func (e *Permanent) Error() string { return e.Err.Error() }
func (e *Permanent) Unwrap() error { return e.Err }

func permanent(format string, args ...any) error { return &Permanent{fmt.Errorf(format, args...)} }

// IsPermanent reports whether err is not worth retrying.
func IsPermanent(err error) bool {
	var p *Permanent
	var te *transport.Error
	var bad *name.ErrBadName
	switch {
	case errors.As(err, &p), errors.As(err, &bad), errors.Is(err, image.ErrHostile), errors.Is(err, image.ErrNotImage),
		errors.Is(err, image.ErrDiffIDMismatch), errors.Is(err, sbom.ErrInvalid), errors.Is(err, ErrURLRefused),
		errors.Is(err, fs.ErrNotExist), errors.Is(err, policy.ErrInputTooLarge):
		return true
	case errors.As(err, &te):
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusBadRequest:
			return true
		}
	}
	return false
}

func (p *Pipeline) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// snapshot opens the current snapshot, building the bundled one first in a store that has
// none (once per process at a time).
func (p *Pipeline) snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	snap, err := p.Snapshots.Current()
	if err == nil || !errors.Is(err, snapshot.ErrNoSnapshot) {
		return snap, err
	}
	p.seedMu.Lock()
	defer p.seedMu.Unlock()
	snap, seeded, err := scan.EnsureSnapshot(ctx, p.Snapshots)
	if seeded {
		p.log().InfoContext(ctx, "built the advisory snapshot from the bundled data", "component", "scanjob", "snapshot", snap.Digest())
	}
	return snap, err
}

// Run scans t. threshold "" keeps the policy's own.
func (p *Pipeline) Run(ctx context.Context, t Target, threshold policy.Level, progress Progress) (*Outcome, *scan.Result, error) {
	if progress == nil {
		progress = func(string, map[string]any) {}
	}
	inv := t.Inventory
	if inv == nil {
		var err error
		if inv, err = p.inventory(ctx, t, progress); err != nil {
			return nil, nil, err
		}
	}
	if t.WantDigest != "" && inv.Target.Digest != t.WantDigest {
		return nil, nil, permanent("the image has digest %s, not the requested %s", inv.Target.Digest, t.WantDigest)
	}
	snap, err := p.snapshot(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("advisory snapshot: %w", err)
	}
	defer snap.Close()
	progress("matching", map[string]any{"components": len(inv.Components), "snapshot": snap.Digest()})
	res, err := scan.MatchInventory(ctx, inv, snap, p.Match)
	if err != nil {
		return nil, nil, err
	}
	out := &Outcome{Digest: policyinput.SubjectDigest(res.Target), Target: res.Target, Summary: res.Summary, Snapshot: res.Snapshot.Digest,
		Findings: len(res.Findings), Components: len(inv.Components), Notes: res.Notes}
	if err := p.evaluate(ctx, res, threshold, out); err != nil {
		return nil, nil, err
	}
	progress("policy "+out.PolicyStatus, map[string]any{"policyStatus": out.PolicyStatus, "policySource": out.Policy.Source})
	return out, res, nil
}

// indexer is an indexer of this pipeline's analyzers and cache, reporting layer progress.
func (p *Pipeline) indexer(progress Progress) *indexer.Indexer {
	if progress == nil {
		progress = func(string, map[string]any) {}
	}
	return indexer.New(indexer.Config{Analyzers: p.Analyzers, Cache: p.Cache, Limits: p.Limits, TempDir: p.TempDir, Logger: p.Log,
		Progress: func(ip indexer.Progress) {
			var verb string
			switch ip.State {
			case "cached", "supplied":
				verb = ip.State
			case "analyzing":
				verb = "analysing"
			case "done":
				verb = "analysed"
			default:
				return // byte counts would flood the stream
			}
			progress(fmt.Sprintf("layer %d/%d %s", ip.Layer+1, ip.Layers, verb),
				map[string]any{"layer": ip.Layer + 1, "layers": ip.Layers, "diffId": ip.DiffID})
		}})
}

// CheckDelta refuses a delta SBOM this replica cannot stack (schema, analyzer set, layer
// list), before it is accepted as a scan.
func (p *Pipeline) CheckDelta(d *indexer.Delta) error {
	return p.indexer(nil).CheckDelta(d)
}

func (p *Pipeline) inventory(ctx context.Context, t Target, progress Progress) (*inventory.Inventory, error) {
	if t.Delta != nil {
		res, err := p.indexer(progress).Compose(ctx, t.Delta)
		if err != nil {
			// The same delta fails the same way: the sender must supply the layers named.
			return nil, &Permanent{err}
		}
		return res.Inventory, nil
	}
	arg := t.Path
	if t.SBOMOnly && arg != "" {
		isTar, err := target.LooksLikeTar(arg)
		if err != nil {
			return nil, err
		}
		if isTar {
			return nil, permanent("the upload is an image archive, but an SBOM was asked for (sbom-only or X-Stella-Sbom-Type)")
		}
	}
	if arg == "" {
		arg = t.Reference
		progress("pulling", map[string]any{"reference": t.Reference})
	}
	x := p.indexer(progress)
	opts := target.Options{Indexer: x, Decoder: p.Decoder, SBOMFormat: t.SBOMFormat,
		Image: image.Options{TempDir: p.TempDir, Limits: p.Limits, Insecure: t.Insecure}}
	res, err := target.Inventory(ctx, arg, opts)
	if err != nil {
		if t.Path != "" && ctx.Err() == nil {
			// A local file (an upload, an allowed local image) reads the same on every
			// attempt: what fails now fails again.
			return nil, &Permanent{err}
		}
		return nil, err
	}
	if res.Index != nil && p.Cache != nil && p.Cache.Store != nil {
		names := make([]scanstore.LayerName, 0, len(res.Inventory.Layers))
		for _, l := range res.Inventory.Layers {
			names = append(names, scanstore.LayerName{DiffID: l.DiffID, Digest: l.Digest})
		}
		// The names serve /layers/missing; failing to record them costs a later client an
		// upload, never this scan.
		if err := p.Cache.Store.NameLayers(ctx, x.Fingerprint(), names, p.Now()); err != nil {
			p.log().WarnContext(ctx, "recording cached layers failed", "component", "scanjob", "error", err)
		}
	}
	return res.Inventory, nil
}

// evaluate decides the policy status with the active policy, or at the threshold alone when
// none is active.
func (p *Pipeline) evaluate(ctx context.Context, res *scan.Result, threshold policy.Level, out *Outcome) error {
	var pol *policy.Policy
	if p.Policy != nil {
		ap, rev, ok, err := p.Policy(ctx)
		if err != nil {
			return fmt.Errorf("active policy: %w", err)
		}
		if ok {
			pol = ap
			out.Policy = PolicyRef{Source: "active", RevisionID: rev.RevisionID, Digest: ap.Digest()}
		}
	}
	if pol == nil {
		fb, err := p.fallbackPolicy()
		if err != nil {
			return err
		}
		pol = fb
		out.Policy = PolicyRef{Source: "threshold"}
	}
	r, err := pol.Evaluate(ctx, policy.Input{ImageDigest: out.Digest, Findings: policyinput.Findings(res.Findings, policyinput.RecordedVEX(res.Findings)), Threshold: threshold})
	if err != nil {
		return fmt.Errorf("policy evaluation: %w", err)
	}
	out.PolicyStatus, out.Policy.Threshold = string(r.PolicyStatus), string(r.Threshold)
	return nil
}

// thresholdPolicy has no rules: every finding passes its rule stage and the status is
// decided at the threshold, as `stellaops-cli scan run` does without --policy-file.
const thresholdPolicy = "version: \"1.0\"\nrules: []\n"

func (p *Pipeline) fallbackPolicy() (*policy.Policy, error) {
	p.once.Do(func() {
		pol, err := policy.New(p.PolicyConfig).Compile(context.Background(),
			policy.Source{Format: policy.FormatYAML, Content: thresholdPolicy, Actor: "stellaops"})
		p.fallback = func() (*policy.Policy, error) { return pol, err }
	})
	return p.fallback()
}

// EncodeResult is the stored form of a result: its JSON, zstd-compressed.
func EncodeResult(res *scan.Result) ([]byte, error) {
	if res.Findings == nil {
		cp := *res
		cp.Findings = []match.Finding{} // the document has a list, never null
		res = &cp
	}
	var raw bytes.Buffer
	enc := json.NewEncoder(&raw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(res); err != nil {
		return nil, fmt.Errorf("scanjob: encode result: %w", err)
	}
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("scanjob: encode result: %w", err)
	}
	defer zw.Close()
	return zw.EncodeAll(raw.Bytes(), nil), nil
}

// maxResult bounds a decoded stored result.
const maxResult = 1 << 30

// DecodeResultJSON returns the JSON of a stored result.
func DecodeResultJSON(b []byte) ([]byte, error) {
	zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxResult))
	if err != nil {
		return nil, fmt.Errorf("scanjob: decode result: %w", err)
	}
	defer zr.Close()
	raw, err := zr.DecodeAll(b, nil)
	if err != nil {
		return nil, fmt.Errorf("scanjob: decode result: %w", err)
	}
	return raw, nil
}

// DecodeResult returns a stored result.
func DecodeResult(b []byte) (*scan.Result, error) {
	raw, err := DecodeResultJSON(b)
	if err != nil {
		return nil, err
	}
	var res scan.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("scanjob: decode result: %w", err)
	}
	return &res, nil
}
