package server

import "context"

// mountRuntime puts the runtime endpoints on the API (issue 7).
func (s *Server) mountRuntime(ctx context.Context) error {
	_ = ctx
	return nil
}

// RuntimeConfig is this area's configuration (see Config).
type RuntimeConfig struct{}

func (c *RuntimeConfig) defaults() {}

func (c *RuntimeConfig) validate() error { return nil }
