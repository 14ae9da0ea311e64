package server

import "context"

// mountReports puts the reports endpoints on the API (issue 7).
func (s *Server) mountReports(ctx context.Context) error {
	_ = ctx
	return nil
}

// SigningConfig is this area's configuration (see Config).
type SigningConfig struct{}

func (c *SigningConfig) defaults() {}

func (c *SigningConfig) validate() error { return nil }
