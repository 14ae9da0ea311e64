package scanjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/queue"
	"github.com/stellaops/stellaops/internal/scan"
	"github.com/stellaops/stellaops/internal/scan/scanstore"
)

// emitter buffers a run's progress events: the pipeline's progress callbacks must not block,
// and one store write per flush is cheaper than one per layer.
type emitter struct {
	mu      sync.Mutex
	pending []scanstore.Event
	svc     *Service
}

func (e *emitter) emit(msg string, data map[string]any) {
	ev := e.svc.event(scanstore.StatusRunning, msg, data)
	e.mu.Lock()
	e.pending = append(e.pending, ev)
	e.mu.Unlock()
}

func (e *emitter) take() []scanstore.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.pending
	e.pending = nil
	return out
}

// ending says how a run ended.
type ending int

const (
	endDone        ending = iota // the pipeline returned a result
	endFailed                    // the pipeline failed
	endCancelled                 // the scan was cancelled
	endLost                      // another delivery holds the scan now
	endInterrupted               // the process is stopping
)

// runResult is a run's end.
type runResult struct {
	ending  ending
	outcome *Outcome
	result  *scan.Result
	err     error
}

// execute runs the pipeline for a claimed scan while keeping its claim alive: every
// FlushInterval it writes the buffered events, and every third of the lease it renews the
// queue lease (extend, nil for uploads) and the store heartbeat. A lost fence or a
// cancellation stops the pipeline.
func (s *Service) execute(ctx context.Context, sc scanstore.Scan, fence string, extend func(context.Context) error,
	prepare func(ctx context.Context, progress Progress) (Target, func(), error), threshold policy.Level) runResult {
	runCtx, cancel := context.WithTimeout(ctx, s.cfg.ScanTimeout)
	defer cancel()
	em := &emitter{svc: s}
	var (
		mu        sync.Mutex
		lost      bool
		cancelled bool
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		flush := time.NewTicker(s.cfg.FlushInterval)
		defer flush.Stop()
		beatEvery := s.cfg.LeaseDuration / 3
		lastBeat := time.Now()
		for {
			select {
			case <-stop:
				return
			case <-runCtx.Done():
				return
			case <-flush.C:
			}
			fail := func(isCancel bool) {
				mu.Lock()
				if isCancel {
					cancelled = true
				} else {
					lost = true
				}
				mu.Unlock()
				cancel()
			}
			if evs := em.take(); len(evs) > 0 {
				err := s.cfg.Store.Append(runCtx, sc.ID, fence, evs)
				if errors.Is(err, scanstore.ErrFenceLost) {
					cur, gerr := s.cfg.Store.Get(runCtx, sc.ID)
					fail(gerr == nil && cur.Status == scanstore.StatusCancelled)
					return
				}
				if err == nil {
					s.cfg.Notifier.Notify(runCtx, sc.ID)
				} else if runCtx.Err() == nil {
					s.log.WarnContext(runCtx, "progress events not stored", "component", "scanjob", "scanId", sc.ID, "error", err)
				}
			}
			if time.Since(lastBeat) < beatEvery {
				continue
			}
			lastBeat = time.Now()
			if extend != nil {
				if err := extend(runCtx); errors.Is(err, queue.ErrLeaseLost) {
					fail(false)
					return
				} else if err != nil && runCtx.Err() == nil {
					s.log.WarnContext(runCtx, "lease renewal failed; retrying", "component", "scanjob", "scanId", sc.ID, "error", err)
				}
			}
			cur, err := s.cfg.Store.Heartbeat(runCtx, sc.ID, fence, s.now().Add(s.cfg.LeaseDuration))
			if errors.Is(err, scanstore.ErrFenceLost) {
				fail(cur.Status == scanstore.StatusCancelled)
				return
			} else if err != nil && runCtx.Err() == nil {
				s.log.WarnContext(runCtx, "scan heartbeat failed; retrying", "component", "scanjob", "scanId", sc.ID, "error", err)
			}
		}
	}()

	var res runResult
	tgt, cleanup, err := prepare(runCtx, em.emit)
	if err == nil {
		res.outcome, res.result, err = s.cfg.Pipeline.Run(runCtx, tgt, threshold, em.emit)
		if cleanup != nil {
			cleanup()
		}
	}
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	switch {
	case cancelled:
		res.ending = endCancelled
	case lost:
		res.ending = endLost
	case err == nil:
		res.ending = endDone
	case ctx.Err() != nil:
		res.ending, res.err = endInterrupted, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded) && runCtx.Err() != nil:
		res.ending, res.err = endFailed, &Permanent{fmt.Errorf("the scan took longer than %s (scanner.scanTimeout)", s.cfg.ScanTimeout)}
	default:
		res.ending, res.err = endFailed, err
	}
	// What was buffered is written with the end (the caller's Finish or Release follows).
	if res.ending != endLost && res.ending != endCancelled {
		if evs := em.take(); len(evs) > 0 {
			wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := s.cfg.Store.Append(wctx, sc.ID, fence, evs); err != nil && !errors.Is(err, scanstore.ErrFenceLost) {
				s.log.WarnContext(wctx, "progress events not stored", "component", "scanjob", "scanId", sc.ID, "error", err)
			}
			wcancel()
		}
	}
	return res
}

// finish records a run's end under fence: Succeeded with the outcome and result, or Failed
// with reason. It uses its own context so a stopping process still records what it knows.
func (s *Service) finish(ctx context.Context, sc scanstore.Scan, fence string, res runResult, reason string) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	f := scanstore.Finish{ID: sc.ID, Fence: fence, Now: s.now()}
	var ev scanstore.Event
	if res.ending == endDone {
		o, err := json.Marshal(res.outcome)
		if err != nil {
			return fmt.Errorf("scanjob: outcome: %w", err)
		}
		blob, err := EncodeResult(res.result)
		if err != nil {
			return err
		}
		f.Status, f.ImageDigest, f.Outcome, f.Result = scanstore.StatusSucceeded, res.outcome.Digest, o, blob
		sum := res.outcome.Summary
		ev = s.event(scanstore.StatusSucceeded, "completed", map[string]any{"digest": res.outcome.Digest,
			"critical": sum.Critical, "high": sum.High, "medium": sum.Medium, "low": sum.Low, "unknown": sum.Unknown,
			"findings": res.outcome.Findings, "policyStatus": res.outcome.PolicyStatus})
	} else {
		f.Status, f.FailureReason = scanstore.StatusFailed, truncate(reason, 2000)
		ev = s.event(scanstore.StatusFailed, f.FailureReason, nil)
	}
	err := s.cfg.Store.Finish(wctx, f, ev)
	if err == nil {
		s.cfg.Notifier.Notify(wctx, sc.ID)
	}
	return err
}
