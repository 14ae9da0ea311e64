package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/concelier"
	"github.com/stellaops/stellaops/internal/concelier/jobs"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/queue"
	"github.com/stellaops/stellaops/internal/queue/memqueue"
	"github.com/stellaops/stellaops/internal/queue/redisqueue"
)

// The Concelier jobs area: POST /jobs/<kind> accepts a run (source:<id>:<stage>,
// merge:reconcile, export:json, export:trivy-db) and answers 202 at once; a process with the
// concelier role runs it; GET /jobs and GET /jobs/<id> report runs, whoever started them
// (`stellaops concelier run` records its runs in the same store).
//
// A trigger takes the kind's lease in the Concelier store for the run it records
// (jobs.Runner.Accept), so a second trigger of a kind that is queued or running is refused
// with 409 on every replica, and by the CLI too. The run then goes through a queue of its own,
// not the scan queue: in memory when embedded, on Redis in scale mode, where API replicas
// enqueue and concelier-role replicas lease. A worker that dies mid-run lets its queue lease
// run out; the run is delivered again and runs again under the same record.

// ConcelierConfig is the Concelier area's configuration (the "concelier" section).
type ConcelierConfig struct {
	// DSN is the Concelier store, a postgres:// URL. Empty follows storage: storage.dsn with
	// the postgres driver, else the embedded SQLite database <data>/concelier/concelier.db,
	// the one `stellaops concelier run --data <data>` uses.
	DSN string `json:"dsn" secret:"true"`
	// Workers is how many runs (of different kinds) a concelier-role process runs at once.
	Workers int `json:"workers"`
	// PendingTimeout is how long an accepted run may wait for a worker while its kind stays
	// busy; past it another trigger of the kind may start, and the waiting run then fails.
	PendingTimeout time.Duration `json:"pendingTimeout"`
	// AllowedSources are the sources triggers may name; empty allows every source this build has.
	AllowedSources []string `json:"allowedSources"`
	// Sources are per-source run defaults by source ID (osv, alpine, debian, ubuntu, redhat, nvd, kev).
	Sources map[string]ConcelierSourceConfig `json:"sources"`
	// MirrorRoot lets a trigger name a mirror as a path relative to this directory (an
	// air-gapped site's synced feeds). Empty refuses mirror paths from requests: the server
	// never reads a path a caller chose outside it. Relative to the data directory unless absolute.
	MirrorRoot string `json:"mirrorRoot"`
	// NVDAPIKey is sent by source:nvd fetches (the apiKey header).
	NVDAPIKey string `json:"nvdApiKey" secret:"true"`
	// Exporters are the exports' settings (spec: concelier:exporters:trivyDb).
	Exporters ConcelierExportersConfig `json:"exporters"`
}

// ConcelierSourceConfig is one source's run defaults.
type ConcelierSourceConfig struct {
	// Mirror is a local copy of the feed read instead of the network (a directory or file, as
	// the source reads it). Relative to the data directory unless absolute.
	Mirror string `json:"mirror"`
	// Ecosystems are the OSV ecosystems fetched over the network (osv only).
	Ecosystems []string `json:"ecosystems"`
}

// ConcelierExportersConfig holds the exporters' settings.
type ConcelierExportersConfig struct {
	TrivyDB ConcelierTrivyDBConfig `json:"trivyDb"`
}

// ConcelierTrivyDBConfig is export:trivy-db's publishing: the spec's oras and offlineBundle
// switches. A trigger may override publishFull/publishDelta and includeFull/includeDelta
// per run, never the reference or the credentials.
type ConcelierTrivyDBConfig struct {
	ORAS          ConcelierORASConfig   `json:"oras"`
	OfflineBundle ConcelierBundleConfig `json:"offlineBundle"`
}

