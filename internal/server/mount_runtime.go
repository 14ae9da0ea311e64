package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/quota/redisstore/goredis"
	"github.com/stellaops/stellaops/internal/runtime"
	"github.com/stellaops/stellaops/internal/runtime/pgstore"
	"github.com/stellaops/stellaops/internal/runtime/sqlitestore"
)

// RuntimeConfig is the runtime area's configuration (API spec §2.8: the spec's
// scanner.runtime.* keys, here under runtime, e.g. STELLAOPS_RUNTIME__MAXBATCHSIZE=128).
type RuntimeConfig struct {
	// MaxBatchSize bounds the envelopes of one batch (default 256).
	MaxBatchSize int `json:"maxBatchSize"`
	// MaxPayloadBytes bounds a batch's serialized JSON (default 1 MiB); larger ones answer 400.
	MaxPayloadBytes int64 `json:"maxPayloadBytes"`
	// EventTTLDays is how long events are kept (default 45).
	EventTTLDays int `json:"eventTtlDays"`
	// PerTenantEventsPerSecond and PerTenantBurst are each tenant's token bucket (default
	// 200/s, burst 200); PerNode… each node's (default 50/s, burst 200). A negative rate
	// disables the bucket.
	PerTenantEventsPerSecond int `json:"perTenantEventsPerSecond"`
	PerTenantBurst           int `json:"perTenantBurst"`
	PerNodeEventsPerSecond   int `json:"perNodeEventsPerSecond"`
	PerNodeBurst             int `json:"perNodeBurst"`
	// PolicyCacheTTLSeconds is the ttlSeconds of runtime verdicts (default 300).
	PolicyCacheTTLSeconds int `json:"policyCacheTtlSeconds"`
	// SweepInterval is how often expired events are deleted (default 1h; reads hide them
	// from the moment they expire anyway).
	SweepInterval time.Duration `json:"sweepInterval"`
}

func (c *RuntimeConfig) defaults() {
	d := runtime.DefaultConfig()
	*c = RuntimeConfig{
		MaxBatchSize: d.Limits.MaxBatchSize, MaxPayloadBytes: d.Limits.MaxPayloadBytes, EventTTLDays: int(d.TTL / (24 * time.Hour)),
		PerTenantEventsPerSecond: d.Tenant.PerSecond, PerTenantBurst: d.Tenant.Burst,
		PerNodeEventsPerSecond: d.Node.PerSecond, PerNodeBurst: d.Node.Burst,
		PolicyCacheTTLSeconds: int(d.VerdictTTL / time.Second), SweepInterval: time.Hour,
	}
}

func (c *RuntimeConfig) validate() error {
	var errs []error
	if c.MaxBatchSize < 1 || c.MaxBatchSize > 10000 {
		errs = append(errs, fmt.Errorf("runtime.maxBatchSize %d: between 1 and 10000", c.MaxBatchSize))
	}
	if c.MaxPayloadBytes < 1024 || c.MaxPayloadBytes > 64<<20 {
		errs = append(errs, fmt.Errorf("runtime.maxPayloadBytes %d: between 1024 and %d", c.MaxPayloadBytes, 64<<20))
	}
	if c.EventTTLDays < 1 || c.EventTTLDays > 3650 {
		errs = append(errs, fmt.Errorf("runtime.eventTtlDays %d: between 1 and 3650", c.EventTTLDays))
	}
	for _, b := range []struct {
		name        string
		rate, burst int
	}{{"perTenant", c.PerTenantEventsPerSecond, c.PerTenantBurst}, {"perNode", c.PerNodeEventsPerSecond, c.PerNodeBurst}} {
		switch {
		case b.rate == 0:
			errs = append(errs, fmt.Errorf("runtime.%sEventsPerSecond is 0: a positive rate, or negative to disable the limit", b.name))
		case b.rate > 0 && (b.burst < 1 || b.burst > 1_000_000):
			errs = append(errs, fmt.Errorf("runtime.%sBurst %d: between 1 and 1000000", b.name, b.burst))
		}
	}
	if c.PolicyCacheTTLSeconds < 1 || c.PolicyCacheTTLSeconds > 86400 {
		errs = append(errs, fmt.Errorf("runtime.policyCacheTtlSeconds %d: between 1 and 86400", c.PolicyCacheTTLSeconds))
	}
	if c.SweepInterval <= 0 {
		errs = append(errs, errors.New("runtime.sweepInterval must be positive"))
	}
	return errors.Join(errs...)
}

// runtimeArea is the mounted runtime area.
type runtimeArea struct {
	s       *Server
	svc     *runtime.Service
	maxBody int64
	metrics struct {
		accepted, duplicates, limited, swept prometheus.Counter
	}
}

