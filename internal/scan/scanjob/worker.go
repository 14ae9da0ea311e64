package scanjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/stellaops/stellaops/internal/queue"
	"github.com/stellaops/stellaops/internal/scan/scanstore"
)

// RunWorkers leases queued scans with cfg.Workers consumers until ctx ends; a consumer that
// is stopped mid-scan gives its scan back (Release, Nack) for another to resume.
func (s *Service) RunWorkers(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.consume(ctx, fmt.Sprintf("%s-%d", s.cfg.Consumer, i+1))
		}()
	}
	wg.Wait()
	return nil
}

func (s *Service) consume(ctx context.Context, consumer string) {
	failures := 0
	for {
		l, err := s.cfg.Queue.Lease(ctx, consumer, s.cfg.LeaseDuration)
		if ctx.Err() != nil || errors.Is(err, queue.ErrClosed) {
			if err == nil { // a lease taken as ctx ended: give it back at once
				s.nack(ctx, l, 0, "worker stopping")
			}
			return
		}
		if err != nil {
			failures++
			d := queue.Backoff(failures, time.Second, 30*time.Second)
			s.log.WarnContext(ctx, "leasing a scan failed", "component", "scanjob", "consumer", consumer, "retryIn", d, "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
			continue
		}
		failures = 0
		s.Handle(ctx, l)
	}
}

// nack returns a lease with its own context (the caller's may have ended).
func (s *Service) nack(ctx context.Context, l queue.Lease, after time.Duration, reason string) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.cfg.Queue.Nack(wctx, l, after, reason); err != nil && !errors.Is(err, queue.ErrLeaseLost) {
		s.log.WarnContext(wctx, "nack failed", "component", "scanjob", "job", l.ID, "error", err)
	}
}

func (s *Service) ack(ctx context.Context, l queue.Lease) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := s.cfg.Queue.Ack(wctx, l)
	switch {
	case errors.Is(err, queue.ErrLeaseLost):
		// The lease ran out after the result was stored under this delivery's fence; the
		// next delivery finds the scan finished and acks it.
		s.log.InfoContext(wctx, "ack after lease loss", "component", "scanjob", "job", l.ID)
	case err != nil:
		s.log.WarnContext(wctx, "ack failed", "component", "scanjob", "job", l.ID, "error", err)
	}
}

// Handle runs one delivery of a queued scan: claim it under the lease's token, run it,
// record the end under the same token, then ack — or, after a failure worth retrying,
// release it and nack with backoff. Exported for tests that play a worker by hand.
func (s *Service) Handle(ctx context.Context, l queue.Lease) {
	var p jobPayload
	if err := json.Unmarshal(l.Payload, &p); err != nil || l.Kind != JobKind || !ValidScanID(p.ScanID) {
		s.log.ErrorContext(ctx, "dropping a malformed scan job", "component", "scanjob", "job", l.ID, "kind", l.Kind)
		s.ack(ctx, l)
		return
	}
	sc, err := s.cfg.Store.Claim(ctx, scanstore.Claim{ID: p.ScanID, Run: p.Run, Fence: l.Token, Attempt: l.Attempt,
		LeaseUntil: s.now().Add(s.cfg.LeaseDuration), Now: s.now()},
		s.event(scanstore.StatusRunning, "started", map[string]any{"attempt": l.Attempt, "worker": l.Consumer}))
	switch {
	case errors.Is(err, scanstore.ErrNotClaimable), errors.Is(err, scanstore.ErrNotFound):
		// Finished, cancelled, re-run since, or claimed by a later delivery: nothing to do.
		s.ack(ctx, l)
		return
	case err != nil:
		if ctx.Err() != nil {
			s.nack(ctx, l, 0, "worker stopping")
			return
		}
		d := queue.Backoff(l.Attempt, s.cfg.RetryBase, s.cfg.RetryMax)
		s.log.WarnContext(ctx, "claiming a scan failed", "component", "scanjob", "scanId", p.ScanID, "error", err)
		s.nack(ctx, l, d, "claim: "+err.Error())
		return
	}
	s.cfg.Notifier.Notify(ctx, sc.ID)
	extend := func(ctx context.Context) error {
		nl, err := s.cfg.Queue.Extend(ctx, l, s.cfg.LeaseDuration)
		if err == nil {
			l = nl
		}
		return err
	}
	res := s.execute(ctx, sc, l.Token, extend, func(ctx context.Context, progress Progress) (Target, func(), error) {
		t, err := s.resolve(ctx, sc)
		return t, nil, err
	}, "")
	switch res.ending {
	case endDone:
		if err := s.finish(ctx, sc, l.Token, res, ""); err != nil {
			if !errors.Is(err, scanstore.ErrFenceLost) {
				s.log.ErrorContext(ctx, "storing a scan result failed", "component", "scanjob", "scanId", sc.ID, "error", err)
				s.nack(ctx, l, queue.Backoff(l.Attempt, s.cfg.RetryBase, s.cfg.RetryMax), "store: "+err.Error())
			}
			return // lost: the new holder finishes it
		}
		s.ack(ctx, l)
	case endCancelled:
		s.ack(ctx, l)
	case endLost:
		// Another delivery holds the scan; this one must neither write nor ack.
	case endInterrupted:
		s.release(ctx, sc, l.Token, "worker stopped; the scan will resume on another delivery")
		s.nack(ctx, l, 0, "worker stopping")
	case endFailed:
		reason := res.err.Error()
		if IsPermanent(res.err) || l.Attempt >= s.cfg.MaxAttempts {
			if l.Attempt >= s.cfg.MaxAttempts && !IsPermanent(res.err) {
				reason = fmt.Sprintf("gave up after %d attempts: %s", l.Attempt, reason)
			}
			if err := s.finish(ctx, sc, l.Token, res, reason); err != nil {
				if !errors.Is(err, scanstore.ErrFenceLost) {
					s.log.ErrorContext(ctx, "storing a scan failure failed", "component", "scanjob", "scanId", sc.ID, "error", err)
					s.nack(ctx, l, queue.Backoff(l.Attempt, s.cfg.RetryBase, s.cfg.RetryMax), "store: "+err.Error())
				}
				return
			}
			s.ack(ctx, l)
			return
		}
		d := queue.Backoff(l.Attempt, s.cfg.RetryBase, s.cfg.RetryMax)
		s.release(ctx, sc, l.Token, fmt.Sprintf("attempt %d failed: %s; retrying in %s", l.Attempt, truncate(reason, 500), d))
		s.nack(ctx, l, d, truncate(reason, 500))
	}
}

