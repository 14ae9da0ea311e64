// Package concelier runs Concelier's jobs by name — source:<id>:<stage>, merge:reconcile,
// export:json, export:trivy-db — over a store, a data directory and a clock. The CLI's
// `stellaops concelier run` and, later, the server's /jobs endpoints both call Service.Run, so a
// job means the same thing whoever triggers it.
//
// A merge publishes its result twice: into the store (the merged set and its events) and as a new
// advisory snapshot in the data directory, which the next scan picks up while running scans keep
// the one they opened.
package concelier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/concelier/connector/alpine"
	"github.com/stellaops/stellaops/internal/concelier/connector/debian"
	"github.com/stellaops/stellaops/internal/concelier/connector/kev"
	"github.com/stellaops/stellaops/internal/concelier/connector/nvd"
	"github.com/stellaops/stellaops/internal/concelier/connector/osv"
	"github.com/stellaops/stellaops/internal/concelier/connector/redhat"
	"github.com/stellaops/stellaops/internal/concelier/connector/ubuntu"
	"github.com/stellaops/stellaops/internal/concelier/export/trivydb"
	"github.com/stellaops/stellaops/internal/concelier/jobs"
	"github.com/stellaops/stellaops/internal/concelier/jsontree"
	"github.com/stellaops/stellaops/internal/concelier/merge"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/pgstore"
	"github.com/stellaops/stellaops/internal/concelier/store/sqlitestore"
)

// ErrUnknownJob is returned for a job name no handler serves; ErrInvalidOptions for options the
// job cannot take. Both are refused before the job starts.
var (
	ErrUnknownJob     = errors.New("unknown job")
	ErrInvalidOptions = errors.New("invalid options")
)

// Sources are the connectors this build has, by source ID.
var Sources = []string{alpine.SourceID, debian.SourceID, kev.SourceID, nvd.SourceID, osv.SourceID, redhat.SourceID, ubuntu.SourceID}

// OpenStore opens the store: PostgreSQL when dsn is a postgres:// URL, else the embedded SQLite
// database under dataDir.
func OpenStore(ctx context.Context, dataDir, dsn string, opts store.Options) (store.Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return pgstore.Open(ctx, dsn, opts)
	}
	if dsn != "" {
		return nil, fmt.Errorf("store %q: want a postgres:// URL, or nothing for the embedded SQLite store", dsn)
	}
	dir := filepath.Join(dataDir, "concelier")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return sqlitestore.Open(ctx, filepath.Join(dir, "concelier.db"), opts)
}

// Service runs jobs.
type Service struct {
	Store store.Store
	// DataDir holds snapshots/ (what merges publish and scans read) and exports/; replicas
	// share it (the server's storage.sharedDirectory).
	DataDir string
	Now     func() time.Time
	Runner  *jobs.Runner
}

// Options are a job run's parameters.
type Options struct {
	Trigger    string   `json:"-"`
	Mode       string   `json:"mode,omitempty"`       // source jobs: init, resume, cursor
	Mirror     string   `json:"mirror,omitempty"`     // source jobs: a local copy instead of the network
	Ecosystems []string `json:"ecosystems,omitempty"` // osv: which ecosystems
	Output     string   `json:"output,omitempty"`     // exports: the directory (default under the data dir)
	Delta      bool     `json:"delta,omitempty"`      // exports: against the last full export
	NVDAPIKey  string   `json:"-"`                    // source nvd: the apiKey header (never recorded)
	// TrivyDB holds export:trivy-db's publishing switches.
	TrivyDB TrivyDBOptions `json:"trivyDb,omitzero"`
}

// TrivyDBOptions are the spec's concelier:exporters:trivyDb settings: which runs are pushed to a
// registry with ORAS and which are packed as an offline bundle.
type TrivyDBOptions struct {
	ORAS          ORASOptions   `json:"oras,omitzero"`
	OfflineBundle BundleOptions `json:"offlineBundle,omitzero"`
}

// ORASOptions: Enabled pushes to Ref (registry/repository:tag) after full runs when PublishFull
// and after delta runs when PublishDelta.
type ORASOptions struct {
	Enabled      bool   `json:"enabled,omitempty"`
	Ref          string `json:"ref,omitempty"`
	PublishFull  bool   `json:"publishFull,omitempty"`
	PublishDelta bool   `json:"publishDelta,omitempty"`
	PlainHTTP    bool   `json:"plainHttp,omitempty"`
	Username     string `json:"-"`
	Password     string `json:"-"`
}