// ConcelierORASConfig pushes exports to Ref (registry/repository:tag) when Enabled: full runs
// when PublishFull, delta runs when PublishDelta.
type ConcelierORASConfig struct {
	Enabled      bool   `json:"enabled"`
	Ref          string `json:"ref"`
	PublishFull  bool   `json:"publishFull"`
	PublishDelta bool   `json:"publishDelta"`
	// PlainHTTP talks HTTP, not HTTPS, to the registry.
	PlainHTTP bool   `json:"plainHttp"`
	Username  string `json:"username"`
	Password  string `json:"password" secret:"true"`
}

// ConcelierBundleConfig writes offline-bundle.tar.gz when Enabled: for full runs when
// IncludeFull, for delta runs when IncludeDelta.
type ConcelierBundleConfig struct {
	Enabled      bool `json:"enabled"`
	IncludeFull  bool `json:"includeFull"`
	IncludeDelta bool `json:"includeDelta"`
}

func (c *ConcelierConfig) defaults() {
	c.Workers = 2
	c.PendingTimeout = time.Hour
	// The spec's defaults: once enabled, full runs are published and bundled, delta runs not.
	d := concelier.DefaultTrivyDBOptions()
	c.Exporters.TrivyDB.ORAS.PublishFull, c.Exporters.TrivyDB.ORAS.PublishDelta = d.ORAS.PublishFull, d.ORAS.PublishDelta
	c.Exporters.TrivyDB.OfflineBundle.IncludeFull = d.OfflineBundle.IncludeFull
	c.Exporters.TrivyDB.OfflineBundle.IncludeDelta = d.OfflineBundle.IncludeDelta
}

func (c *ConcelierConfig) validate() error {
	var errs []error
	if c.DSN != "" && !strings.HasPrefix(c.DSN, "postgres://") && !strings.HasPrefix(c.DSN, "postgresql://") {
		errs = append(errs, errors.New("concelier.dsn: want a postgres:// URL, or nothing to follow storage"))
	}
	if c.Workers < 1 || c.Workers > 32 {
		errs = append(errs, errors.New("concelier.workers must be between 1 and 32"))
	}
	if c.PendingTimeout < time.Minute {
		errs = append(errs, errors.New("concelier.pendingTimeout must be at least 1m"))
	}
	for _, id := range c.AllowedSources {
		if !slices.Contains(concelier.Sources, id) {
			errs = append(errs, fmt.Errorf("concelier.allowedSources: no source %q (this build has: %s)", id, strings.Join(concelier.Sources, ", ")))
		}
	}
	for id, sc := range c.Sources {
		switch {
		case !slices.Contains(concelier.Sources, id):
			errs = append(errs, fmt.Errorf("concelier.sources: no source %q (this build has: %s)", id, strings.Join(concelier.Sources, ", ")))
		case len(sc.Ecosystems) > 0 && id != "osv":
			errs = append(errs, fmt.Errorf("concelier.sources.%s.ecosystems: only osv has ecosystems", id))
		}
		if slices.Contains(sc.Ecosystems, "") {
			errs = append(errs, fmt.Errorf("concelier.sources.%s.ecosystems: an empty name", id))
		}
	}
	if o := c.Exporters.TrivyDB.ORAS; o.Enabled {
		if ref, err := registry.ParseReference(o.Ref); err != nil || ref.Reference == "" {
			errs = append(errs, fmt.Errorf("concelier.exporters.trivyDb.oras.ref %q: want registry/repository:tag", o.Ref))
		}
	}
	return errors.Join(errs...)
}

