package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/list"
	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/indexer"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/layercache"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/queue"
	"github.com/stellaops/stellaops/internal/quota"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/scan/scanjob"
	"github.com/stellaops/stellaops/internal/scan/scanstore"
	"github.com/stellaops/stellaops/internal/scan/scanstore/pgstore"
	"github.com/stellaops/stellaops/internal/scan/scanstore/sqlitestore"
	"github.com/stellaops/stellaops/internal/target"
)

// ScanConfig is the scans area's configuration (the "scanner" section, beside its feature
// switches). Durations are Go ("90s") or .NET ("00:01:30") spans.
type ScanConfig struct {
	// SyncBudget is how long POST /scan waits for its scan: finished within it, the answer
	// is 200 with the result; otherwise 202 with the scan's Location.
	SyncBudget time.Duration `json:"syncBudget"`
	// MaxUploadBytes bounds a POST /scan body (an image archive is spooled to disk, never held
	// in memory) and a download from an upload URL.
	MaxUploadBytes int64 `json:"maxUploadBytes"`
	// MaxSBOMBytes bounds an SBOM body, which is decoded in memory.
	MaxSBOMBytes int64 `json:"maxSbomBytes"`
	// Workers is the number of queued scans a worker process runs at once.
	Workers int `json:"workers"`
	// Uploads is the number of POST /scan scans an API process runs at once; as many more may
	// wait, and beyond that POST /scan answers 503.
	Uploads int `json:"uploads"`
	// LeaseDuration is a queued scan's lease (renewed every third of it while it runs) and an
	// upload's heartbeat period.
	LeaseDuration time.Duration `json:"leaseDuration"`
	// RetryBase and RetryMax shape the exponential backoff of failed attempts.
	RetryBase time.Duration `json:"retryBase"`
	RetryMax  time.Duration `json:"retryMax"`
	// ScanTimeout bounds one run of a scan.
	ScanTimeout time.Duration `json:"scanTimeout"`
	// EventPollInterval is how often an event stream re-reads the store when no wake-up
	// came (wake-ups are in-process, and via Redis pub/sub between replicas).
	EventPollInterval time.Duration `json:"eventPollInterval"`
	// SweepInterval is how often abandoned scans are looked for.
	SweepInterval time.Duration `json:"sweepInterval"`
	// LayerTTL forgets layer inventories unused this long (product default 45 days).
	LayerTTL time.Duration `json:"layerTtl"`
	// LayerCacheMaxBytes bounds the data directory's layer cache.
	LayerCacheMaxBytes int64 `json:"layerCacheMaxBytes"`
	// MaxSharedLayerBytes bounds a layer inventory kept in the database for other replicas.
	MaxSharedLayerBytes int64 `json:"maxSharedLayerBytes"`
	// LocalDirectories are the only places a queued scan's image.reference may name as a
	// local path (an absolute path to an image archive, OCI layout or SBOM); empty: none.
	LocalDirectories []string `json:"localDirectories"`
	// Registries restricts registry pulls.
	Registries ScanRegistries `json:"registries"`
	// URLFetch governs POST /scan bodies that name an upload URL.
	URLFetch ScanURLFetch `json:"urlFetch"`
}

// ScanRegistries restricts the registries queued scans pull from.
type ScanRegistries struct {
	// Allowed, when set, lists the only registry hosts ("ghcr.io", "registry:5000").
	Allowed []string `json:"allowed"`
	// Insecure lists registry hosts reached over plain HTTP.
	Insecure []string `json:"insecure"`
}

// ScanURLFetch governs upload URLs.
type ScanURLFetch struct {
	Enabled bool `json:"enabled"`
	// AllowPrivateNetworks allows URLs whose host resolves to loopback, private, link-local
	// or shared addresses (refused by default: no requests into the server's own network).
	AllowPrivateNetworks bool `json:"allowPrivateNetworks"`
	// AllowedHosts, when set, lists the only hosts fetched from.
	AllowedHosts []string      `json:"allowedHosts"`
	Timeout      time.Duration `json:"timeout"`
}

func (c *ScanConfig) defaults() {
	*c = ScanConfig{
		SyncBudget: 5 * time.Second, MaxUploadBytes: 2 << 30, MaxSBOMBytes: 64 << 20, Workers: 1, Uploads: 2,
		LeaseDuration: time.Minute, RetryBase: 5 * time.Second, RetryMax: 5 * time.Minute, ScanTimeout: 30 * time.Minute,
		EventPollInterval: 500 * time.Millisecond, SweepInterval: 30 * time.Second, LayerTTL: 45 * 24 * time.Hour,
		LayerCacheMaxBytes: 5 << 30, MaxSharedLayerBytes: 32 << 20,
		URLFetch: ScanURLFetch{Enabled: true, Timeout: 10 * time.Minute},
	}
}