// BundleOptions: Enabled writes offline-bundle.tar.gz for full runs when IncludeFull and for
// delta runs when IncludeDelta.
type BundleOptions struct {
	Enabled      bool `json:"enabled,omitempty"`
	IncludeFull  bool `json:"includeFull,omitempty"`
	IncludeDelta bool `json:"includeDelta,omitempty"`
}

// DefaultTrivyDBOptions are the spec's defaults: both off until enabled; once enabled, full runs
// are published and bundled, delta runs not.
func DefaultTrivyDBOptions() TrivyDBOptions {
	return TrivyDBOptions{ORAS: ORASOptions{PublishFull: true}, OfflineBundle: BundleOptions{IncludeFull: true}}
}

// Run runs job kind and returns its record and counts.
func (s *Service) Run(ctx context.Context, kind string, o Options) (store.Job, error) {
	fn, err := s.handler(kind, o)
	if err != nil {
		return store.Job{}, err
	}
	return s.Runner.Run(ctx, kind, o.Trigger, o, fn)
}

func (s *Service) handler(kind string, o Options) (func(context.Context) (any, error), error) {
	switch {
	case strings.HasPrefix(kind, "source:"):
		parts := strings.Split(kind, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%w %q: want source:<id>:<fetch|parse|map>", ErrUnknownJob, kind)
		}
		src, err := s.source(parts[1], o)
		if err != nil {
			return nil, err
		}
		switch parts[2] {
		case "fetch":
			return src.fetch, nil
		case "parse":
			return src.parse, nil
		case "map":
			return src.mapp, nil
		}
		return nil, fmt.Errorf("%w %q: stage %q (want fetch, parse or map)", ErrUnknownJob, kind, parts[2])
	case kind == "merge:reconcile":
		return s.reconcile, nil
	case kind == "export:json":
		return func(ctx context.Context) (any, error) { return s.exportJSON(ctx, o) }, nil
	case kind == "export:trivy-db":
		if r := o.TrivyDB.ORAS; r.Enabled {
			if ref, err := registry.ParseReference(r.Ref); err != nil || ref.Reference == "" {
				return nil, fmt.Errorf("%w: export:trivy-db: ORAS reference %q: want registry/repository:tag", ErrInvalidOptions, r.Ref)
			}
		}
		return func(ctx context.Context) (any, error) { return s.exportTrivy(ctx, o) }, nil
	}
	return nil, fmt.Errorf("%w %q (want source:<id>:<stage>, merge:reconcile, export:json or export:trivy-db)", ErrUnknownJob, kind)
}

// stages are one source's jobs.
type stages struct {
	fetch, parse, mapp func(context.Context) (any, error)
}

// connector is the shape every source's connector has; M is its fetch mode type.
type connector[M, F, S any] interface {
	Fetch(context.Context, M) (F, error)
	Parse(context.Context) (S, error)
	Map(context.Context) (S, error)
}

func wrap[M, F, S any](c connector[M, F, S], mode M) *stages {
	return &stages{
		fetch: func(ctx context.Context) (any, error) { return c.Fetch(ctx, mode) },
		parse: func(ctx context.Context) (any, error) { return c.Parse(ctx) },
		mapp:  func(ctx context.Context) (any, error) { return c.Map(ctx) },
	}
}

// build makes a connector and parses the mode with the source's own functions.
func build[M, F, S any, C connector[M, F, S]](parse func(string) (M, error), mode string, c C, err error) (*stages, error) {
	if err != nil {
		return nil, err
	}
	m, err := parse(mode)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return wrap[M, F, S](c, m), nil
}