// policy is the configuration as triggers see it, with paths made absolute.
func (c *ConcelierConfig) policy(dataDir string) (concelier.TriggerPolicy, error) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dataDir, p)
	}
	t := c.Exporters.TrivyDB
	p := concelier.TriggerPolicy{
		AllowedSources: slices.Clone(c.AllowedSources),
		Sources:        map[string]concelier.SourceDefaults{},
		MirrorRoot:     abs(c.MirrorRoot),
		NVDAPIKey:      c.NVDAPIKey,
		TrivyDB: concelier.TrivyDBOptions{
			ORAS: concelier.ORASOptions{Enabled: t.ORAS.Enabled, Ref: t.ORAS.Ref, PublishFull: t.ORAS.PublishFull, PublishDelta: t.ORAS.PublishDelta,
				PlainHTTP: t.ORAS.PlainHTTP, Username: t.ORAS.Username, Password: t.ORAS.Password},
			OfflineBundle: concelier.BundleOptions{Enabled: t.OfflineBundle.Enabled, IncludeFull: t.OfflineBundle.IncludeFull, IncludeDelta: t.OfflineBundle.IncludeDelta},
		},
	}
	if p.MirrorRoot != "" {
		if fi, err := os.Stat(p.MirrorRoot); err != nil || !fi.IsDir() {
			return p, fmt.Errorf("concelier.mirrorRoot %s: not a directory", p.MirrorRoot)
		}
	}
	for id, sc := range c.Sources {
		p.Sources[id] = concelier.SourceDefaults{Mirror: abs(sc.Mirror), Ecosystems: slices.Clone(sc.Ecosystems)}
	}
	return p, nil
}

// Tuning of the Concelier queue.
const (
	// concelierQueuePrefix is the Redis key prefix of the Concelier queue (the scan queue's is
	// redisqueue.DefaultPrefix): the two never deliver each other's jobs.
	concelierQueuePrefix = "stellaops:queue:concelier"
	// concelierLease is a worker's queue lease, extended every third of it while a run lasts.
	concelierLease = time.Minute
	// concelierMaxDeliveries: a run delivered this often without finishing (its worker died
	// each time) is recorded as failed instead of being run again.
	concelierMaxDeliveries = 3
	// Page sizes of GET /jobs.
	concelierDefaultLimit = 50
	concelierMaxLimit     = 200
	// concelierMaxTriggerBody bounds a trigger's body: a label and a few parameters.
	concelierMaxTriggerBody = 16 << 10
)

// concelierArea serves the /jobs endpoints and runs accepted jobs.
type concelierArea struct {
	s      *Server
	store  store.Store
	svc    *concelier.Service
	runner *jobs.Runner
	policy concelier.TriggerPolicy
	q      queue.Queue
	// canRun: a run accepted here reaches a worker (this process has the concelier role, or
	// the queue is on Redis where concelier-role replicas lease).
	canRun  bool
	pending time.Duration
}

// concelierTask is the queue payload of an accepted run. Secrets are not in it (their JSON
// tags leave them out): the worker adds its own configuration's.
type concelierTask struct {
	JobID   string            `json:"jobId"`
	Options concelier.Options `json:"options"`
}

