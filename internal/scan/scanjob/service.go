// Package scanjob runs scans for the server: it accepts queued scan requests (deterministic
// ids, idempotent enqueue, forced re-runs, cancellation), runs them in workers that lease jobs
// from the queue, runs uploads (POST /scan) on the replica that received them, records every
// step as a progress event, streams those events to watchers on any replica, and answers
// which layers the installation has inventories for.
//
// Exactly-once completion rests on two fences: the queue's lease token, and the same token
// installed in the scan store by Claim. Every store write of a run (events, release, finish)
// is conditional on it, so a worker whose lease ran out — even one that merely paused — can
// neither overwrite nor add to the work of the delivery that replaced it.
//
// It owns no HTTP: internal/server maps requests to these calls and errors to problems.
package scanjob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/stellaops/stellaops/internal/queue"
	"github.com/stellaops/stellaops/internal/scan/scanstore"
)

// JobKind is the queue job kind of scans.
const JobKind = "scan"

// Config configures a Service. Zero durations and counts take the defaults noted.
type Config struct {
	Store    scanstore.Store
	Queue    queue.Queue
	Notifier *Notifier
	Pipeline *Pipeline
	// Fingerprint is the analyzer fingerprint layer names are recorded under.
	Fingerprint string
	// Consumer names this process in leases (logs only).
	Consumer string
	Now      func() time.Time
	Log      *slog.Logger

	// Workers leasing queued scans (default 1).
	Workers int
	// LeaseDuration of a queued scan and heartbeat period of an upload (default 60s); the
	// holder renews it every third of it.
	LeaseDuration time.Duration
	// RetryBase and RetryMax shape the backoff of a failed attempt (default 5s, 5m).
	RetryBase, RetryMax time.Duration
	// MaxAttempts is the queue's (default queue.DefaultMaxAttempts): the last attempt that
	// fails finishes the scan as Failed.
	MaxAttempts int
	// ScanTimeout bounds one run (default 30m).
	ScanTimeout time.Duration
	// Uploads run at most this many at once on this replica (default 2); as many more may
	// wait.
	Uploads int
	// PollInterval is how often an event stream re-reads the store without a wake-up
	// (default 500ms).
	PollInterval time.Duration
	// FlushInterval is how often a run writes its buffered progress events (default 200ms).
	FlushInterval time.Duration
	// SweepInterval is how often the sweeper looks for abandoned scans (default 30s).
	SweepInterval time.Duration
	// LayerTTL forgets layer inventories unused this long (default 45 days; 0 keeps them).
	LayerTTL time.Duration
	// LayerCacheMaxBytes bounds the directory cache (default 5 GiB).
	LayerCacheMaxBytes int64

	// LocalDirectories are where local image references may point (none: none may).
	LocalDirectories []string
	// AllowedRegistries, when set, are the only registries pulled from.
	AllowedRegistries []string
	// InsecureRegistries may be reached over plain HTTP.
	InsecureRegistries []string
	// Fetch governs upload URLs.
	Fetch FetchConfig
	// TempDir receives uploads and downloads.
	TempDir string
}

// Service runs scans. Its Run* methods are the background loops of a process; the rest is
// safe for concurrent use by request handlers.
type Service struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	uploadCtx context.Context // set while RunUploads runs
	uploads   sync.WaitGroup
	slots     chan struct{} // uploads running
	admit     chan struct{} // uploads running or waiting for a slot; set by RunUploads
	streamsCh chan struct{} // closed when RunStreams ends: streams end for shutdown
}

// New returns a service for cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Queue == nil || cfg.Pipeline == nil {
		return nil, errors.New("scanjob: store, queue and pipeline are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Notifier == nil {
		cfg.Notifier = NewNotifier(nil, "", cfg.Log)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.LeaseDuration, time.Minute)
	def(&cfg.RetryBase, 5*time.Second)
	def(&cfg.RetryMax, 5*time.Minute)
	def(&cfg.ScanTimeout, 30*time.Minute)
	def(&cfg.PollInterval, 500*time.Millisecond)
	def(&cfg.FlushInterval, 200*time.Millisecond)
	def(&cfg.SweepInterval, 30*time.Second)
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = queue.DefaultMaxAttempts
	}
	if cfg.Uploads <= 0 {
		cfg.Uploads = 2
	}
	if cfg.Consumer == "" {
		cfg.Consumer = "scanjob-" + newToken()[:8]
	}
	return &Service{cfg: cfg, log: cfg.Log, slots: make(chan struct{}, cfg.Uploads),
		streamsCh: make(chan struct{})}, nil
}

