package scanjob

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stellaops/stellaops/internal/scan/scanstore"
)

// RunSweeper fails the scans nobody will finish, every SweepInterval until ctx ends: uploads
// whose replica stopped beating, and queued scans whose job the queue gave up on (dead after
// MaxAttempts expired leases). Every hour it also forgets layer inventories unused for
// LayerTTL. Any number of replicas may sweep: every change is conditional.
func (s *Service) RunSweeper(ctx context.Context) error {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	var lastPrune time.Time
	for {
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "scan sweep failed", "component", "scanjob", "error", err)
		}
		if s.cfg.LayerTTL > 0 && time.Since(lastPrune) >= time.Hour {
			lastPrune = time.Now()
			s.prune(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep runs one pass of the sweeper.
func (s *Service) Sweep(ctx context.Context) error {
	now := s.now()
	for {
		exp, err := s.cfg.Store.Expired(ctx, scanstore.KindUpload, now, 100)
		if err != nil {
			return err
		}
		for _, sc := range exp {
			reason := "interrupted: the replica running the scan stopped; submit it again"
			ok, err := s.cfg.Store.Abandon(ctx, scanstore.Abandon{ID: sc.ID, Run: sc.Run, Reason: reason, Now: now, Expired: true},
				s.event(scanstore.StatusFailed, reason, nil))
			if err != nil {
				return err
			}
			if ok {
				s.cfg.Notifier.Notify(ctx, sc.ID)
			}
		}
		if len(exp) < 100 {
			break
		}
	}
	dead, err := s.cfg.Queue.Dead(ctx)
	if err != nil {
		return err
	}
	for _, d := range dead {
		var p jobPayload
		if d.Kind != JobKind || json.Unmarshal(d.Payload, &p) != nil {
			continue
		}
		reason := fmt.Sprintf("gave up after %d attempts: %s", d.Attempts, d.Reason)
		ok, err := s.cfg.Store.Abandon(ctx, scanstore.Abandon{ID: p.ScanID, Run: p.Run, Reason: reason, Now: now},
			s.event(scanstore.StatusFailed, reason, nil))
		if err != nil {
			return err
		}
		if ok {
			s.cfg.Notifier.Notify(ctx, p.ScanID)
		}
	}
	return nil
}

func (s *Service) prune(ctx context.Context) {
	n, err := s.cfg.Store.PruneLayers(ctx, s.now().Add(-s.cfg.LayerTTL))
	if err != nil {
		s.log.WarnContext(ctx, "pruning layer inventories failed", "component", "scanjob", "error", err)
	} else if n > 0 {
		s.log.InfoContext(ctx, "forgot unused layer inventories", "component", "scanjob", "layers", n)
	}
	s.cleanTemp(ctx)
	if c := s.cfg.Pipeline.Cache; c != nil && c.Dir != nil {
		if _, err := c.Dir.Prune(ctx, s.cfg.LayerTTL, s.cfg.LayerCacheMaxBytes); err != nil {
			s.log.WarnContext(ctx, "pruning the layer cache directory failed", "component", "scanjob", "error", err)
		}
	}
}

// cleanTemp removes what runs left in the temporary directory (a process that crashed
// mid-scan): entries older than two scan timeouts, which no live run can still be reading.
func (s *Service) cleanTemp(ctx context.Context) {
	if s.cfg.TempDir == "" {
		return
	}
	ents, err := os.ReadDir(s.cfg.TempDir)
	if err != nil {
		return
	}
	cutoff := time.Now().Add(-2 * s.cfg.ScanTimeout)
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			if err := os.RemoveAll(filepath.Join(s.cfg.TempDir, e.Name())); err != nil {
				s.log.WarnContext(ctx, "removing a stale temporary file failed", "component", "scanjob", "error", err)
			}
		}
	}
}