func (c *ScanConfig) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"syncBudget", c.SyncBudget}, {"leaseDuration", c.LeaseDuration}, {"retryBase", c.RetryBase}, {"retryMax", c.RetryMax},
		{"scanTimeout", c.ScanTimeout}, {"eventPollInterval", c.EventPollInterval}, {"sweepInterval", c.SweepInterval},
		{"urlFetch.timeout", c.URLFetch.Timeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("scanner.%s must be positive", d.name))
		}
	}
	if c.LeaseDuration > 0 && c.LeaseDuration < 3*time.Second {
		errs = append(errs, errors.New("scanner.leaseDuration must be at least 3s (it is renewed every third)"))
	}
	if c.LayerTTL < 0 {
		errs = append(errs, errors.New("scanner.layerTtl must not be negative (0 keeps layer inventories)"))
	}
	if c.MaxUploadBytes <= 0 || c.MaxSBOMBytes <= 0 || c.MaxSBOMBytes > c.MaxUploadBytes {
		errs = append(errs, errors.New("scanner.maxSbomBytes and scanner.maxUploadBytes must be positive, maxSbomBytes at most maxUploadBytes"))
	}
	if c.Workers < 1 || c.Uploads < 1 {
		errs = append(errs, errors.New("scanner.workers and scanner.uploads must be at least 1"))
	}
	if c.LayerCacheMaxBytes < 0 || c.MaxSharedLayerBytes < 0 {
		errs = append(errs, errors.New("scanner.layerCacheMaxBytes and scanner.maxSharedLayerBytes must not be negative"))
	}
	for _, d := range c.LocalDirectories {
		if !filepath.IsAbs(d) {
			errs = append(errs, fmt.Errorf("scanner.localDirectories: %q is not an absolute path", d))
		}
	}
	return errors.Join(errs...)
}

// scansArea holds what the scans handlers share.
type scansArea struct {
	s       *Server
	cfg     ScanConfig
	svc     *scanjob.Service
	decoder *sbom.Decoder
	pipe    *scanjob.Pipeline
	tmp     string
}

