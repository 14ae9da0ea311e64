package scanjob

import (
	"context"
	"errors"
	"net/url"
	"os"
	"time"

	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/scan/scanstore"
)

// Upload is a POST /scan, run on the replica that received it: the body is here.
type Upload struct {
	Request UploadRequest
	// Target is the decoded SBOM (Inventory) or the spooled body (Path); empty with URL.
	Target Target
	// URL is fetched by the run when set.
	URL       *url.URL
	Threshold policy.Level
	// Cleanup removes the upload's files once nothing reads them; may be nil.
	Cleanup func()
}

// Errors of SubmitUpload.
var (
	// ErrBusy: this replica runs and holds as many uploads as it may; retry shortly.
	ErrBusy = errors.New("scanjob: too many uploads in progress on this replica")
	// ErrStopping: the replica is not running uploads (shutting down, or not started).
	ErrStopping = errors.New("scanjob: not accepting uploads")
)

// RunUploads is the lifetime of upload runs: they run under ctx, and when it ends each one
// records that it was interrupted and RunUploads returns once all have.
func (s *Service) RunUploads(ctx context.Context) error {
	s.mu.Lock()
	s.uploadCtx = ctx
	s.admit = make(chan struct{}, 4*s.cfg.Uploads)
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	s.uploadCtx = nil
	s.mu.Unlock()
	s.uploads.Wait()
	return nil
}

// UploadsFull reports whether SubmitUpload would answer ErrBusy now (so a handler can refuse
// before charging the caller's quota).
func (s *Service) UploadsFull() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.admit != nil && len(s.admit) == cap(s.admit)
}

// Submission is an accepted upload.
type Submission struct {
	Scan scanstore.Scan
	// Joined: an identical scan was running already and this request shares it; Done is nil.
	Joined bool
	done   chan struct{}
	err    error
}

// Done is closed when the run this request started has ended.
func (sub *Submission) Done() <-chan struct{} { return sub.done }

// Err is why the run failed (nil on success, cancellation or loss); valid once Done is closed.
func (sub *Submission) Err() error { return sub.err }

// SubmitUpload records the upload's scan and starts its run. An identical request whose scan
// is running joins it (Joined; nothing new runs), and one whose scan finished runs it again.
func (s *Service) SubmitUpload(ctx context.Context, u Upload) (*Submission, error) {
	cleanup := u.Cleanup
	if cleanup == nil {
		cleanup = func() {}
	}
	s.mu.Lock()
	runCtx, admit := s.uploadCtx, s.admit
	s.mu.Unlock()
	if runCtx == nil {
		cleanup()
		return nil, ErrStopping
	}
	select {
	case admit <- struct{}{}:
	default:
		cleanup()
		return nil, ErrBusy
	}
	release := func() { <-admit; cleanup() }

	id := u.Request.ScanID()
	now := s.now()
	data := map[string]any{"sbomOnly": u.Request.SBOMOnly, "threshold": u.Request.Threshold}
	switch {
	case u.Request.URL != "":
		data["url"] = u.Request.URL
	default:
		data["contentDigest"] = u.Request.ContentDigest
	}
	if u.Request.SBOMType != "" {
		data["sbomType"] = u.Request.SBOMType
	}
	sc, created, err := s.cfg.Store.Create(ctx, scanstore.Scan{ID: id, Kind: scanstore.KindUpload, Request: u.Request.Doc(),
		Status: scanstore.StatusPending, Run: 1, LeaseUntil: now.Add(s.cfg.LeaseDuration), CreatedAt: now, UpdatedAt: now},
		s.event(scanstore.StatusPending, "received", data))
	if err != nil {
		release()
		return nil, err
	}
	if !created {
		var started bool
		if sc.Status.Terminal() {
			sc, started, err = s.cfg.Store.Rerun(ctx, id, now, now.Add(s.cfg.LeaseDuration), s.event(scanstore.StatusPending, "received again", data))
			if err != nil {
				release()
				return nil, err
			}
		}
		if !started {
			release()
			return &Submission{Scan: sc, Joined: true}, nil
		}
	}
	fence := newToken()
	sc, err = s.cfg.Store.Claim(ctx, scanstore.Claim{ID: id, Run: sc.Run, Fence: fence, Attempt: sc.Attempt + 1,
		LeaseUntil: s.now().Add(s.cfg.LeaseDuration), Now: s.now()}, s.event(scanstore.StatusRunning, "started", nil))
	if errors.Is(err, scanstore.ErrNotClaimable) {
		// A concurrent identical request claimed it first: join that run.
		release()
		if sc, err = s.cfg.Store.Get(ctx, id); err != nil {
			return nil, err
		}
		return &Submission{Scan: sc, Joined: true}, nil
	}
	if err != nil {
		release()
		return nil, err
	}
	s.cfg.Notifier.Notify(ctx, id)
	sub := &Submission{Scan: sc, done: make(chan struct{})}
	s.uploads.Add(1)
	go func() {
		defer s.uploads.Done()
		defer close(sub.done)
		defer release()
		sub.err = s.runUpload(runCtx, sc, fence, u)
	}()
	return sub, nil
}

// runUpload runs and finishes an upload's claimed scan; it returns the run's error.
func (s *Service) runUpload(ctx context.Context, sc scanstore.Scan, fence string, u Upload) error {
	res := s.execute(ctx, sc, fence, nil, func(ctx context.Context, progress Progress) (Target, func(), error) {
		select {
		case s.slots <- struct{}{}:
		default:
			progress("waiting for a free scanner", nil)
			select {
			case s.slots <- struct{}{}:
			case <-ctx.Done():
				return Target{}, nil, ctx.Err()
			}
		}
		free := func() { <-s.slots }
		t := u.Target
		if u.URL != nil {
			progress("fetching", map[string]any{"url": u.URL.Redacted()})
			p, err := s.cfg.Fetch.Fetch(ctx, u.URL, s.cfg.TempDir)
			if err != nil {
				free()
				if ctx.Err() == nil {
					// Uploads are not retried: the client hears why its URL failed.
					err = &Permanent{err}
				}
				return Target{}, nil, err
			}
			t.Path = p
			return t, func() { os.Remove(p); free() }, nil
		}
		return t, free, nil
	}, u.Threshold)
	var reason string
	switch res.ending {
	case endCancelled, endLost:
		return nil
	case endInterrupted:
		reason = "interrupted: the server shut down before the scan finished; submit it again"
	case endFailed:
		reason = res.err.Error()
	}
	if err := s.finish(ctx, sc, fence, res, reason); err != nil && !errors.Is(err, scanstore.ErrFenceLost) {
		s.log.ErrorContext(ctx, "storing an upload's result failed", "component", "scanjob", "scanId", sc.ID, "error", err)
		return err
	}
	return res.err
}

// Wait returns the scan once its run has ended, or its latest state when ctx ends first
// (with ctx's error).
func (s *Service) Wait(ctx context.Context, id string) (scanstore.Scan, error) {
	wake, unsubscribe := s.cfg.Notifier.Subscribe(id)
	defer unsubscribe()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	for {
		sc, err := s.cfg.Store.Get(context.WithoutCancel(ctx), id)
		if err != nil || sc.Status.Terminal() {
			return sc, err
		}
		select {
		case <-ctx.Done():
			return sc, ctx.Err()
		case <-wake:
		case <-poll.C:
		}
	}
}