// release returns a scan to Pending under fence, for the next delivery.
func (s *Service) release(ctx context.Context, sc scanstore.Scan, fence, msg string) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := s.cfg.Store.Release(wctx, sc.ID, fence, s.now(), s.event(scanstore.StatusPending, msg, nil))
	if err == nil {
		s.cfg.Notifier.Notify(wctx, sc.ID)
	} else if !errors.Is(err, scanstore.ErrFenceLost) {
		s.log.WarnContext(wctx, "releasing a scan failed", "component", "scanjob", "scanId", sc.ID, "error", err)
	}
}

// resolve turns a queued scan's request into a target: an allowed local path, the reference
// (pinned to the requested digest), or — for a digest alone — the reference of the latest
// successful scan of that digest.
func (s *Service) resolve(ctx context.Context, sc scanstore.Scan) (Target, error) {
	var doc requestDoc
	if err := json.Unmarshal(sc.Request, &doc); err != nil {
		return Target{}, permanent("stored request of %s: %v", sc.ID, err)
	}
	ref, digest := doc.Image.Reference, doc.Image.Digest
	if ref == "" {
		prev, err := s.cfg.Store.LatestByImageDigest(ctx, digest)
		if errors.Is(err, scanstore.ErrNotFound) {
			return Target{}, permanent("no earlier scan names a repository for %s: give image.reference", digest)
		}
		if err != nil {
			return Target{}, err
		}
		var pd requestDoc
		if err := json.Unmarshal(prev.Request, &pd); err != nil || pd.Image.Reference == "" {
			return Target{}, permanent("no earlier scan names a repository for %s: give image.reference", digest)
		}
		ref = pd.Image.Reference
	}
	t := Target{WantDigest: digest}
	if len(ref) > 0 && ref[0] == '/' {
		p, err := s.localPath(ref)
		if err != nil {
			return Target{}, &Permanent{err}
		}
		t.Path = p
		return t, nil
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return Target{}, &Permanent{err}
	}
	reg := r.Context().RegistryStr()
	if len(s.cfg.AllowedRegistries) > 0 && !slices.Contains(s.cfg.AllowedRegistries, reg) {
		return Target{}, permanent("registry %q is not in scanner.registries.allowed", reg)
	}
	t.Insecure = slices.Contains(s.cfg.InsecureRegistries, reg)
	if digest != "" {
		if _, isDigest := r.(name.Digest); !isDigest {
			r = r.Context().Digest(digest)
		}
	}
	// The fully qualified name, which no local file is called, keeps target.Inventory from
	// reading a file that happens to be named like the reference.
	t.Reference = r.Name()
	return t, nil
}