// mountScans puts the scans endpoints on the API (API spec §2.1, §2.2, §2.4–2.6), starts
// the workers when the process has the worker role, and offers stored scans to other areas.
func (s *Server) mountScans(ctx context.Context) error {
	c := s.cfg.Scanner.ScanConfig
	now := s.opts.Now
	var st scanstore.Store
	var err error
	switch s.cfg.Storage.Driver {
	case "postgres":
		st, err = pgstore.Open(ctx, s.cfg.Storage.DSN)
	default:
		st, err = sqlitestore.Open(ctx, filepath.Join(s.opts.DataDir, "scans.db"))
	}
	if err != nil {
		return err
	}
	s.closers = append(s.closers, st.Close)
	snaps, err := snapshot.OpenStore(filepath.Join(s.cfg.sharedDir(s.opts.DataDir), "snapshots"))
	if err != nil {
		return err
	}
	dir, err := layercache.Open(filepath.Join(s.opts.DataDir, "cache", "layers"))
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.opts.DataDir, "tmp", "scans")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("scan temporary directory: %w", err)
	}
	analyzers := list.Default()
	log := s.log.With("component", "scans")
	cache := &scanjob.LayerCache{Dir: dir, Store: st, MaxShared: c.MaxSharedLayerBytes, Now: now, Log: log}
	decoder := sbom.NewDecoder(sbom.Config{MaxBytes: c.MaxSBOMBytes})
	if s.cfg.HasRole("api") {
		// The CycloneDX schemas compile at start-up rather than in the first request.
		if err := decoder.Prepare(); err != nil {
			return err
		}
	}
	pipe := &scanjob.Pipeline{Snapshots: snaps, Analyzers: analyzers, Cache: cache, Decoder: decoder, TempDir: tmp,
		Policy: s.activePolicySource(), PolicyConfig: policy.Config{Now: now}, Now: now, Log: log}
	notifier := scanjob.NewNotifier(s.redis, "stellaops:scan-events"+redisPrefix(s.cfg.Redis.Prefix), log)
	svc, err := scanjob.New(scanjob.Config{
		Store: st, Queue: s.Queue, Notifier: notifier, Pipeline: pipe, Fingerprint: analyzer.Fingerprint(analyzers), Now: now, Log: log,
		Workers: c.Workers, LeaseDuration: c.LeaseDuration, RetryBase: c.RetryBase, RetryMax: c.RetryMax,
		MaxAttempts: queue.DefaultMaxAttempts, ScanTimeout: c.ScanTimeout, Uploads: c.Uploads, PollInterval: c.EventPollInterval,
		SweepInterval: c.SweepInterval, LayerTTL: c.LayerTTL, LayerCacheMaxBytes: c.LayerCacheMaxBytes,
		LocalDirectories: c.LocalDirectories, AllowedRegistries: c.Registries.Allowed, InsecureRegistries: c.Registries.Insecure,
		Fetch: scanjob.FetchConfig{Enabled: c.URLFetch.Enabled, AllowPrivateNetworks: c.URLFetch.AllowPrivateNetworks,
			AllowedHosts: c.URLFetch.AllowedHosts, MaxBytes: c.MaxUploadBytes, Timeout: c.URLFetch.Timeout},
		TempDir: tmp,
	})
	if err != nil {
		return err
	}
	a := &scansArea{s: s, cfg: c, svc: svc, decoder: decoder, pipe: pipe, tmp: tmp}
	s.areas.storedScan = a.storedScan

	for _, r := range []api.Route{
		{Method: http.MethodPost, Path: "/scan", Scope: authority.ScopeScansEnqueue, Anonymous: true, MaxBody: c.MaxUploadBytes,
			Summary: "Scan an uploaded SBOM or image archive, or one at an upload URL", Handler: a.scanUpload},
		{Method: http.MethodPost, Path: "/layers/missing", Scope: authority.ScopeScansEnqueue, Anonymous: true, MaxBody: layersMaxBody,
			Summary: "Which layer digests have no cached inventory", Handler: a.layersMissing},
		{Method: http.MethodPost, Path: "/api/v1/scans", Scope: authority.ScopeScansEnqueue, MaxBody: 64 << 10,
			Summary: "Queue a scan of an image reference or digest", Handler: a.enqueue},
		{Method: http.MethodGet, Path: "/api/v1/scans/{scanId}", Scope: authority.ScopeScansRead,
			Summary: "A scan's status", Handler: a.status},
		{Method: http.MethodGet, Path: "/api/v1/scans/{scanId}/events", Scope: authority.ScopeScansRead,
			Summary: "A scan's progress events (SSE or JSON lines)", Handler: a.events},
		{Method: http.MethodGet, Path: "/api/v1/scans/{scanId}/result", Scope: authority.ScopeScansRead,
			Summary: "A finished scan's result document", Handler: a.result},
		{Method: http.MethodPost, Path: "/api/v1/scans/{scanId}/cancel", Scope: authority.ScopeScansEnqueue,
			Summary: "Cancel a pending or running scan", Handler: a.cancel},
	} {
		if err := s.API.Handle(r); err != nil {
			return err
		}
	}

	s.goBackground("scan-uploads", svc.RunUploads)
	s.goBackground("scan-event-streams", svc.RunStreams)
	s.goBackground("scan-sweeper", svc.RunSweeper)
	if s.redis != nil {
		s.goBackground("scan-event-relay", notifier.RunRedis)
	}
	if s.cfg.HasRole("worker") {
		s.goBackground("scan-workers", svc.RunWorkers)
	}
	return nil
}

// activePolicySource adapts the policy area's service (set before scans mount, and possibly
// never) to the pipeline's.
func (s *Server) activePolicySource() scanjob.PolicySource {
	return func(ctx context.Context) (*policy.Policy, policy.Revision, bool, error) {
		if s.areas.activePolicy == nil {
			return nil, policy.Revision{}, false, nil
		}
		p, rev, err := s.areas.activePolicy(ctx)
		if errors.Is(err, ErrNoActivePolicy) {
			return nil, policy.Revision{}, false, nil
		}
		if err != nil {
			return nil, policy.Revision{}, false, err
		}
		return p, rev, true, nil
	}
}

// storedScan is the scans area's service to others: a succeeded scan's result.
func (a *scansArea) storedScan(ctx context.Context, scanID string) (StoredScan, error) {
	sc, err := a.svc.Store().Get(ctx, scanID)
	if errors.Is(err, scanstore.ErrNotFound) {
		return StoredScan{}, fmt.Errorf("%w: %s", ErrScanNotFound, scanID)
	}
	if err != nil {
		return StoredScan{}, err
	}
	if sc.Status != scanstore.StatusSucceeded {
		return StoredScan{}, fmt.Errorf("%w: scan %s is %s, not finished", ErrScanNotFound, scanID, sc.Status)
	}
	b, err := a.svc.Store().Result(ctx, scanID)
	if err != nil {
		return StoredScan{}, err
	}
	res, err := scanjob.DecodeResult(b)
	if err != nil {
		return StoredScan{}, err
	}
	return StoredScan{ScanID: sc.ID, ImageDigest: sc.ImageDigest, Result: res, FinishedAt: sc.FinishedAt}, nil
}

func scanLocation(id string) string { return "/api/v1/scans/" + id }

