// Package apk reads the Alpine package database (`lib/apk/db/installed`, also found at
// `usr/lib/apk/db/installed` on merged-usr systems) of a root filesystem. It turns every installed
// package into an apk component whose source is the package's origin (Alpine's secdb is keyed by
// origin), and reports the files the packages own. It parses the database format itself.
//
// It must not open archives, walk directories, read other files, or decide the distro: the
// layer walker hands it one file at a time and fills Distro, Layer and FoundBy.
//
// When some package records cannot be read, Analyze returns the packages it did read together
// with an error naming the records it skipped: callers should keep the partial Result and record
// the error as a diagnostic.
package apk

import (
	"context"
	"io/fs"

	"github.com/stellaops/stellaops/internal/analyzer"
)

// Name identifies the analyzer in Component.FoundBy and in diagnostics.
const Name = "os/apk"

// version is bumped whenever the output for the same input changes.
const version = 1

const (
	installedPath    = "lib/apk/db/installed"
	usrInstalledPath = "usr/lib/apk/db/installed"
)

// Config holds the analyzer's limits.
type Config struct {
	// MaxFileSize is the largest file, in bytes, the analyzer reads; a larger one is reported as
	// an error. Zero or less means no limit.
	MaxFileSize int64
}

// DefaultConfig returns the limits used by list.Default: 128 MiB, far above the few megabytes
// of a large Alpine system's database.
func DefaultConfig() Config { return Config{MaxFileSize: 128 << 20} }

// Analyzer extracts apk components from the installed database. It holds no state besides its
// configuration and is safe for concurrent use.
type Analyzer struct {
	cfg Config
}

var _ analyzer.Analyzer = (*Analyzer)(nil)

// New returns an analyzer with the given configuration.
func New(cfg Config) *Analyzer { return &Analyzer{cfg: cfg} }

// Name implements [analyzer.Analyzer].
func (a *Analyzer) Name() string { return Name }

// Version implements [analyzer.Analyzer].
func (a *Analyzer) Version() int { return version }

// Required implements [analyzer.Analyzer]: the installed database at either of its two paths.
// It looks at the path only and does not allocate.
func (a *Analyzer) Required(path string, _ fs.FileInfo) bool {
	return path == installedPath || path == usrInstalledPath
}

// Analyze implements [analyzer.Analyzer].
func (a *Analyzer) Analyze(ctx context.Context, in *analyzer.Input) (*analyzer.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := in.ReadAll(a.cfg.MaxFileSize)
	if err != nil {
		return nil, err
	}
	res, err := parseInstalled(ctx, data, in.Path)
	if res.Empty() {
		return nil, err
	}
	return res, err
}