// mountRuntime puts the runtime endpoints on the API: event ingestion from Zastava observers
// and the verdicts of the admission webhook (spec §2.8, product background §3.12). They are
// Scanner.WebService routes, so they run with the api role.
func (s *Server) mountRuntime(ctx context.Context) error {
	if !s.cfg.HasRole("api") {
		return nil
	}
	c := s.cfg.Runtime
	store, err := s.openRuntimeStore(ctx)
	if err != nil {
		return err
	}
	var buckets runtime.Buckets = runtime.NewMemoryBuckets()
	if s.redis != nil {
		// One set of buckets for every replica. The hash tag keeps a batch's keys in one slot,
		// which the multi-key script needs on a Redis Cluster.
		buckets = runtime.NewRedisBuckets(goredis.Evaler{C: s.redis}, "{stellaops:runtime"+redisPrefix(s.cfg.Redis.Prefix)+"}:bucket:")
	}
	a := &runtimeArea{s: s, maxBody: c.MaxPayloadBytes}
	a.metrics.accepted = prometheus.NewCounter(prometheus.CounterOpts{Name: "stellaops_runtime_events_accepted_total", Help: "Runtime events stored."})
	a.metrics.duplicates = prometheus.NewCounter(prometheus.CounterOpts{Name: "stellaops_runtime_events_duplicate_total", Help: "Runtime events ignored as already stored."})
	a.metrics.limited = prometheus.NewCounter(prometheus.CounterOpts{Name: "stellaops_runtime_batches_rate_limited_total", Help: "Runtime event batches refused by a tenant or node token bucket."})
	a.metrics.swept = prometheus.NewCounter(prometheus.CounterOpts{Name: "stellaops_runtime_events_expired_total", Help: "Runtime events deleted by the sweeper after their TTL."})
	svc, err := runtime.New(store, buckets, runtime.Config{
		Limits:     runtime.Limits{MaxBatchSize: c.MaxBatchSize, MaxPayloadBytes: c.MaxPayloadBytes},
		TTL:        time.Duration(c.EventTTLDays) * 24 * time.Hour,
		Tenant:     runtime.RateLimit{PerSecond: c.PerTenantEventsPerSecond, Burst: c.PerTenantBurst},
		Node:       runtime.RateLimit{PerSecond: c.PerNodeEventsPerSecond, Burst: c.PerNodeBurst},
		VerdictTTL: time.Duration(c.PolicyCacheTTLSeconds) * time.Second,
		Now:        s.opts.Now, Logger: s.log,
		OnSweep: func(n int) { a.metrics.swept.Add(float64(n)) },
	})
	if err != nil {
		return err
	}
	a.svc = svc
	s.Registry.MustRegister(a.metrics.accepted, a.metrics.duplicates, a.metrics.limited, a.metrics.swept)
	for _, r := range []api.Route{
		{Method: http.MethodPost, Path: "/api/v1/runtime/events", Scope: authority.ScopeRuntimeIngest,
			// The handler bounds the body itself: the spec answers an oversize batch with 400.
			MaxBody: math.MaxInt64,
			Summary: "Ingest Zastava runtime events", Handler: a.ingest},
		{Method: http.MethodPost, Path: "/api/v1/scanner/policy/runtime", Scope: authority.ScopeScansRead,
			Summary: "Runtime verdicts for the admission webhook", Handler: a.policy},
	} {
		if err := s.API.Handle(r); err != nil {
			return err
		}
	}
	s.goBackground("runtime-sweeper", func(ctx context.Context) error { return svc.RunSweeper(ctx, c.SweepInterval) })
	return nil
}

func (s *Server) openRuntimeStore(ctx context.Context) (runtime.Store, error) {
	var st runtime.Store
	var err error
	switch s.cfg.Storage.Driver {
	case "postgres":
		st, err = pgstore.Open(ctx, s.cfg.Storage.DSN)
	default:
		st, err = sqlitestore.Open(ctx, filepath.Join(s.opts.DataDir, "runtime.db"))
	}
	if err != nil {
		return nil, fmt.Errorf("server: runtime store: %w", err)
	}
	s.closers = append(s.closers, st.Close)
	return st, nil
}

// readBody reads a JSON body of at most limit bytes. Over it it answers tooLargeStatus with
// tooLarge's detail (n is the Content-Length, or -1 when the limit was met while reading), with
// another media type 415, and returns false.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, tooLargeStatus int, tooLarge func(n int64) string) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			api.WriteProblem(w, r, http.StatusUnsupportedMediaType, api.ProbUnsupportedType, "the body must be application/json")
			return nil, false
		}
	}
	if r.ContentLength > limit {
		api.WriteProblem(w, r, tooLargeStatus, api.ProbTooLarge, tooLarge(r.ContentLength))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			api.WriteProblem(w, r, tooLargeStatus, api.ProbTooLarge, tooLarge(-1))
		} else {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "reading the body: "+err.Error())
		}
		return nil, false
	}
	return body, true
}

// writeValidation answers a *runtime.ValidationError as a 400 problem with field errors.
func writeValidation(w http.ResponseWriter, r *http.Request, err error) bool {
	var ve *runtime.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	typ := api.ProbValidation
	if ve.Reason == runtime.ReasonTooLarge {
		typ = api.ProbTooLarge
	}
	p := api.Problem{Type: typ, Status: http.StatusBadRequest, Detail: string(ve.Reason) + ": " + ve.Error()}
	for _, fe := range ve.Errors {
		p.Errors = append(p.Errors, api.FieldError{Path: fe.Path, Msg: fe.Msg})
	}
	api.WriteProblemValue(w, r, p)
	return true
}