// mountConcelier opens the Concelier store and queue, mounts the /jobs endpoints (api role)
// and starts the workers (concelier role).
func (s *Server) mountConcelier(ctx context.Context) error {
	apiRole, workerRole := s.cfg.HasRole("api"), s.cfg.HasRole("concelier")
	if !apiRole && !workerRole {
		return nil
	}
	c := s.cfg.Concelier
	pol, err := c.policy(s.opts.DataDir)
	if err != nil {
		return err
	}
	now := s.opts.Now
	if now == nil {
		now = time.Now
	}
	dsn := c.DSN
	if dsn == "" && s.cfg.Storage.Driver == "postgres" {
		dsn = s.cfg.Storage.DSN
	}
	st, err := concelier.OpenStore(ctx, s.opts.DataDir, dsn, store.Options{Now: now})
	if err != nil {
		return fmt.Errorf("concelier store: %w", err)
	}
	s.closers = append(s.closers, st.Close)
	if _, ok := st.(store.JobPager); !ok {
		return fmt.Errorf("concelier store %T cannot page through jobs", st)
	}
	var q queue.Queue
	if s.redis != nil {
		q, err = redisqueue.New(s.redis, concelierQueuePrefix+redisPrefix(s.cfg.Redis.Prefix), queue.Config{MaxAttempts: concelierMaxDeliveries + 1})
	} else {
		q, err = memqueue.New(queue.Config{Now: now, MaxAttempts: concelierMaxDeliveries + 1})
	}
	if err != nil {
		return fmt.Errorf("concelier queue: %w", err)
	}
	s.closers = append(s.closers, q.Close)
	host, _ := os.Hostname()
	runner := jobs.New(st, fmt.Sprintf("%s:%d", host, os.Getpid()))
	a := &concelierArea{
		s: s, store: st, runner: runner, policy: pol, q: q, pending: c.PendingTimeout,
		svc:    &concelier.Service{Store: st, DataDir: s.cfg.sharedDir(s.opts.DataDir), Now: now, Runner: runner},
		canRun: workerRole || s.redis != nil,
	}
	for id, d := range pol.Sources {
		if _, err := os.Stat(d.Mirror); d.Mirror != "" && err != nil {
			s.log.Warn("concelier: a configured mirror is not readable yet; fetches of the source will fail until it is", "source", id, "err", err)
		}
	}
	if apiRole {
		for _, rt := range []api.Route{
			{Method: http.MethodPost, Path: "/jobs/{job}", Scope: authority.ScopeConcelierTrigger, Anonymous: true, MaxBody: concelierMaxTriggerBody,
				Summary: "trigger a Concelier job", Handler: a.trigger},
			{Method: http.MethodGet, Path: "/jobs", Scope: authority.ScopeConcelierRead, Anonymous: true, Summary: "list Concelier job runs", Handler: a.list},
			{Method: http.MethodGet, Path: "/jobs/{job}", Scope: authority.ScopeConcelierRead, Anonymous: true, Summary: "one Concelier job run", Handler: a.get},
		} {
			if err := s.API.Handle(rt); err != nil {
				return err
			}
		}
	}
	if workerRole {
		// Embedded (one process, an in-memory queue), runs left unfinished by an earlier
		// process can never be delivered: record them as failed so they do not read "running".
		if s.redis == nil && dsn == "" {
			if err := a.sweep(ctx); err != nil {
				return err
			}
		}
		s.goBackground("concelier workers", a.work)
	}
	return nil
}

// sweep fails unfinished runs whose lease no live runner holds. It takes each one's lease as
// the run itself: that succeeds only when the lease is free or the run's own (an accepted run
// of a previous process), never while `stellaops concelier run` holds it.
func (a *concelierArea) sweep(ctx context.Context) error {
	list, err := a.store.ListJobs(ctx, "", 1000)
	if err != nil {
		return fmt.Errorf("concelier: %w", err)
	}
	for _, j := range list {
		if j.Outcome != "" {
			continue
		}
		ok, err := a.store.AcquireLock(ctx, j.Kind, jobs.AcceptedHolder(j.ID), time.Minute)
		if err != nil {
			return fmt.Errorf("concelier: %w", err)
		}
		if !ok {
			continue
		}
		if err := a.runner.Abandon(ctx, j, "abandoned: the process that was to run it stopped before it finished"); err != nil {
			return fmt.Errorf("concelier: %w", err)
		}
		a.s.log.Warn("concelier: abandoned a run left unfinished", "kind", j.Kind, "jobId", j.ID)
	}
	return nil
}

// work runs the workers until ctx ends.
func (a *concelierArea) work(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range a.s.cfg.Concelier.Workers {
		consumer := fmt.Sprintf("%s/%d", a.runner.Holder, i)
		wg.Go(func() { a.loop(ctx, consumer) })
	}
	wg.Wait()
	return nil
}

func (a *concelierArea) loop(ctx context.Context, consumer string) {
	for {
		l, err := a.q.Lease(ctx, consumer, concelierLease)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, queue.ErrClosed) {
				return
			}
			a.s.log.Error("concelier: leasing a run failed", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		a.execute(ctx, l)
	}
}

