// Package php finds Composer packages in composer.lock and in the vendor/composer/installed.json
// Composer writes when it installs them (version 1: a JSON array of packages; version 2: an
// object with a "packages" array). It owns both formats. It must not read composer.json
// (declared constraints) or PECL and PEAR registries.
//
// The parser is our own, on encoding/json: both formats are one JSON document with a small
// package record.
//
// Decisions:
//   - Versions are kept as Composer records them ("v5.4.0", "1.8.3", "dev-main"); the composer
//     comparator deals with the leading "v".
//   - Development packages (packages-dev) are kept: the lockfile cannot say whether they were
//     installed, and an image built with them has them.
//   - composer.lock files inside vendor/ belong to a dependency's own repository, not to what is
//     installed, and are not required.
package php

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langfile"
	"github.com/stellaops/stellaops/internal/inventory"
)

// Name is the analyzer's stable identifier.
const Name = "lang/php"

// Config holds the analyzer's limits.
type Config struct {
	// MaxFileSize is the largest file read.
	MaxFileSize int64
	// MaxPackages bounds the number of packages taken from one file.
	MaxPackages int
}

// DefaultConfig returns the limits used by the scanner.
func DefaultConfig() Config { return Config{MaxFileSize: 64 << 20, MaxPackages: 100_000} }

// Analyzer reads Composer lockfiles and installed.json files.
type Analyzer struct{ cfg Config }

var _ analyzer.Analyzer = (*Analyzer)(nil)

// New returns an analyzer with the given configuration.
func New(cfg Config) *Analyzer { return &Analyzer{cfg: cfg} }

// Name implements [analyzer.Analyzer].
func (*Analyzer) Name() string { return Name }

// Version implements [analyzer.Analyzer].
func (*Analyzer) Version() int { return 1 }

func isLockfile(p string) bool {
	return path.Base(p) == "composer.lock" && !strings.HasPrefix(p, "vendor/") && !strings.Contains(p, "/vendor/")
}

func isInstalled(p string) bool {
	return p == "vendor/composer/installed.json" || strings.HasSuffix(p, "/vendor/composer/installed.json")
}

// Required implements [analyzer.Analyzer]: a path check only.
func (*Analyzer) Required(p string, _ fs.FileInfo) bool { return isLockfile(p) || isInstalled(p) }

// composerPackage is the part of a package record the analyzer reads, the same in both files.
type composerPackage struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	License json.RawMessage `json:"license"`
}

type composerLock struct {
	Packages    []composerPackage `json:"packages"`
	PackagesDev []composerPackage `json:"packages-dev"`
}

// Analyze implements [analyzer.Analyzer].
func (a *Analyzer) Analyze(ctx context.Context, in *analyzer.Input) (*analyzer.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in == nil || in.Content == nil {
		return nil, nil
	}
	b, err := in.ReadAll(a.cfg.MaxFileSize)
	if err != nil {
		return nil, err
	}
	var pkgs []composerPackage
	if isInstalled(in.Path) {
		pkgs, err = parseInstalled(b)
	} else {
		var lock composerLock
		err = json.Unmarshal(b, &lock)
		pkgs = append(lock.Packages, lock.PackagesDev...)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", in.Path, err)
	}
	if len(pkgs) > a.cfg.MaxPackages {
		return nil, fmt.Errorf("parse %s: %d packages, limit %d", in.Path, len(pkgs), a.cfg.MaxPackages)
	}
	out := make([]inventory.Component, 0, len(pkgs))
	for _, p := range pkgs {
		if p.Name == "" || p.Version == "" {
			continue
		}
		out = append(out, inventory.Component{
			Ecosystem: inventory.EcosystemComposer,
			Name:      p.Name,
			Version:   p.Version,
			Licenses:  licenses(p.License),
			Locations: []string{in.Path},
		})
	}
	return langfile.Result(out), nil
}

// parseInstalled reads installed.json in its version 1 (array) or version 2 (object) form.
func parseInstalled(b []byte) ([]composerPackage, error) {
	var v2 struct {
		Packages []composerPackage `json:"packages"`
	}
	if trimmed := bytes.TrimLeft(b, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
		var v1 []composerPackage
		err := json.Unmarshal(b, &v1)
		return v1, err
	}
	err := json.Unmarshal(b, &v2)
	return v2.Packages, err
}

// licenses reads Composer's license field: an array of SPDX identifiers, or (rarely) one string.
func licenses(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return []string{one}
	}
	return nil
}
