// Package python finds Python distributions: installed ones from their core metadata
// (*.dist-info/METADATA, *.egg-info/PKG-INFO, EGG-INFO/PKG-INFO and single-file *.egg-info)
// and locked ones from poetry.lock, uv.lock, Pipfile.lock and the pinned ("==") lines of
// requirements files. It owns those formats. It must not evaluate setup.py or pyproject.toml,
// resolve version ranges, or follow "-r" includes (the walker hands every requirements file
// over on its own).
//
// The parsers are our own (the core-metadata headers are RFC 822-like and read line by line;
// TOML through go-toml/v2; JSON through encoding/json): no Go library reads these formats
// without pulling in much more.
//
// Decisions:
//   - Names are kept as declared ("PyYAML", "typing_extensions"); the purl builder normalises.
//   - Licences: License-Expression (metadata 2.4) when present; otherwise a one-line License
//     field other than "UNKNOWN"; otherwise the "License ::" classifiers, mapped to SPDX
//     identifiers where the classifier names exactly one licence and kept as their last segment
//     otherwise. A License field holding a whole licence text is ignored.
//   - uv.lock's own project (source editable or virtual) is kept and marked Direct, as are the
//     packages it depends on. poetry.lock and Pipfile.lock do not list the project itself.
//   - Requirements files under site-packages or dist-packages belong to an installed
//     distribution's sources, not to the image's application, and are not required.
package python

import (
	"context"
	"io/fs"
	"path"
	"strings"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langfile"
	"github.com/stellaops/stellaops/internal/inventory"
)

// Name is the analyzer's stable identifier.
const Name = "lang/python"

// Config holds the analyzer's limits.
type Config struct {
	// MaxMetadataSize is the largest METADATA or PKG-INFO file read.
	MaxMetadataSize int64
	// MaxLockfileSize is the largest lockfile or requirements file read.
	MaxLockfileSize int64
	// MaxPackages bounds the number of packages taken from one file.
	MaxPackages int
}

// DefaultConfig returns the limits used by the scanner.
func DefaultConfig() Config {
	return Config{MaxMetadataSize: 16 << 20, MaxLockfileSize: 64 << 20, MaxPackages: 100_000}
}

// Analyzer reads Python metadata, lockfiles and requirements files.
type Analyzer struct{ cfg Config }

var _ analyzer.Analyzer = (*Analyzer)(nil)

// New returns an analyzer with the given configuration.
func New(cfg Config) *Analyzer { return &Analyzer{cfg: cfg} }

// Name implements [analyzer.Analyzer].
func (*Analyzer) Name() string { return Name }

// Version implements [analyzer.Analyzer].
func (*Analyzer) Version() int { return 1 }

type kind int

const (
	kindNone kind = iota
	kindMetadata
	kindPoetry
	kindUV
	kindPipfile
	kindRequirements
)

func classify(p string) kind {
	switch {
	case strings.HasSuffix(p, ".dist-info/METADATA"), strings.HasSuffix(p, ".egg-info/PKG-INFO"),
		strings.HasSuffix(p, "/EGG-INFO/PKG-INFO"), strings.HasSuffix(p, ".egg-info"):
		return kindMetadata
	}
	base := path.Base(p)
	switch base {
	case "poetry.lock":
		return kindPoetry
	case "uv.lock":
		return kindUV
	case "Pipfile.lock":
		return kindPipfile
	}
	dir := p[:len(p)-len(base)]
	if strings.HasSuffix(base, ".txt") && (strings.Contains(base, "requirements") || dir == "requirements/" || strings.HasSuffix(dir, "/requirements/")) &&
		!strings.Contains(p, "site-packages/") && !strings.Contains(p, "dist-packages/") {
		return kindRequirements
	}
	return kindNone
}

// Required implements [analyzer.Analyzer]: a path check only.
func (*Analyzer) Required(p string, _ fs.FileInfo) bool { return classify(p) != kindNone }

// Analyze implements [analyzer.Analyzer].
func (a *Analyzer) Analyze(ctx context.Context, in *analyzer.Input) (*analyzer.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in == nil || in.Content == nil {
		return nil, nil
	}
	k := classify(in.Path)
	if k == kindNone {
		return nil, nil
	}
	limit := a.cfg.MaxLockfileSize
	if k == kindMetadata {
		limit = a.cfg.MaxMetadataSize
	}
	b, err := in.ReadAll(limit)
	if err != nil {
		return nil, err
	}
	var cs []inventory.Component
	switch k {
	case kindMetadata:
		cs, err = ParseMetadata(b, in.Path)
	case kindPoetry:
		cs, err = parsePoetry(ctx, b, in.Path, a.cfg.MaxPackages)
	case kindUV:
		cs, err = parseUV(ctx, b, in.Path, a.cfg.MaxPackages)
	case kindPipfile:
		cs, err = parsePipfileLock(b, in.Path, a.cfg.MaxPackages)
	case kindRequirements:
		cs, err = ParseRequirements(ctx, b, in.Path, a.cfg.MaxPackages)
	}
	if err != nil {
		return nil, err
	}
	return langfile.Result(cs), nil
}

func component(name, version, location string) inventory.Component {
	return inventory.Component{
		Ecosystem: inventory.EcosystemPyPI, Name: name, Version: version, Locations: []string{location},
	}
}