// Wire bodies.
type (
	scanAccepted struct {
		ScanID   string      `json:"scanId"`
		Status   string      `json:"status"`
		Location string      `json:"location"`
		Created  bool        `json:"created"`
		Quota    *quota.Body `json:"quota,omitempty"`
	}
	scanCompleted struct {
		ScanID       string            `json:"scanId"`
		Digest       string            `json:"digest"`
		Summary      match.Summary     `json:"summary"`
		PolicyStatus string            `json:"policyStatus"`
		Policy       scanjob.PolicyRef `json:"policy"`
		Snapshot     string            `json:"snapshot"`
		Findings     int               `json:"findings"`
		Location     string            `json:"location"`
		Quota        quota.Body        `json:"quota"`
	}
	scanImage struct {
		Reference *string `json:"reference"`
		Digest    *string `json:"digest"`
	}
	scanLinks struct {
		Self   string `json:"self"`
		Events string `json:"events"`
		Result string `json:"result,omitempty"`
	}
	scanStatus struct {
		ScanID        string           `json:"scanId"`
		Status        string           `json:"status"`
		Image         scanImage        `json:"image"`
		CreatedAt     string           `json:"createdAt"`
		UpdatedAt     string           `json:"updatedAt"`
		FailureReason *string          `json:"failureReason"`
		Kind          string           `json:"kind"`
		Run           int              `json:"run"`
		Attempt       int              `json:"attempt"`
		StartedAt     *string          `json:"startedAt"`
		FinishedAt    *string          `json:"finishedAt"`
		Result        *scanjob.Outcome `json:"result,omitempty"`
		Links         scanLinks        `json:"links"`
	}
)

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := scanjob.Timestamp(t)
	return &s
}

func (a *scansArea) statusBody(sc scanstore.Scan) (scanStatus, error) {
	out, err := scanjob.OutcomeOf(sc)
	if err != nil {
		return scanStatus{}, err
	}
	loc := scanLocation(sc.ID)
	b := scanStatus{ScanID: sc.ID, Status: string(sc.Status), Image: scanImage{optString(sc.Image.Reference), optString(sc.Image.Digest)},
		CreatedAt: scanjob.Timestamp(sc.CreatedAt), UpdatedAt: scanjob.Timestamp(sc.UpdatedAt), FailureReason: optString(sc.FailureReason),
		Kind: string(sc.Kind), Run: sc.Run, Attempt: sc.Attempt, StartedAt: optTime(sc.StartedAt), FinishedAt: optTime(sc.FinishedAt),
		Result: out, Links: scanLinks{Self: loc, Events: loc + "/events"}}
	if sc.Status == scanstore.StatusSucceeded {
		b.Links.Result = loc + "/result"
	}
	return b, nil
}

// scanID reads the {scanId} path value; a malformed one is answered 404 here.
func (a *scansArea) scanID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("scanId")
	if !scanjob.ValidScanID(id) {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, "no scan "+strconv.Quote(truncateText(id, 80))+" (scan ids are 32 hex digits)")
		return "", false
	}
	return id, true
}

// get loads a scan, answering 404 or 500 itself.
func (a *scansArea) get(w http.ResponseWriter, r *http.Request, id string) (scanstore.Scan, bool) {
	sc, err := a.svc.Store().Get(r.Context(), id)
	if errors.Is(err, scanstore.ErrNotFound) {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, "no scan "+id)
		return sc, false
	}
	if err != nil {
		a.internal(w, r, err)
		return sc, false
	}
	return sc, true
}