// source builds the connector of a source ID with the run's options.
func (s *Service) source(id string, o Options) (*stages, error) {
	switch id {
	case osv.SourceID:
		if o.Mirror == "" && len(o.Ecosystems) == 0 {
			return nil, fmt.Errorf("%w: source osv: name the ecosystems (--ecosystem) or a mirror (--mirror)", ErrInvalidOptions)
		}
		c, err := osv.New(s.Store, osv.Config{Mirror: o.Mirror, Ecosystems: o.Ecosystems, Now: s.Now})
		return build[osv.Mode, osv.FetchStats, osv.StageStats](osv.ParseMode, o.Mode, c, err)
	case alpine.SourceID:
		c, err := alpine.New(s.Store, alpine.Config{Mirror: o.Mirror, Now: s.Now})
		return build[alpine.Mode, alpine.FetchStats, alpine.StageStats](alpine.ParseMode, o.Mode, c, err)
	case debian.SourceID:
		c, err := debian.New(s.Store, debian.Config{Mirror: o.Mirror, Now: s.Now})
		return build[debian.Mode, debian.FetchStats, debian.StageStats](debian.ParseMode, o.Mode, c, err)
	case ubuntu.SourceID:
		c, err := ubuntu.New(s.Store, ubuntu.Config{Mirror: o.Mirror, Now: s.Now})
		return build[ubuntu.Mode, ubuntu.FetchStats, ubuntu.StageStats](ubuntu.ParseMode, o.Mode, c, err)
	case redhat.SourceID:
		c, err := redhat.New(s.Store, redhat.Config{Mirror: o.Mirror, Now: s.Now})
		return build[redhat.Mode, redhat.FetchStats, redhat.StageStats](redhat.ParseMode, o.Mode, c, err)
	case nvd.SourceID:
		c, err := nvd.New(s.Store, nvd.Config{Mirror: o.Mirror, APIKey: o.NVDAPIKey, Now: s.Now})
		return build[nvd.Mode, nvd.FetchStats, nvd.StageStats](nvd.ParseMode, o.Mode, c, err)
	case kev.SourceID:
		if o.Mode != "" && o.Mode != "init" && o.Mode != "resume" && o.Mode != "cursor" {
			return nil, fmt.Errorf("%w: unknown mode %q (want init, resume or cursor)", ErrInvalidOptions, o.Mode)
		}
		c, err := kev.New(s.Store, kev.Config{Mirror: o.Mirror, Now: s.Now})
		if err != nil {
			return nil, err
		}
		return wrap[string, kev.FetchStats, kev.StageStats](c, o.Mode), nil
	}
	return nil, fmt.Errorf("%w: no source %q (this build has: %s)", ErrUnknownJob, id, strings.Join(Sources, ", "))
}

// ReconcileCounts is what merge:reconcile reports.
type ReconcileCounts struct {
	Inputs     int              `json:"inputs"`
	PerSource  map[string]int   `json:"perSource"`
	Advisories int              `json:"advisories"`
	Events     int              `json:"events"`
	Conflicts  int              `json:"conflicts"`
	Snapshot   string           `json:"snapshot"`
	Samples    []merge.Conflict `json:"conflictSamples,omitempty"`
}

// ErrNothingToMerge fails a merge:reconcile run that found no mapped advisory.
var ErrNothingToMerge = errors.New("no mapped advisories to merge: run a source's fetch, parse and map jobs first; the current advisory snapshot is kept")

func (s *Service) reconcile(ctx context.Context) (any, error) {
	now := s.Now().UTC()
	runID := "merge-" + now.Format("20060102T150405.000000Z")
	res, err := merge.Reconcile(ctx, s.Store, Sources, merge.DefaultPrecedence(), runID, func() time.Time { return now })
	if err != nil {
		return nil, err
	}
	if len(res.Advisories) == 0 {
		// Publishing an empty snapshot would make every later scan find nothing (a merge run on
		// a fresh server, before any source was mapped, once did). Keep the current one.
		return nil, ErrNothingToMerge
	}
	snaps, err := snapshot.OpenStore(filepath.Join(s.DataDir, "snapshots"))
	if err != nil {
		return nil, err
	}
	var infos []snapshot.SourceInfo
	for src, n := range res.PerSource {
		infos = append(infos, snapshot.SourceInfo{Name: src, Documents: n, Advisories: n})
	}
	canon := make([][]byte, len(res.Encoded))
	for i, e := range res.Encoded {
		canon[i] = e.JSON
	}
	// The merge already holds the advisories' canonical JSON: the snapshot reuses it.
	meta, err := snaps.PublishEncoded(ctx, res.Advisories, canon, infos, now)
	if err != nil {
		return nil, fmt.Errorf("publishing the snapshot: %w", err)
	}
	c := ReconcileCounts{Inputs: res.Inputs, PerSource: res.PerSource, Advisories: len(res.Advisories), Events: len(res.Events),
		Conflicts: len(res.Conflicts), Snapshot: meta.Digest}
	c.Samples = res.Conflicts[:min(len(res.Conflicts), 5)]
	return c, nil
}

