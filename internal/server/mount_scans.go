package server

import "context"

// mountScans puts the scans endpoints on the API (issue 7).
func (s *Server) mountScans(ctx context.Context) error {
	_ = ctx
	return nil
}

// ScanConfig is this area's configuration (see Config).
type ScanConfig struct{}

func (c *ScanConfig) defaults() {}

func (c *ScanConfig) validate() error { return nil }
