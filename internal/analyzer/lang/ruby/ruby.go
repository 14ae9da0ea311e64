// Package ruby finds Ruby gems: installed ones from the specifications RubyGems writes
// (specifications/*.gemspec, default gems included) and locked ones from Gemfile.lock and
// gems.locked. It owns both formats. It must not evaluate Ruby: a gemspec is Ruby code, and
// only the literal assignments RubyGems itself generates are read.
//
// The parsers are our own: no Go library reads either format. Gemspecs are read with a
// regular expression per assignment line (`<var>.name = …`, `<var>.version = …`,
// `<var>.license(s) = …`) and a small scanner for Ruby string literals ("…", '…', %q{…}, with
// an optional .freeze, and Gem::Version.new("…") for versions). A value that is not a literal
// (a constant such as VERSION) is not resolved; the "# stub: name version platform paths" line
// RubyGems writes at the top of installed specifications stands in for a missing name or
// version.
//
// Decisions:
//   - Gemfile.lock versions carry the platform of platform-specific gems
//     ("nokogiri (1.13.10-x86_64-linux)"); RubyGems turns a '-' inside a version into ".pre.",
//     so the first '-' always starts the platform, which is dropped: advisories are per version.
//   - Gems of PATH sections (the project's own gemspec) are kept; gems listed under
//     DEPENDENCIES, and PATH gems, are marked Direct.
package ruby

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
const Name = "lang/ruby"

// Config holds the analyzer's limits.
type Config struct {
	// MaxFileSize is the largest gemspec or lockfile read.
	MaxFileSize int64
	// MaxPackages bounds the number of gems taken from one lockfile.
	MaxPackages int
}

// DefaultConfig returns the limits used by the scanner.
func DefaultConfig() Config { return Config{MaxFileSize: 16 << 20, MaxPackages: 100_000} }

// Analyzer reads installed gemspecs and Bundler lockfiles.
type Analyzer struct{ cfg Config }

var _ analyzer.Analyzer = (*Analyzer)(nil)

// New returns an analyzer with the given configuration.
func New(cfg Config) *Analyzer { return &Analyzer{cfg: cfg} }

// Name implements [analyzer.Analyzer].
func (*Analyzer) Name() string { return Name }

// Version implements [analyzer.Analyzer].
func (*Analyzer) Version() int { return 1 }

func isGemspec(p string) bool {
	return strings.HasSuffix(p, ".gemspec") && (strings.HasPrefix(p, "specifications/") || strings.Contains(p, "/specifications/"))
}

func isLockfile(p string) bool {
	b := path.Base(p)
	return b == "Gemfile.lock" || b == "gems.locked"
}

// Required implements [analyzer.Analyzer]: a path check only.
func (*Analyzer) Required(p string, _ fs.FileInfo) bool { return isGemspec(p) || isLockfile(p) }

// Analyze implements [analyzer.Analyzer].
func (a *Analyzer) Analyze(ctx context.Context, in *analyzer.Input) (*analyzer.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in == nil || in.Content == nil || !a.Required(in.Path, nil) {
		return nil, nil
	}
	b, err := in.ReadAll(a.cfg.MaxFileSize)
	if err != nil {
		return nil, err
	}
	var cs []inventory.Component
	if isLockfile(in.Path) {
		cs, err = ParseLockfile(ctx, b, in.Path, a.cfg.MaxPackages)
	} else {
		cs, err = ParseGemspec(b, in.Path)
	}
	if err != nil {
		return nil, err
	}
	return langfile.Result(cs), nil
}

func gem(name, version, location string) inventory.Component {
	return inventory.Component{Ecosystem: inventory.EcosystemGem, Name: name, Version: version, Locations: []string{location}}
}
