package npm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// manifest is the part of an installed package.json the analyzer reads.
type manifest struct {
	Name     string          `json:"name"`
	Version  string          `json:"version"`
	License  json.RawMessage `json:"license"`
	Licenses json.RawMessage `json:"licenses"`
}

// ParseManifest reads an installed package.json found at location. Manifests without a name or
// a version describe no installable package and yield nothing.
func ParseManifest(b []byte, location string) ([]inventory.Component, error) {
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", location, err)
	}
	name, version := strings.TrimSpace(m.Name), strings.TrimSpace(m.Version)
	if name == "" || version == "" {
		return nil, nil
	}
	lic := licenses(m.License)
	if len(lic) == 0 {
		lic = licenses(m.Licenses)
	}
	return []inventory.Component{{
		Ecosystem: inventory.EcosystemNPM,
		Name:      name,
		Version:   version,
		Licenses:  lic,
		Locations: []string{location},
	}}, nil
}

// licenses reads the forms npm has accepted over time: an SPDX expression string, an object
// {"type": "MIT"}, or (deprecated `licenses`) an array of either. Anything else yields nothing.
func licenses(raw json.RawMessage) []string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) != "" {
			return []string{strings.TrimSpace(s)}
		}
	case '{':
		var o struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &o) == nil && strings.TrimSpace(o.Type) != "" {
			return []string{strings.TrimSpace(o.Type)}
		}
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil
		}
		var out []string
		for _, it := range items {
			if len(it) > 0 && it[0] != '[' {
				out = append(out, licenses(it)...)
			}
		}
		return out
	}
	return nil
}
