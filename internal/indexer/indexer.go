// Package indexer builds the inventory of an image or a root filesystem: it runs the analyzers
// over each layer exactly once (reusing cached layer results keyed by diff ID and analyzer
// fingerprint), stacks the layer results the way a container runtime stacks layers, and returns
// a sorted inventory recording which layer introduced each component.
//
// It owns no formats and no storage: analyzers come from internal/analyzer, images from
// internal/image, and the cache is any LayerCache (a directory, later a database).
package indexer

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/inventory"
)

// ErrCacheMiss is returned by LayerCache.Get when nothing is stored under the key.
var ErrCacheMiss = errors.New("layer cache miss")

// LayerCache stores encoded layer results. Keys are "<analyzer fingerprint>/<diff ID>".
// Implementations must be safe for concurrent use.
type LayerCache interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, value []byte) error
}

// Config configures an Indexer.
type Config struct {
	Analyzers []analyzer.Analyzer
	// Cache may be nil: every layer is then analysed.
	Cache LayerCache
	// Limits bound the walk; zero fields take image.DefaultLimits.
	Limits image.Limits
	// TempDir is where each index run makes its private temporary directory.
	TempDir string
	// Parallel is how many layers are analysed at once (default: min(2, GOMAXPROCS)).
	Parallel int
	// Progress, if set, receives progress events; it must not block.
	Progress func(Progress)
	Logger   *slog.Logger
}

// Progress reports one step of an index run.
type Progress struct {
	Layer  int // index, base = 0
	Layers int
	DiffID string
	// State is "cached", "analyzing", "reading" (Bytes read so far) or "done".
	State string
	Bytes int64
}

// LayerStatus says how one layer's result was obtained.
type LayerStatus struct {
	DiffID string `json:"diffId"`
	Cached bool   `json:"cached"`
	// Supplied: the result came with a delta SBOM (Compose), not from this indexer.
	Supplied bool          `json:"supplied,omitempty"`
	Entries  int           `json:"entries"`
	Bytes    int64         `json:"bytes"`
	Duration time.Duration `json:"duration"`
}

// Result is the outcome of indexing an image.
type Result struct {
	Inventory *inventory.Inventory
	Layers    []LayerStatus
	// Presence maps each component key to the indexes of the layers whose copy of its file held
	// it (the BOM-index bitmap).
	Presence map[string][]int
}

// Indexer builds inventories. It is safe for concurrent use.
type Indexer struct {
	cfg         Config
	fingerprint string
}