func (a *scansArea) internal(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client left; nobody reads an answer
	}
	a.s.log.ErrorContext(r.Context(), "scans: request failed", "route", r.Method+" "+r.URL.Path, "err", err, "traceId", api.TraceID(r.Context()))
	api.WriteProblem(w, r, http.StatusInternalServerError, api.ProbInternal, "the server failed; the trace id finds the log entry")
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// enqueue is POST /api/v1/scans (API spec §2.4).
func (a *scansArea) enqueue(w http.ResponseWriter, r *http.Request) {
	var req scanjob.EnqueueRequest
	if !api.DecodeJSON(w, r, &req) {
		return
	}
	n, ferrs := scanjob.Normalize(req)
	if len(ferrs) > 0 {
		p := api.Problem{Type: api.ProbValidation, Status: http.StatusBadRequest, Detail: ferrs[0].Msg}
		for _, fe := range ferrs {
			p.Errors = append(p.Errors, api.FieldError{Path: fe.Path, Msg: fe.Msg})
		}
		api.WriteProblemValue(w, r, p)
		return
	}
	if err := a.svc.CheckTarget(n); err != nil {
		api.WriteProblemValue(w, r, api.Problem{Type: api.ProbValidation, Status: http.StatusBadRequest, Detail: err.Error(),
			Errors: []api.FieldError{{Path: "$.image.reference", Msg: err.Error()}}})
		return
	}
	// Only a request that starts a run is charged: resubmitting is free.
	existing, err := a.svc.Store().Get(r.Context(), n.ScanID())
	switch {
	case errors.Is(err, scanstore.ErrNotFound) || (err == nil && n.Force && existing.Status.Terminal()):
		if _, ok := a.s.API.ChargeScan(w, r); !ok {
			return
		}
	case err != nil:
		a.internal(w, r, err)
		return
	}
	sc, created, err := a.svc.Enqueue(r.Context(), n)
	if err != nil {
		if errors.Is(err, scanstore.ErrNotFound) {
			err = fmt.Errorf("scan vanished: %w", err)
		}
		a.internal(w, r, err)
		return
	}
	p := api.PrincipalFrom(r.Context())
	a.s.Auth.Audit(r.Context(), authority.AuditEvent{Type: "scanner.scan.enqueue", Outcome: "success", Subject: p.Claims.Subject,
		ClientID: p.Claims.ClientID, Scopes: p.Claims.Scopes, Status: http.StatusAccepted, TraceID: api.TraceID(r.Context()), RemoteIP: p.IP,
		Detail: fmt.Sprintf("scanId=%s created=%t clientRequestId=%q", sc.ID, created, truncateText(n.ClientRequestID, 128))})
	w.Header().Set("Location", scanLocation(sc.ID))
	api.WriteJSON(w, http.StatusAccepted, scanAccepted{ScanID: sc.ID, Status: string(sc.Status), Location: scanLocation(sc.ID), Created: created})
}

// status is GET /api/v1/scans/{scanId} (API spec §2.5).
func (a *scansArea) status(w http.ResponseWriter, r *http.Request) {
	id, ok := a.scanID(w, r)
	if !ok {
		return
	}
	sc, ok := a.get(w, r, id)
	if !ok {
		return
	}
	b, err := a.statusBody(sc)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusOK, b)
}

// cancel is POST /api/v1/scans/{scanId}/cancel: the spec says the API is
// cancellation-aware and names no cancel route, so this is ours. Cancelling a Pending or
// Running scan answers 200 with the status (now Cancelled); cancelling a Cancelled one again
// is the same; a scan that already Succeeded or Failed answers 409.
func (a *scansArea) cancel(w http.ResponseWriter, r *http.Request) {
	id, ok := a.scanID(w, r)
	if !ok {
		return
	}
	p := api.PrincipalFrom(r.Context())
	by := p.Claims.ClientID
	if by == "" {
		by = p.Claims.Subject
	}
	sc, _, err := a.svc.Cancel(r.Context(), id, by)
	if errors.Is(err, scanstore.ErrNotFound) {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, "no scan "+id)
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if sc.Status != scanstore.StatusCancelled {
		api.WriteProblem(w, r, http.StatusConflict, api.ProbConflict, fmt.Sprintf("scan %s already %s", id, sc.Status))
		return
	}
	b, err := a.statusBody(sc)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, b)
}

// result is GET /api/v1/scans/{scanId}/result: the finished scan's result document (the
// JSON of `stellaops-cli scan run --format json`: target, snapshot, summary, findings,
// inventory).
func (a *scansArea) result(w http.ResponseWriter, r *http.Request) {
	id, ok := a.scanID(w, r)
	if !ok {
		return
	}
	sc, ok := a.get(w, r, id)
	if !ok {
		return
	}
	if sc.Status != scanstore.StatusSucceeded {
		api.WriteProblem(w, r, http.StatusConflict, api.ProbConflict, fmt.Sprintf("scan %s is %s; a result exists once it Succeeded", id, sc.Status))
		return
	}
	blob, err := a.svc.Store().Result(r.Context(), id)
	if errors.Is(err, scanstore.ErrNotFound) {
		// Re-run between the two reads.
		api.WriteProblem(w, r, http.StatusConflict, api.ProbConflict, fmt.Sprintf("scan %s is running again", id))
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	raw, err := scanjob.DecodeResultJSON(blob)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(raw)
}

// events is GET /api/v1/scans/{scanId}/events (API spec §2.6): SSE by default, JSON lines
// with format=jsonl. The history is sent first, then live frames; the stream ends when the
// scan's run ends, the client leaves or the server shuts down. Last-Event-ID (an SSE
// reconnect) or ?after=N resumes after that sequence.
func (a *scansArea) events(w http.ResponseWriter, r *http.Request) {
	id, ok := a.scanID(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = "sse"
	}
	if format != "sse" && format != "jsonl" {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("format %q: want sse or jsonl", truncateText(format, 40)))
		return
	}
	var after int64
	for _, v := range []string{q.Get("after"), r.Header.Get("Last-Event-ID")} {
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("after / Last-Event-ID %q: want a sequence number", truncateText(v, 40)))
			return
		}
		after = max(after, n)
	}
	if _, ok := a.get(w, r, id); !ok {
		return
	}
	h := w.Header()
	if format == "sse" {
		h.Set("Content-Type", "text/event-stream")
	} else {
		h.Set("Content-Type", "application/x-ndjson")
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	var buf []byte
	write := func(frames []scanjob.Frame) error {
		buf = buf[:0]
		for _, f := range frames {
			if format == "sse" {
				buf = f.AppendSSE(buf)
			} else {
				buf = f.AppendJSONL(buf)
			}
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		return rc.Flush()
	}
	var idle func() error
	if format == "sse" {
		idle = func() error {
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return err
			}
			return rc.Flush()
		}
	}
	if err := a.svc.Stream(r.Context(), id, after, write, idle); err != nil && r.Context().Err() == nil {
		// The answer has started: a failure can only end the stream early.
		a.s.log.WarnContext(r.Context(), "scans: event stream ended early", "scanId", id, "err", err, "traceId", api.TraceID(r.Context()))
	}
}

