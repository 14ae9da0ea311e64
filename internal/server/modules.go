package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Each product area (scans, policy, runtime, reports and signer, Concelier jobs) mounts its
// routes on s.API and its background loops with s.goBackground, in a mount function of its own
// file (mount_<area>.go), so areas are built without editing each other's code. mount runs
// them in a fixed order after the platform is up.
func (s *Server) mount(ctx context.Context) error {
	for _, m := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"policy", s.mountPolicy},
		{"scans", s.mountScans},
		{"reports", s.mountReports},
		{"runtime", s.mountRuntime},
		{"concelier", s.mountConcelier},
		{"offline-kit", s.mountOfflineKit},
	} {
		if err := m.fn(ctx); err != nil {
			return fmt.Errorf("server: %s: %w", m.name, err)
		}
	}
	return nil
}

// backgroundTask is a loop that runs until its context ends; a non-nil error other than the
// context's is logged.
type backgroundTask struct {
	name string
	run  func(ctx context.Context) error
}

// goBackground registers a loop that Serve starts and stops: workers, sweepers, schedulers.
func (s *Server) goBackground(name string, run func(ctx context.Context) error) {
	s.background = append(s.background, backgroundTask{name: name, run: run})
}

// startBackground starts every registered loop; the channel closes when all have returned.
func (s *Server) startBackground(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, t := range s.background {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := t.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("background task failed", "task", t.name, "err", err)
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

func waitBackground(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