// execute runs one delivered run and acks it once its outcome is recorded; a run that could
// not even start (the store unavailable, or shutdown) goes back to the queue.
func (a *concelierArea) execute(ctx context.Context, l queue.Lease) {
	bg := context.WithoutCancel(ctx)
	log := a.s.log.With("component", "concelier", "jobId", l.ID)
	var t concelierTask
	if err := json.Unmarshal(l.Payload, &t); err != nil || t.JobID != l.ID {
		log.Error("concelier: dropping a malformed queue entry", "err", err)
		_ = a.q.Ack(bg, l)
		return
	}
	job, err := a.store.GetJob(ctx, t.JobID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		log.Error("concelier: dropping a queued run that has no record")
		_ = a.q.Ack(bg, l)
		return
	case err != nil:
		if ctx.Err() == nil {
			log.Error("concelier: reading a queued run failed; it will be retried", "err", err)
		}
		_ = a.q.Nack(bg, l, 5*time.Second, err.Error())
		return
	case job.Outcome != "":
		_ = a.q.Ack(bg, l)
		return
	case l.Attempt > concelierMaxDeliveries:
		if err := a.runner.Abandon(bg, job, fmt.Sprintf("abandoned: the process running it stopped %d times before it finished", l.Attempt-1)); err != nil {
			log.Error("concelier: recording an abandoned run failed", "err", err)
		}
		_ = a.q.Ack(bg, l)
		return
	}
	o := t.Options
	if strings.HasPrefix(job.Kind, "source:nvd:") {
		o.NVDAPIKey = a.policy.NVDAPIKey
	}
	if job.Kind == "export:trivy-db" {
		o.TrivyDB.ORAS.Username, o.TrivyDB.ORAS.Password = a.policy.TrivyDB.ORAS.Username, a.policy.TrivyDB.ORAS.Password
	}

	runCtx, cancel := context.WithCancel(ctx)
	beat := make(chan struct{})
	go func() { // heartbeat: a worker that lost its queue lease stops, another one has the run
		defer close(beat)
		tk := time.NewTicker(concelierLease / 3)
		defer tk.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tk.C:
				if _, err := a.q.Extend(runCtx, l, concelierLease); errors.Is(err, queue.ErrLeaseLost) {
					log.Error("concelier: the queue lease of a running job was lost; stopping it")
					cancel()
					return
				}
			}
		}
	}()
	start := time.Now()
	log.Info("concelier job started", "kind", job.Kind, "attempt", l.Attempt)
	done, err := a.svc.RunAccepted(runCtx, job, o)
	cancel()
	<-beat
	if done.Outcome == "" {
		log.Error("concelier: a run ended without a recorded outcome; it goes back to the queue", "kind", job.Kind, "err", err)
		_ = a.q.Nack(bg, l, 5*time.Second, fmt.Sprint(err))
		return
	}
	_ = a.q.Ack(bg, l)
	log.Info("concelier job finished", "kind", job.Kind, "outcome", string(done.Outcome), "elapsed", time.Since(start).Round(time.Millisecond), "err", done.Error)
}