// layersMaxBody bounds /layers/missing: MaxLayers digests of sha512 length, with room.
const layersMaxBody = 256 << 10

// layersMissing is POST /layers/missing (API spec §2.2). Layers are named by diff ID (the
// image config's rootfs.diff_ids, which key the layer cache) or by the blob digest of the
// manifest; either is answered. A layer counts as present when any replica has recorded its
// inventory under the current analyzers.
func (a *scansArea) layersMissing(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			api.WriteProblem(w, r, http.StatusUnsupportedMediaType, api.ProbUnsupportedType, "the body must be application/json")
			return
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			api.WriteProblem(w, r, http.StatusRequestEntityTooLarge, api.ProbTooLarge, fmt.Sprintf("the body exceeds %d bytes", mbe.Limit))
			return
		}
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "reading the body: "+err.Error())
		return
	}
	layers, err := scanjob.ParseLayers(body)
	if err != nil {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, err.Error())
		return
	}
	missing, err := a.svc.MissingLayers(r.Context(), layers)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, struct {
		Missing []string `json:"missing"`
	}{missing})
}

// uriListMax bounds a text/uri-list body, and the size under which a JSON body is read as
// {"url": …}.
const uriListMax = 8 << 10

// scanUpload is POST /scan (API spec §2.1). The body is one of:
//   - an SBOM (CycloneDX JSON/XML, SPDX JSON/tag-value, Trivy JSON; gzip allowed), its
//     format from X-Stella-Sbom-Type or detected; decoded in memory up to maxSbomBytes;
//   - an image archive (docker save or OCI layout tar, gzip allowed), spooled to disk up to
//     maxUploadBytes; refused with ?sbom-only=true;
//   - an upload URL, as text/uri-list or as the JSON {"url": "https://…"}, fetched by the
//     scan (see scanner.urlFetch: public addresses only unless configured).
//
// The scan runs on this replica; finished within syncBudget it answers 200 with the result,
// otherwise 202 with the Location of the scan, whose status, events and result then tell the
// rest. Query parameters and headers are checked before the quota is charged.
func (a *scansArea) scanUpload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	threshold := policy.LevelCritical
	if v := q.Get("threshold"); v != "" {
		l, err := policy.ParseThreshold(v)
		if err != nil {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "threshold: "+err.Error())
			return
		}
		threshold = l
	}
	sbomOnly := false
	if v := q.Get("sbom-only"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("sbom-only %q: want true or false", truncateText(v, 40)))
			return
		}
		sbomOnly = b
	}
	format, err := sbom.ParseFormat(r.Header.Get("X-Stella-Sbom-Type"))
	if err != nil {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "X-Stella-Sbom-Type: "+err.Error())
		return
	}
	wantSBOM := sbomOnly || format != sbom.FormatAuto
	if a.svc.UploadsFull() {
		w.Header().Set("Retry-After", "5")
		api.WriteProblem(w, r, http.StatusServiceUnavailable, api.ProbUnavailable, "this server is running as many scans as it may; retry shortly")
		return
	}
	decision, ok := a.s.API.ChargeScan(w, r)
	if !ok {
		return
	}
	req := scanjob.UploadRequest{SBOMOnly: sbomOnly, Threshold: strings.ToLower(string(threshold))}
	if format != sbom.FormatAuto {
		req.SBOMType = string(format)
	}
	up := scanjob.Upload{Threshold: threshold}

	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var rawURL string
	switch mt {
	case "text/uri-list":
		if rawURL, ok = a.readURIList(w, r); !ok {
			return
		}
	case indexer.DeltaMediaType:
		path, digest, _, ok := a.spool(w, r, a.cfg.MaxSBOMBytes)
		if !ok {
			return
		}
		d, ok := a.decodeDelta(w, r, path)
		os.Remove(path)
		if !ok {
			return
		}
		req.ContentDigest, req.SBOMType = digest, "delta"
		up.Target = scanjob.Target{Delta: d}
	default:
		limit := a.cfg.MaxUploadBytes
		if wantSBOM {
			limit = a.cfg.MaxSBOMBytes
		}
		path, digest, size, ok := a.spool(w, r, limit)
		if !ok {
			return
		}
		keep := false
		defer func() {
			if !keep {
				os.Remove(path)
			}
		}()
		if size <= uriListMax {
			rawURL = urlBody(path)
		}
		if rawURL == "" {
			req.ContentDigest = digest
			isTar, err := target.LooksLikeTar(path)
			if err != nil {
				a.internal(w, r, err)
				return
			}
			switch {
			case isTar && wantSBOM:
				api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation,
					"the body is an image archive, but ?sbom-only=true or X-Stella-Sbom-Type asks for an SBOM")
				return
			case isTar:
				keep = true
				up.Target = scanjob.Target{Path: path}
				up.Cleanup = func() { os.Remove(path) }
			default:
				inv, ok := a.decodeSBOM(w, r, path, format)
				if !ok {
					return
				}
				up.Target = scanjob.Target{Inventory: inv}
			}
		}
	}
	if rawURL != "" {
		u, err := a.svc.Config().Fetch.CheckURL(r.Context(), rawURL)
		if err != nil {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, err.Error())
			return
		}
		req.URL, up.URL = u.String(), u
		up.Target.SBOMFormat, up.Target.SBOMOnly = format, wantSBOM
	}
	up.Request = req
	sub, err := a.svc.SubmitUpload(r.Context(), up)
	switch {
	case errors.Is(err, scanjob.ErrBusy), errors.Is(err, scanjob.ErrStopping):
		w.Header().Set("Retry-After", "5")
		api.WriteProblem(w, r, http.StatusServiceUnavailable, api.ProbUnavailable, err.Error())
		return
	case err != nil:
		a.internal(w, r, err)
		return
	}
	id := sub.Scan.ID
	budget, cancel := context.WithTimeout(r.Context(), a.cfg.SyncBudget)
	defer cancel()
	var runErr error
	if sub.Joined {
		_, _ = a.svc.Wait(budget, id)
	} else {
		select {
		case <-sub.Done():
			runErr = sub.Err()
		case <-budget.Done():
		}
	}
	if r.Context().Err() != nil {
		return // the client left; the scan goes on and its status tells the outcome
	}
	sc, err := a.svc.Store().Get(r.Context(), id)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	loc := scanLocation(id)
	switch sc.Status {
	case scanstore.StatusSucceeded:
		out, err := scanjob.OutcomeOf(sc)
		if err != nil || out == nil {
			a.internal(w, r, fmt.Errorf("scan %s: outcome: %v", id, err))
			return
		}
		w.Header().Set("Location", loc)
		api.WriteJSON(w, http.StatusOK, scanCompleted{ScanID: id, Digest: out.Digest, Summary: out.Summary, PolicyStatus: out.PolicyStatus,
			Policy: out.Policy, Snapshot: out.Snapshot, Findings: out.Findings, Location: loc, Quota: decision.Body()})
	case scanstore.StatusFailed:
		if errors.Is(runErr, context.Canceled) {
			w.Header().Set("Retry-After", "5")
			api.WriteProblem(w, r, http.StatusServiceUnavailable, api.ProbUnavailable, fmt.Sprintf("scan %s was interrupted: the server is shutting down", id))
			return
		}
		if runErr != nil && !scanjob.IsPermanent(runErr) {
			a.internal(w, r, fmt.Errorf("scan %s: %w", id, runErr))
			return
		}
		api.WriteProblem(w, r, http.StatusUnprocessableEntity, api.ProbValidation, fmt.Sprintf("scan %s failed: %s", id, sc.FailureReason))
	case scanstore.StatusCancelled:
		api.WriteProblem(w, r, http.StatusConflict, api.ProbConflict, fmt.Sprintf("scan %s was cancelled", id))
	default:
		qb := decision.Body()
		w.Header().Set("Location", loc)
		api.WriteJSON(w, http.StatusAccepted, scanAccepted{ScanID: id, Status: string(sc.Status), Location: loc, Created: !sub.Joined, Quota: &qb})
	}
}