// Store returns the service's store.
func (s *Service) Store() scanstore.Store { return s.cfg.Store }

// Config returns the configuration with defaults applied.
func (s *Service) Config() Config { return s.cfg }

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// stamp is an event time: UTC, whole milliseconds, as the frames carry it.
func (s *Service) stamp() time.Time { return s.now().Truncate(time.Millisecond) }

func (s *Service) event(state scanstore.Status, msg string, data map[string]any) scanstore.Event {
	return scanstore.Event{State: state, Message: msg, Time: s.stamp(), Data: eventData(data)}
}

// jobPayload is a queued scan's job: which scan and which run.
type jobPayload struct {
	ScanID string `json:"scanId"`
	Run    int    `json:"run"`
}

func jobOf(id string, run int) queue.Job {
	b, _ := json.Marshal(jobPayload{ScanID: id, Run: run})
	return queue.Job{ID: fmt.Sprintf("%s:%d", id, run), Kind: JobKind, Payload: b}
}

// ErrRefused is wrapped by refusals of a request for what it names (a local path outside the
// allowed directories, a registry not allowed); the API answers them 400.
var ErrRefused = errors.New("refused")

// CheckTarget refuses a normalised request this installation will not scan.
func (s *Service) CheckTarget(n Normalized) error {
	switch {
	case n.LocalPath:
		if _, err := s.localPath(n.Reference); err != nil {
			return err
		}
	case n.Reference != "":
		r, err := name.ParseReference(n.Reference)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrRefused, err)
		}
		if reg := r.Context().RegistryStr(); len(s.cfg.AllowedRegistries) > 0 && !slices.Contains(s.cfg.AllowedRegistries, reg) {
			return fmt.Errorf("%w: registry %q is not in scanner.registries.allowed", ErrRefused, reg)
		}
	}
	return nil
}

// localPath checks that p (absolute, clean) lies in an allowed directory, symlinks resolved
// if it exists, and returns the path to read.
func (s *Service) localPath(p string) (string, error) {
	if len(s.cfg.LocalDirectories) == 0 {
		return "", fmt.Errorf("%w: local paths are not scanned (configure scanner.localDirectories)", ErrRefused)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		real = p // does not exist yet, or unreadable: the scan reports it
	}
	for _, d := range s.cfg.LocalDirectories {
		rd, err := filepath.EvalSymlinks(d)
		if err != nil {
			rd = filepath.Clean(d)
		}
		if rel, err := filepath.Rel(rd, real); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel) {
			return real, nil
		}
	}
	return "", fmt.Errorf("%w: %s is outside scanner.localDirectories", ErrRefused, p)
}

// Enqueue records a queued scan and puts its job on the queue. An identical request returns
// the existing scan with created=false; force starts a new run of a finished one (created
// then says a run was started). A Pending scan's job is enqueued again, which the queue
// ignores when it has it, so a client retrying after a failed enqueue heals the scan.
func (s *Service) Enqueue(ctx context.Context, n Normalized) (scanstore.Scan, bool, error) {
	id := n.ScanID()
	now := s.now()
	data := map[string]any{"force": n.Force}
	for k, v := range n.Metadata {
		data["meta."+k] = v
	}
	sc, created, err := s.cfg.Store.Create(ctx, scanstore.Scan{ID: id, Kind: scanstore.KindQueued,
		Image: scanstore.Image{Reference: n.Given, Digest: n.Digest}, Request: n.Doc(), Status: scanstore.StatusPending,
		Run: 1, LeaseUntil: now, CreatedAt: now, UpdatedAt: now}, s.event(scanstore.StatusPending, "queued", data))
	if err != nil {
		return sc, false, err
	}
	started := created
	if !created && n.Force && sc.Status.Terminal() {
		if sc, started, err = s.cfg.Store.Rerun(ctx, id, now, now, s.event(scanstore.StatusPending, "queued (forced re-run)", data)); err != nil {
			return sc, false, err
		}
	}
	if sc.Status == scanstore.StatusPending {
		if _, err := s.cfg.Queue.Enqueue(ctx, jobOf(id, sc.Run)); err != nil {
			return sc, false, fmt.Errorf("scanjob: enqueue %s: %w", id, err)
		}
	}
	if started {
		s.cfg.Notifier.Notify(ctx, id)
	}
	return sc, started, nil
}