// trigger answers POST /jobs/{job}: 202 with the accepted run and its Location.
func (a *concelierArea) trigger(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	kind, err := concelier.ParseKind(r.PathValue("job"))
	if err != nil {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, err.Error())
		return
	}
	req, ok := a.readTrigger(w, r)
	if !ok {
		return
	}
	o, err := a.policy.Resolve(kind, req)
	if err == nil {
		o.Trigger = triggerOf(o.Trigger, api.PrincipalFrom(ctx))
		err = a.svc.Check(kind.Name, o)
	}
	if err != nil {
		concelierProblem(w, r, err)
		return
	}
	if !a.canRun {
		api.WriteProblem(w, r, http.StatusServiceUnavailable, api.ProbUnavailable,
			"this server does not run Concelier jobs (no concelier role) and has no Redis queue to hand them to a replica that does")
		return
	}
	job, err := a.runner.Accept(ctx, kind.Name, o.Trigger, o, a.pending)
	if errors.Is(err, jobs.ErrBusy) {
		detail := fmt.Sprintf("a run of %s is already queued or running", kind.Name)
		if id := a.unfinished(ctx, kind.Name); id != "" {
			detail += " (job " + id + ")"
		}
		api.WriteProblem(w, r, http.StatusConflict, api.ProbConflict, detail)
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	payload, err := json.Marshal(concelierTask{JobID: job.ID, Options: o})
	if err == nil {
		_, err = a.q.Enqueue(ctx, queue.Job{ID: job.ID, Kind: "concelier", Payload: payload})
	}
	if err != nil {
		if aerr := a.runner.Abandon(ctx, job, "not queued: "+err.Error()); aerr != nil {
			err = errors.Join(err, aerr)
		}
		a.s.log.ErrorContext(ctx, "concelier: queueing a run failed", "component", "concelier", "kind", kind.Name, "err", err, "traceId", api.TraceID(ctx))
		api.WriteProblem(w, r, http.StatusServiceUnavailable, api.ProbUnavailable, "the Concelier queue is unavailable; the run was not accepted")
		return
	}
	a.s.log.InfoContext(ctx, "concelier job accepted", "component", "concelier", "kind", kind.Name, "jobId", job.ID,
		"trigger", job.Trigger, "traceId", api.TraceID(ctx))
	w.Header().Set("Location", "/jobs/"+job.ID)
	api.WriteJSON(w, http.StatusAccepted, concelierViewOf(job))
}

// readTrigger reads the optional JSON body and the query string into one request.
func (a *concelierArea) readTrigger(w http.ResponseWriter, r *http.Request) (concelier.TriggerRequest, bool) {
	var req concelier.TriggerRequest
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			api.WriteProblem(w, r, http.StatusRequestEntityTooLarge, api.ProbTooLarge, fmt.Sprintf("the body exceeds %d bytes", mbe.Limit))
		} else {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "reading the body: "+err.Error())
		}
		return req, false
	}
	if len(bytes.TrimSpace(body)) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !api.DecodeJSON(w, r, &req) {
			return req, false
		}
	}
	q, err := concelier.ParseTriggerQuery(r.URL.Query())
	if err == nil {
		req, err = req.Merge(q)
	}
	if err != nil {
		concelierProblem(w, r, err)
		return req, false
	}
	return req, true
}

// triggerOf records who asked: the request's label (default "api") and the caller.
func triggerOf(label string, p api.Principal) string {
	if label == "" {
		label = "api"
	}
	who := p.Claims.Subject
	switch {
	case p.Anonymous || who == "":
		who = "anonymous"
	case p.Claims.ClientID != "" && p.Claims.ClientID != who:
		who += "@" + p.Claims.ClientID
	}
	return label + "/" + who
}

// unfinished returns the id of the newest unfinished run of kind, for a 409's detail.
func (a *concelierArea) unfinished(ctx context.Context, kind string) string {
	list, err := a.store.ListJobs(ctx, kind, 10)
	if err != nil {
		return ""
	}
	for _, j := range list {
		if j.Outcome == "" {
			return j.ID
		}
	}
	return ""
}

// concelierProblem maps the errors of ParseKind, Resolve and Check: a parameter or option the
// job cannot take is 400 (with the field), a job or source this server does not run 404.
func concelierProblem(w http.ResponseWriter, r *http.Request, err error) {
	var pe *concelier.ParamError
	switch {
	case errors.As(err, &pe):
		api.WriteProblemValue(w, r, api.Problem{Type: api.ProbValidation, Status: http.StatusBadRequest, Detail: pe.Error(),
			Errors: []api.FieldError{{Path: pe.Field, Msg: pe.Msg}}})
	case errors.Is(err, concelier.ErrUnknownJob):
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, err.Error())
	default:
		// Check builds the job from its options: whatever it refuses is the request's to fix.
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, err.Error())
	}
}