// readURIList reads a text/uri-list body (RFC 2483): one URL; comment lines start with #.
func (a *scansArea) readURIList(w http.ResponseWriter, r *http.Request) (string, bool) {
	b, err := io.ReadAll(io.LimitReader(r.Body, uriListMax+1))
	if err != nil || len(b) > uriListMax {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("a text/uri-list body must be one URL, under %d bytes", uriListMax))
		return "", false
	}
	var urls []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			urls = append(urls, line)
		}
	}
	if len(urls) != 1 {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("a text/uri-list body must hold exactly one URL, not %d", len(urls)))
		return "", false
	}
	return urls[0], true
}

// spool streams the body into a temporary file, hashing it, up to limit bytes.
func (a *scansArea) spool(w http.ResponseWriter, r *http.Request, limit int64) (path, digest string, size int64, ok bool) {
	f, err := os.CreateTemp(a.tmp, "upload-*")
	if err != nil {
		a.internal(w, r, err)
		return "", "", 0, false
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r.Body, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	fail := func(status int, typ, detail string) (string, string, int64, bool) {
		os.Remove(f.Name())
		api.WriteProblem(w, r, status, typ, detail)
		return "", "", 0, false
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return fail(http.StatusRequestEntityTooLarge, api.ProbTooLarge, fmt.Sprintf("the body exceeds %d bytes", mbe.Limit))
	case err != nil && r.Context().Err() != nil:
		os.Remove(f.Name())
		return "", "", 0, false
	case err != nil:
		return fail(http.StatusBadRequest, api.ProbValidation, "reading the body: "+err.Error())
	case n > limit:
		return fail(http.StatusRequestEntityTooLarge, api.ProbTooLarge, fmt.Sprintf("the body exceeds %d bytes (an SBOM may be at most scanner.maxSbomBytes)", limit))
	case n == 0:
		return fail(http.StatusBadRequest, api.ProbValidation, "the body is empty: send an SBOM, an image archive or an upload URL")
	}
	return f.Name(), "sha256:" + hex.EncodeToString(h.Sum(nil)), n, true
}

// urlBody returns the URL of a small JSON body that is exactly {"url": "…"}, else "".
func urlBody(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || len(m) != 1 {
		return ""
	}
	var u string
	if json.Unmarshal(m["url"], &u) != nil {
		return ""
	}
	return u
}

// decodeDelta decodes and checks the spooled delta SBOM (spec §2.2), answering 400 itself.
func (a *scansArea) decodeDelta(w http.ResponseWriter, r *http.Request, path string) (*indexer.Delta, bool) {
	f, err := os.Open(path)
	if err != nil {
		a.internal(w, r, err)
		return nil, false
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReader(f))
	dec.DisallowUnknownFields()
	var d indexer.Delta
	if err := dec.Decode(&d); err != nil {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "invalid delta SBOM: "+strings.TrimPrefix(err.Error(), "json: "))
		return nil, false
	}
	if dec.More() {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "invalid delta SBOM: data after the JSON document")
		return nil, false
	}
	if err := a.pipe.CheckDelta(&d); err != nil {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, err.Error())
		return nil, false
	}
	return &d, true
}