// Cancel cancels a Pending or Running scan. The holder of a running scan notices at its next
// heartbeat and stops; its lease is acked, not retried.
func (s *Service) Cancel(ctx context.Context, id, by string) (scanstore.Scan, bool, error) {
	msg := "cancelled"
	if by != "" {
		msg = "cancelled by " + by
	}
	sc, ok, err := s.cfg.Store.Cancel(ctx, id, s.now(), s.event(scanstore.StatusCancelled, msg, nil))
	if ok {
		s.cfg.Notifier.Notify(ctx, id)
	}
	return sc, ok, err
}

// Outcome decodes a scan's stored outcome (nil before success).
func OutcomeOf(sc scanstore.Scan) (*Outcome, error) {
	if sc.Outcome == nil {
		return nil, nil
	}
	var o Outcome
	if err := json.Unmarshal(sc.Outcome, &o); err != nil {
		return nil, fmt.Errorf("scanjob: stored outcome of %s: %w", sc.ID, err)
	}
	return &o, nil
}

// maxStreamBatch bounds the events read (and written) at once.
const maxStreamBatch = 256

// Stream writes the scan's events after sequence after — the history, then live ones — and
// returns when the scan's run has ended and every event is written, when ctx ends (the
// client left), or when the process shuts down (RunStreams ended). idle is called when
// nothing happened for a while, for keep-alives.
func (s *Service) Stream(ctx context.Context, id string, after int64, write func([]Frame) error, idle func() error) error {
	wake, unsubscribe := s.cfg.Notifier.Subscribe(id)
	defer unsubscribe()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	const keepAlive = 15 * time.Second
	lastWrite := time.Now()
	for {
		// The status is read before the events: when it is terminal, the events read next
		// include the terminal one.
		sc, err := s.cfg.Store.Get(ctx, id)
		if err != nil {
			return err
		}
		evs, err := s.cfg.Store.Events(ctx, id, after, maxStreamBatch)
		if err != nil {
			return err
		}
		if len(evs) > 0 {
			frames := make([]Frame, len(evs))
			for i, e := range evs {
				frames[i] = FrameOf(e)
			}
			if err := write(frames); err != nil {
				return err
			}
			after = evs[len(evs)-1].Sequence
			lastWrite = time.Now()
			if len(evs) == maxStreamBatch {
				continue
			}
		}
		if sc.Status.Terminal() && after >= sc.LastSequence {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.streamsCh:
			return nil
		case <-wake:
		case <-poll.C:
			if idle != nil && time.Since(lastWrite) >= keepAlive {
				if err := idle(); err != nil {
					return err
				}
				lastWrite = time.Now()
			}
		}
	}
}

// RunStreams lives as long as the process serves streams; when ctx ends every stream ends,
// so that a graceful shutdown is not held up by watchers.
func (s *Service) RunStreams(ctx context.Context) error {
	<-ctx.Done()
	close(s.streamsCh)
	return nil
}

// MaxLayers bounds the layer list of one /layers/missing request.
const MaxLayers = 1024

// ParseLayers reads a /layers/missing body ({"layers": ["sha256:…", …]}, API spec §2.2):
// at most MaxLayers OCI digests, any case, returned lower-case in request order without
// duplicates. It refuses anything else with an error naming the offending entry.
func ParseLayers(body []byte) ([]string, error) {
	var req struct {
		Layers *[]string `json:"layers"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("malformed JSON body: %v", err)
	}
	if dec.More() {
		return nil, errors.New("malformed JSON body: data after the JSON value")
	}
	if req.Layers == nil {
		return nil, errors.New("layers is required")
	}
	if len(*req.Layers) > MaxLayers {
		return nil, fmt.Errorf("layers: %d digests, more than %d", len(*req.Layers), MaxLayers)
	}
	seen := make(map[string]bool, len(*req.Layers))
	out := make([]string, 0, len(*req.Layers))
	for i, l := range *req.Layers {
		d, err := normalizeDigest(l)
		if err != nil {
			return nil, fmt.Errorf("layers[%d]: %v", i, err)
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out, nil
}

// MissingLayers returns the layers (diff IDs or blob digests, as ParseLayers gives them) no
// replica has recorded a cached inventory for under the current analyzers, in request order.
// The store is the one answer for the installation: every worker records there the layers
// of each image it scans, whether their inventory came from its directory cache or not.
func (s *Service) MissingLayers(ctx context.Context, layers []string) ([]string, error) {
	known, err := s.cfg.Store.KnownLayers(ctx, s.cfg.Fingerprint, layers)
	if err != nil {
		return nil, err
	}
	missing := make([]string, 0, len(layers))
	for _, l := range layers {
		if _, ok := slices.BinarySearch(known, l); !ok {
			missing = append(missing, l)
		}
	}
	return missing, nil
}