// concelierJob is a run on the wire.
type concelierJob struct {
	JobID string `json:"jobId"`
	Kind  string `json:"kind"`
	// Status is running (accepted and not finished: queued for a worker, or running),
	// succeeded, failed or cancelled.
	Status     string          `json:"status"`
	Trigger    string          `json:"trigger"`
	Parameters json.RawMessage `json:"parameters"`
	StartedAt  string          `json:"startedAt"`
	FinishedAt string          `json:"finishedAt,omitempty"`
	DurationMs *int64          `json:"durationMs,omitempty"`
	Counts     json.RawMessage `json:"counts,omitempty"`
	Error      string          `json:"error,omitempty"`
}

// concelierTime is the wire form of times: UTC, milliseconds.
func concelierTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func concelierViewOf(j store.Job) concelierJob {
	v := concelierJob{JobID: j.ID, Kind: j.Kind, Status: "running", Trigger: j.Trigger, Parameters: j.Params,
		StartedAt: concelierTime(j.StartedAt), Counts: j.Counts, Error: j.Error}
	if len(v.Parameters) == 0 {
		v.Parameters = json.RawMessage(`{}`)
	}
	if j.Outcome != "" {
		v.Status = string(j.Outcome)
		v.FinishedAt = concelierTime(j.FinishedAt)
		// Replicas' clocks may disagree by a little: a run never lasts less than nothing.
		d := max(0, j.FinishedAt.Truncate(time.Millisecond).Sub(j.StartedAt.Truncate(time.Millisecond)).Milliseconds())
		v.DurationMs = &d
	}
	return v
}

// get answers GET /jobs/{job}.
func (a *concelierArea) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("job")
	if len(id) > 128 {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, "no such job run")
		return
	}
	j, err := a.store.GetJob(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, fmt.Sprintf("no job run %q", truncateRunes(id, 64)))
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, concelierViewOf(j))
}

// concelierPage is the answer of GET /jobs.
type concelierPage struct {
	Jobs []concelierJob `json:"jobs"`
	// NextCursor is the cursor of the next (older) page; absent on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// list answers GET /jobs[?kind=&limit=&cursor=]: runs newest first.
func (a *concelierArea) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k, vs := range q {
		if k != "kind" && k != "limit" && k != "cursor" {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("unknown query parameter %q (kind, limit, cursor)", truncateRunes(k, 64)))
			return
		}
		if len(vs) != 1 {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, k+" is given more than once")
			return
		}
	}
	kind := q.Get("kind")
	if kind != "" {
		if _, err := concelier.ParseKind(kind); err != nil {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "kind: "+err.Error())
			return
		}
	}
	limit := concelierDefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > concelierMaxLimit {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("limit must be an integer between 1 and %d", concelierMaxLimit))
			return
		}
		limit = n
	}
	cur, err := store.ParseJobCursor(q.Get("cursor"))
	if err != nil {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "cursor is not a cursor of this endpoint")
		return
	}
	list, err := a.store.(store.JobPager).ListJobsBefore(r.Context(), kind, cur, limit+1)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	page := concelierPage{Jobs: make([]concelierJob, 0, min(len(list), limit))}
	if len(list) > limit {
		list = list[:limit]
		page.NextCursor = store.CursorAfter(list[limit-1]).String()
	}
	for _, j := range list {
		page.Jobs = append(page.Jobs, concelierViewOf(j))
	}
	api.WriteJSON(w, http.StatusOK, page)
}

func (a *concelierArea) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.s.log.ErrorContext(r.Context(), "concelier request failed", "component", "concelier", "err", err, "traceId", api.TraceID(r.Context()))
	api.WriteProblem(w, r, http.StatusInternalServerError, api.ProbInternal, "the server failed; the trace id finds the log entry")
}