// decodeSBOM decodes the spooled SBOM (gzip allowed), answering 4xx itself.
func (a *scansArea) decodeSBOM(w http.ResponseWriter, r *http.Request, path string, format sbom.Format) (*inventory.Inventory, bool) {
	f, err := os.Open(path)
	if err != nil {
		a.internal(w, r, err)
		return nil, false
	}
	defer f.Close()
	var rd io.Reader = bufio.NewReader(f)
	var magic [2]byte
	if n, _ := f.ReadAt(magic[:], 0); n == 2 && magic == [2]byte{0x1f, 0x8b} {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "the body is gzip but unreadable: "+err.Error())
			return nil, false
		}
		defer zr.Close()
		rd = zr
	}
	inv, err := a.decoder.Decode(r.Context(), rd, format)
	switch {
	case err == nil:
		return inv, true
	case r.Context().Err() != nil:
		return nil, false
	case errors.Is(err, sbom.ErrTooLarge):
		api.WriteProblem(w, r, http.StatusRequestEntityTooLarge, api.ProbTooLarge, err.Error()+" (scanner.maxSbomBytes)")
	case errors.Is(err, sbom.ErrUnrecognised):
		api.WriteProblem(w, r, http.StatusUnsupportedMediaType, api.ProbUnsupportedType,
			"the body is neither an image archive (docker save, OCI layout tar) nor an SBOM (CycloneDX, SPDX, Trivy JSON), nor an upload URL")
	case errors.Is(err, sbom.ErrInvalid):
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "invalid SBOM: "+err.Error())
	default:
		if _, gz := rd.(*gzip.Reader); gz {
			// The only reads that fail on a local file are the decompression's.
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "reading the gzipped SBOM: "+err.Error())
			return nil, false
		}
		a.internal(w, r, err)
	}
	return nil, false
}