// ingest is POST /api/v1/runtime/events.
func (a *runtimeArea) ingest(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// The spec answers an oversize batch with 400, not 413.
	body, ok := readBody(w, r, a.maxBody, http.StatusBadRequest, func(n int64) string {
		if n < 0 {
			return fmt.Sprintf("payload too large: the batch exceeds %d bytes (maxPayloadBytes)", a.maxBody)
		}
		return fmt.Sprintf("payload too large: the batch is %d bytes; at most %d are accepted (maxPayloadBytes)", n, a.maxBody)
	})
	if !ok {
		return
	}
	batch, err := runtime.DecodeBatch(body, a.svc.Config().Limits)
	if err != nil {
		if !writeValidation(w, r, err) {
			a.fail(w, r, err)
		}
		return
	}
	// A token bound to a tenant reports for that tenant only.
	if tid := api.PrincipalFrom(ctx).Claims.Tenant; tid != "" {
		for i, env := range batch.Events {
			if env.Event.Tenant != tid {
				api.WriteProblemValue(w, r, api.Problem{Type: api.ProbForbidden, Status: http.StatusForbidden,
					Detail: fmt.Sprintf("the token is bound to tenant %q and cannot report events of tenant %q", tid, env.Event.Tenant),
					Errors: []api.FieldError{{Path: fmt.Sprintf("$.events[%d].event.tenant", i), Msg: "not the token's tenant"}}})
				return
			}
		}
	}
	res, err := a.svc.Ingest(ctx, batch)
	var rl *runtime.RateLimitError
	switch {
	case errors.As(err, &rl):
		a.metrics.limited.Inc()
		secs := int64((rl.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		api.WriteProblem(w, r, http.StatusTooManyRequests, api.ProbRateLimited, rl.Error())
		return
	case err != nil:
		a.fail(w, r, err)
		return
	}
	a.metrics.accepted.Add(float64(res.Accepted))
	a.metrics.duplicates.Add(float64(res.Duplicates))
	api.WriteJSON(w, http.StatusAccepted, res)
}

// policy is POST /api/v1/scanner/policy/runtime.
func (a *runtimeArea) policy(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, ok := readBody(w, r, api.DefaultMaxBody, http.StatusRequestEntityTooLarge, func(int64) string {
		return fmt.Sprintf("the body exceeds %d bytes", api.DefaultMaxBody)
	})
	if !ok {
		return
	}
	req, err := runtime.DecodePolicyRequest(body)
	if err != nil {
		if !writeValidation(w, r, err) {
			a.fail(w, r, err)
		}
		return
	}
	s := a.s
	var revision string
	if s.areas.activePolicy != nil {
		_, rev, err := s.areas.activePolicy(ctx)
		switch {
		case errors.Is(err, ErrNoActivePolicy):
		case err != nil:
			a.fail(w, r, fmt.Errorf("active policy: %w", err))
			return
		default:
			revision = rev.RevisionID
		}
	}
	var evidence runtime.EvidenceSource
	if f := s.areas.imageEvidence; f != nil {
		evidence = func(ctx context.Context, digest string) (runtime.ImageEvidence, error) {
			e, err := f(ctx, digest)
			if err != nil {
				return runtime.ImageEvidence{}, err
			}
			out := runtime.ImageEvidence{Signed: e.Signed, HasSBOM: e.HasSBOM, PolicyVerdict: e.PolicyVerdict,
				PolicyRevision: e.PolicyRevision, ReportID: e.ReportID, QuietedBy: e.QuietedBy}
			if at := e.Attestation; at != nil {
				out.Attestation = &runtime.Attestation{UUID: at.UUID, Index: at.Index, Verified: at.Verified}
			}
			return out, nil
		}
	}
	p := api.PrincipalFrom(ctx)
	// The labels do not change verdicts (no label-aware runtime policy yet); they are logged (at
	// debug) so the webhook's admission decisions can be traced to the workload.
	s.log.DebugContext(ctx, "runtime verdicts", "component", "runtime", "namespace", req.Namespace, "labels", req.Labels,
		"images", len(req.Images), "client", p.Claims.ClientID, "traceId", api.TraceID(ctx))
	resp, err := a.svc.Verdicts(ctx, req, p.Claims.Tenant, revision, evidence)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, max-age="+strconv.Itoa(resp.TTLSeconds))
	api.WriteJSON(w, http.StatusOK, resp)
}

// fail answers a store or dependency failure: logged with the trace id, 503 on the wire.
func (a *runtimeArea) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.s.log.ErrorContext(r.Context(), "runtime request failed", "component", "runtime", "err", err, "traceId", api.TraceID(r.Context()))
	api.WriteProblem(w, r, http.StatusServiceUnavailable, api.ProbUnavailable, "the runtime event store is unavailable; retry later")
}
