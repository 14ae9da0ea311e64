package server

import "context"

// mountConcelier puts the concelier endpoints on the API (issue 7).
func (s *Server) mountConcelier(ctx context.Context) error {
	_ = ctx
	return nil
}

// ConcelierConfig is this area's configuration (see Config).
type ConcelierConfig struct{}

func (c *ConcelierConfig) defaults() {}

func (c *ConcelierConfig) validate() error { return nil }