// merged reads the published merged set.
func (s *Service) merged(ctx context.Context) ([]*advisory.Advisory, error) {
	var out []*advisory.Advisory
	for r, err := range s.Store.MergedAll(ctx) {
		if err != nil {
			return nil, err
		}
		a := &advisory.Advisory{}
		if err := json.Unmarshal(r.JSON, a); err != nil {
			return nil, fmt.Errorf("merged %s: %w", r.ID, err)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, errors.New("the merged set is empty: run the source jobs and merge:reconcile first")
	}
	return out, nil
}

// exportDir is the output directory: o.Output, or exports/<format>/<time> under the data dir.
func (s *Service) exportDir(format string, o Options) string {
	if o.Output != "" {
		return o.Output
	}
	base := filepath.Join(s.DataDir, "exports", format, s.Now().UTC().Format("20060102T150405Z"))
	dir := base
	for n := 2; ; n++ { // two exports within a second get their own directories
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return dir
		}
		dir = fmt.Sprintf("%s-%d", base, n)
	}
}

// baseline returns the last full export of format for a delta run: the directory the
// latest-full pointer names.
func (s *Service) baseline(format string) (string, error) {
	b, err := os.ReadFile(s.latestFull(format))
	if err != nil {
		return "", fmt.Errorf("export:%s --delta needs an earlier full export (%w)", format, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (s *Service) latestFull(format string) string {
	return filepath.Join(s.DataDir, "exports", format, "latest-full")
}

// markFull makes dir the baseline of later delta runs of format.
func (s *Service) markFull(format, dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	p := s.latestFull(format)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(abs+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func (s *Service) exportJSON(ctx context.Context, o Options) (any, error) {
	advs, err := s.merged(ctx)
	if err != nil {
		return nil, err
	}
	dir := s.exportDir("json", o)
	opts := jsontree.Options{Now: s.Now()}
	if o.Delta {
		if opts.Baseline, err = s.baseline("json"); err != nil {
			return nil, err
		}
	}
	res, err := jsontree.Export(ctx, advs, dir, opts)
	if err != nil {
		return nil, err
	}
	if res.Metadata.Mode == "full" {
		if err := s.markFull("json", dir); err != nil {
			return nil, err
		}
	}
	return map[string]any{"output": dir, "metadata": res.Metadata, "archiveDigest": res.ArchiveDigest}, nil
}

// TrivyDBCounts is what export:trivy-db reports.
type TrivyDBCounts struct {
	Output    string         `json:"output"`
	Result    trivydb.Result `json:"result"`
	Published *PublishRecord `json:"published,omitempty"`
	Bundle    *trivydb.File  `json:"bundle,omitempty"`
}

// PublishRecord says where an export was pushed.
type PublishRecord struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
}

func (s *Service) exportTrivy(ctx context.Context, o Options) (any, error) {
	advs, err := s.merged(ctx)
	if err != nil {
		return nil, err
	}
	dir := s.exportDir("trivy-db", o)
	opts := trivydb.Options{UpdatedAt: s.Now()}
	if o.Delta {
		if opts.Baseline, err = s.baseline("trivy-db"); err != nil {
			return nil, err
		}
	}
	res, err := trivydb.Export(ctx, advs, dir, opts)
	if err != nil {
		return nil, err
	}
	full := res.Metadata.Mode == "full"
	if full {
		if err := s.markFull("trivy-db", dir); err != nil {
			return nil, err
		}
	}
	out := TrivyDBCounts{Output: dir, Result: res}
	if b := o.TrivyDB.OfflineBundle; b.Enabled && (full && b.IncludeFull || !full && b.IncludeDelta) {
		f, err := trivydb.Bundle(ctx, dir, res)
		if err != nil {
			return out, err
		}
		out.Bundle = &f
	}
	if r := o.TrivyDB.ORAS; r.Enabled && (full && r.PublishFull || !full && r.PublishDelta) {
		d, err := trivydb.Push(ctx, dir, r.Ref, trivydb.PushOptions{PlainHTTP: r.PlainHTTP, Username: r.Username, Password: r.Password})
		if err != nil {
			return out, err
		}
		out.Published = &PublishRecord{Ref: r.Ref, Digest: d}
	}
	return out, nil
}