// New returns an Indexer.
func New(cfg Config) *Indexer {
	cfg.Limits = cfg.Limits.Normalized()
	if cfg.Parallel <= 0 {
		cfg.Parallel = min(2, runtime.GOMAXPROCS(0))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	return &Indexer{cfg: cfg, fingerprint: analyzer.Fingerprint(cfg.Analyzers)}
}

// Fingerprint identifies the analyzer set; it is the first half of every cache key.
func (x *Indexer) Fingerprint() string { return x.fingerprint }

// CacheKey is the layer cache key for a diff ID under this indexer's analyzers.
func (x *Indexer) CacheKey(diffID string) string { return x.fingerprint + "/" + diffID }

func (x *Indexer) progress(p Progress) {
	if x.cfg.Progress != nil {
		x.cfg.Progress(p)
	}
}

// IndexImage inventories an opened image. Layers whose results are cached are not read at all
// (for registry images they are not even downloaded).
func (x *Indexer) IndexImage(ctx context.Context, img *image.Image) (*Result, error) {
	tmp, err := os.MkdirTemp(x.cfg.TempDir, "stellaops-index-*")
	if err != nil {
		return nil, fmt.Errorf("index: temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	n := len(img.Layers)
	results := make([]*LayerResult, n)
	status := make([]LayerStatus, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(x.cfg.Parallel)
	for i := range img.Layers {
		diffID := img.Layers[i].DiffID
		status[i].DiffID = diffID
		if lr := x.cached(ctx, diffID); lr != nil {
			results[i], status[i].Cached = lr, true
			status[i].Entries, status[i].Bytes = lr.Entries, lr.Bytes
			x.progress(Progress{Layer: i, Layers: n, DiffID: diffID, State: "cached", Bytes: lr.Bytes})
			continue
		}
		g.Go(func() error {
			start := time.Now()
			x.progress(Progress{Layer: i, Layers: n, DiffID: diffID, State: "analyzing"})
			lr, err := x.analyzeLayer(gctx, img, i, tmp, func(b int64) {
				x.progress(Progress{Layer: i, Layers: n, DiffID: diffID, State: "reading", Bytes: b})
			})
			if err != nil {
				return fmt.Errorf("layer %d (%s): %w", i, diffID, err)
			}
			results[i] = lr
			status[i].Entries, status[i].Bytes, status[i].Duration = lr.Entries, lr.Bytes, time.Since(start)
			x.store(gctx, diffID, lr)
			x.progress(Progress{Layer: i, Layers: n, DiffID: diffID, State: "done", Bytes: lr.Bytes})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	inv, presence, err := x.stack(results, img.Layers)
	if err != nil {
		return nil, err
	}
	inv.Target = img.Target
	inv.Layers = img.Layers
	return &Result{Inventory: inv, Layers: status, Presence: presence}, nil
}

func (x *Indexer) analyzeLayer(ctx context.Context, img *image.Image, i int, tmp string, progress func(int64)) (*LayerResult, error) {
	lr, err := img.OpenLayer(ctx, i)
	if err != nil {
		return nil, err
	}
	defer lr.Close()
	var r io.Reader = lr
	if x.cfg.Progress != nil {
		r = &progressReader{r: lr, report: progress}
	}
	res, err := x.analyze(ctx, func(ctx context.Context, visit func(*image.Entry) error) (image.WalkStats, error) {
		return image.Walk(ctx, r, x.cfg.Limits, visit)
	}, tmp)
	if err != nil {
		return nil, err
	}
	if err := lr.Finish(); err != nil {
		return nil, err
	}
	res.DiffID = img.Layers[i].DiffID
	return res, nil
}

// progressReader reports bytes read every few megabytes.
type progressReader struct {
	r       io.Reader
	n, next int64
	report  func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.advance(int64(n))
	return n, err
}

// Seek forwards to the layer reader, so archive/tar keeps skipping data without copying it.
func (p *progressReader) Seek(off int64, whence int) (int64, error) {
	s, ok := p.r.(io.Seeker)
	if !ok {
		return 0, errors.New("progress: underlying reader cannot seek")
	}
	before := p.n
	n, err := s.Seek(off, whence)
	p.advance(n - before)
	return n, err
}

func (p *progressReader) advance(n int64) {
	p.n += n
	if p.n >= p.next {
		p.report(p.n)
		p.next = p.n + 4<<20
	}
}

// stack merges layer results, base first, into one inventory.
func (x *Indexer) stack(results []*LayerResult, layers []inventory.Layer) (*inventory.Inventory, map[string][]int, error) {
	o := newOverlay()
	inv := &inventory.Inventory{}
	for i, lr := range results {
		o.apply(i, lr)
		for _, d := range lr.Diagnostics {
			if i < len(layers) {
				d.Layer = layers[i].DiffID
			}
			inv.Diagnostics = append(inv.Diagnostics, d)
		}
	}
	if !x.cfg.Limits.AllowHostileSymlinks {
		if err := o.validateSymlinks(x.cfg.Limits.MaxSymlinkDepth); err != nil {
			return nil, nil, err
		}
	}
	comps, distro, presence := o.inventory(layers)
	inv.Components, inv.Distro = comps, distro
	inv.Finalize()
	return inv, presence, nil
}

// cached returns the cached result for diffID, or nil. A broken or foreign entry is a miss.
func (x *Indexer) cached(ctx context.Context, diffID string) *LayerResult {
	if x.cfg.Cache == nil || diffID == "" {
		return nil
	}
	b, err := x.cfg.Cache.Get(ctx, x.CacheKey(diffID))
	if err != nil {
		if !errors.Is(err, ErrCacheMiss) {
			x.cfg.Logger.WarnContext(ctx, "layer cache read failed", "component", "indexer", "layer", diffID, "error", err)
		}
		return nil
	}
	lr, err := decodeLayerResult(b)
	if err != nil || lr.Format != layerFormat || lr.Fingerprint != x.fingerprint || lr.DiffID != diffID {
		x.cfg.Logger.WarnContext(ctx, "layer cache entry unusable; analysing again", "component", "indexer", "layer", diffID, "error", err)
		return nil
	}
	return lr
}

func (x *Indexer) store(ctx context.Context, diffID string, lr *LayerResult) {
	if x.cfg.Cache == nil || diffID == "" {
		return
	}
	b, err := encodeLayerResult(lr)
	if err == nil {
		err = x.cfg.Cache.Put(ctx, x.CacheKey(diffID), b)
	}
	if err != nil {
		// A failed cache write costs time on the next scan, never correctness.
		x.cfg.Logger.WarnContext(ctx, "layer cache write failed", "component", "indexer", "layer", diffID, "error", err)
	}
}

// encodeLayerResult gives the cache's stored form: gob, zstd-compressed. The cache is private to
// this program and read on every warm scan, so decoding speed matters more than readability:
// gob reads the long path lists at memory speed where JSON scans every byte twice, and zstd
// inflates several times faster than gzip.
func encodeLayerResult(lr *LayerResult) ([]byte, error) {
	var raw bytes.Buffer
	if err := gob.NewEncoder(&raw).Encode(lr); err != nil {
		return nil, fmt.Errorf("encode layer result: %w", err)
	}
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("encode layer result: %w", err)
	}
	defer zw.Close()
	return zw.EncodeAll(raw.Bytes(), nil), nil
}

// maxLayerResult bounds a decoded cache entry (a corrupt or hostile one cannot claim more).
const maxLayerResult = 512 << 20

func decodeLayerResult(b []byte) (*LayerResult, error) {
	zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxLayerResult))
	if err != nil {
		return nil, fmt.Errorf("decode layer result: %w", err)
	}
	defer zr.Close()
	raw, err := zr.DecodeAll(b, nil)
	if err != nil {
		return nil, fmt.Errorf("decode layer result: %w", err)
	}
	var lr LayerResult
	if err := gob.NewDecoder(bytes.NewReader(raw)).Decode(&lr); err != nil {
		return nil, fmt.Errorf("decode layer result: %w", err)
	}
	return &lr, nil
}
