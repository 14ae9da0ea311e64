// Package osrelease detects the operating-system release of a root filesystem from its release
// files: `etc/os-release` and `usr/lib/os-release` first, then the distro-specific files
// `etc/alpine-release`, `etc/centos-release`, `etc/redhat-release`, `etc/system-release` and
// `etc/debian_version`. As an analyzer it reads one file at a time and reports what that file
// says in Result.Distro; [Resolve] then picks the authoritative answer for the final image from
// all of them.
//
// It must not open archives, walk directories, read other files or guess a distro from package
// names; it never reports components.
package osrelease

import (
	"context"
	"io/fs"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/inventory"
)

// Name identifies the analyzer in diagnostics.
const Name = "osrelease"

// version is bumped whenever the output for the same input changes.
const version = 1

// Paths of the release files, in the order [Resolve] trusts them.
const (
	PathOSRelease    = "etc/os-release"
	PathUsrOSRelease = "usr/lib/os-release"
	PathAlpine       = "etc/alpine-release"
	PathCentOS       = "etc/centos-release"
	PathRedHat       = "etc/redhat-release"
	PathSystem       = "etc/system-release"
	PathDebian       = "etc/debian_version"
)

// Config holds the analyzer's limits.
type Config struct {
	// MaxFileSize is the largest release file, in bytes, the analyzer reads; a larger one is
	// reported as an error. Zero or less means no limit.
	MaxFileSize int64
}

// DefaultConfig returns the limits used by list.Default: 64 KiB, a hundred times a real
// os-release.
func DefaultConfig() Config { return Config{MaxFileSize: 64 << 10} }

// Analyzer reports the distro each release file names. It holds no state besides its
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

// Required implements [analyzer.Analyzer]: the seven release files. It looks at the path only
// and does not allocate.
func (a *Analyzer) Required(path string, _ fs.FileInfo) bool {
	switch path {
	case PathOSRelease, PathUsrOSRelease, PathAlpine, PathCentOS, PathRedHat, PathSystem, PathDebian:
		return true
	}
	return false
}

// Analyze implements [analyzer.Analyzer]. A file that names no distro (an os-release without
// ID, an unknown vendor's redhat-release) yields nil, nil.
func (a *Analyzer) Analyze(ctx context.Context, in *analyzer.Input) (*analyzer.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := readAll(in, a.cfg.MaxFileSize)
	if err != nil {
		return nil, err
	}
	d, ok := Parse(in.Path, data)
	if !ok {
		return nil, nil
	}
	return &analyzer.Result{Distro: &d}, nil
}

// Parse reads the release file found at path (one of the Path constants) and returns the
// distro it names; ok is false, and the Distro zero, when it names none (no ID) or path is not
// a release file.
func Parse(path string, data []byte) (d inventory.Distro, ok bool) {
	switch path {
	case PathOSRelease, PathUsrOSRelease:
		d = parseOSRelease(data)
	case PathAlpine:
		if v := firstWord(data); v != "" {
			d = inventory.Distro{ID: "alpine", VersionID: v}
		}
	case PathDebian:
		d = parseDebianVersion(data)
	case PathCentOS, PathRedHat, PathSystem:
		d = parseRedHatRelease(data)
	}
	if d.ID == "" {
		return inventory.Distro{}, false
	}
	return d, true
}
