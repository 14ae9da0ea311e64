// Package dpkg reads the Debian package database of a root filesystem: the `var/lib/dpkg/status`
// file, the per-package files of distroless images in `var/lib/dpkg/status.d/`, and the file
// lists in `var/lib/dpkg/info/*.list`. It turns installed packages into deb components, keeping
// the source package (Debian tracks vulnerabilities by source), and reports the files packages
// own. It parses the deb822 format itself, without a library, because the status file is read
// for every layer that touches it.
//
// It must not open archives, walk directories, read other files, or decide the distro: the
// layer walker hands it one file at a time and fills Distro, Layer and FoundBy.
//
// When some stanzas of a file cannot be read, Analyze returns the packages it did read together
// with an error naming the stanzas it skipped: callers should keep the partial Result and record
// the error as a diagnostic.
package dpkg

import (
	"context"
	"io/fs"
	"strings"

	"github.com/stellaops/stellaops/internal/analyzer"
)

// Name identifies the analyzer in Component.FoundBy and in diagnostics.
const Name = "os/dpkg"

// version is bumped whenever the output for the same input changes.
const version = 1

const (
	statusPath = "var/lib/dpkg/status"
	statusDir  = "var/lib/dpkg/status.d/"
	infoDir    = "var/lib/dpkg/info/"
	dpkgDir    = "var/lib/dpkg/"
)

// Config holds the analyzer's limits.
type Config struct {
	// MaxFileSize is the largest file, in bytes, the analyzer reads; a larger one is reported as
	// an error. Zero or less means no limit.
	MaxFileSize int64
}

// DefaultConfig returns the limits used by list.Default: 128 MiB, about thirty times the status
// file of a large desktop system.
func DefaultConfig() Config { return Config{MaxFileSize: 128 << 20} }

// Analyzer extracts deb components from dpkg databases. It holds no state besides its
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

// Required implements [analyzer.Analyzer]: the status file, the package files of status.d (but
// not their maintainer scripts or checksum lists) and the info/*.list file lists. It looks at
// the path only and does not allocate.
func (a *Analyzer) Required(path string, _ fs.FileInfo) bool {
	if !strings.HasPrefix(path, dpkgDir) {
		return false
	}
	switch {
	case path == statusPath:
		return true
	case strings.HasPrefix(path, statusDir):
		return isStatusDEntry(path[len(statusDir):])
	case strings.HasPrefix(path, infoDir):
		name := path[len(infoDir):]
		return len(name) > len(".list") && strings.HasSuffix(name, ".list") && !strings.Contains(name, "/")
	}
	return false
}

// isStatusDEntry reports whether name, a path below status.d/, is a package's stanza file rather
// than one of the companion files (checksums, maintainer scripts) distroless tools write next to
// it. Package names may contain dots ("libpython3.11"), so only known suffixes are excluded.
func isStatusDEntry(name string) bool {
	if name == "" || name[0] == '.' || strings.Contains(name, "/") {
		return false
	}
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return true
	}
	switch name[i:] {
	case ".md5sums", ".conffiles", ".preinst", ".postinst", ".prerm", ".postrm", ".list",
		".shlibs", ".symbols", ".triggers", ".templates", ".config":
		return false
	}
	return true
}

// Analyze implements [analyzer.Analyzer]. A file list yields OwnedFiles only; a status file
// yields one component per installed package. In status.d, where distroless images leave the
// Status field out, a stanza without one counts as installed; in the status file it does not.
func (a *Analyzer) Analyze(ctx context.Context, in *analyzer.Input) (*analyzer.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := in.ReadAll(a.cfg.MaxFileSize)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.Path, infoDir) {
		files := parseList(data)
		if len(files) == 0 {
			return nil, nil
		}
		return &analyzer.Result{OwnedFiles: files}, nil
	}
	comps, err := parseStatus(ctx, data, in.Path, strings.HasPrefix(in.Path, statusDir))
	if len(comps) == 0 {
		return nil, err
	}
	return &analyzer.Result{Components: comps}, err
}
