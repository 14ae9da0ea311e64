// Package rpm reads rpm package databases of a root filesystem: Berkeley DB `Packages` (RHEL/CentOS
// 5–8, Amazon Linux 2), NDB `Packages.db` (SUSE) and SQLite `rpmdb.sqlite` (Fedora 33+, RHEL 9,
// CBL-Mariner), under `var/lib/rpm/` or `usr/lib/sysimage/rpm/`. Every installed package becomes
// an rpm component with its epoch, source rpm, modularity label and licence; the files the
// packages install are reported as owned.
//
// It must not open archives, walk directories, read other files, or decide the distro: the
// layer walker hands it one file at a time and fills Distro, Layer and FoundBy. It writes only a
// private copy of the database below Input.TempDir, and removes it before returning.
//
// # Why go-rpmdb
//
// The databases are decoded by github.com/knqyf263/go-rpmdb (MIT), the library Trivy and Syft
// use. It is pure Go (no cgo, no librpm or libdb, so the static binary and the
// offline kit stay simple), reads all three formats through one API, and is small (about 2,000
// lines, one dependency besides the SQLite driver, for which we register the pure-Go
// modernc.org/sqlite under the name "sqlite" that go-rpmdb opens). It needs a real file, hence
// the copy.
//
// go-rpmdb v0.1.1 trusts its input: a damaged Berkeley DB can send it into an endless loop or make
// it panic on a goroutine of its own (which would end the process), and a damaged NDB file can make
// it allocate gigabytes. Before handing a file over, this package walks the database structure
// itself (see check.go) and refuses anything go-rpmdb could not read safely; whatever still goes
// wrong inside the library on our goroutine (a header that passes those checks but not go-rpmdb's
// own) is recovered and reported as an error. In that last case go-rpmdb v0.1.1 leaves its reader
// goroutine blocked on a channel nobody reads, holding the deleted copy open: a bounded leak per
// damaged database, which only a fix upstream can remove.
package rpm

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"
	_ "modernc.org/sqlite" // registers the "sqlite" driver go-rpmdb opens

	"github.com/stellaops/stellaops/internal/analyzer"
)

// Name identifies the analyzer in Component.FoundBy and in diagnostics.
const Name = "os/rpm"

// version is bumped whenever the output for the same input changes.
const version = 1

// Config holds the analyzer's limits.
type Config struct {
	// MaxFileSize is the largest database, in bytes, the analyzer reads; a larger one is
	// reported as an error. Zero or less means no limit.
	MaxFileSize int64
}

// DefaultConfig returns the limits used by list.Default: 1 GiB, several times the database of
// a full RHEL workstation.
func DefaultConfig() Config { return Config{MaxFileSize: 1 << 30} }

// Analyzer extracts rpm components from rpm databases. It holds no state besides its
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

// Required implements [analyzer.Analyzer]: Packages, Packages.db or rpmdb.sqlite in var/lib/rpm
// or usr/lib/sysimage/rpm. It looks at the path only and does not allocate.
func (a *Analyzer) Required(path string, _ fs.FileInfo) bool {
	var name string
	switch {
	case strings.HasPrefix(path, "var/lib/rpm/"):
		name = path[len("var/lib/rpm/"):]
	case strings.HasPrefix(path, "usr/lib/sysimage/rpm/"):
		name = path[len("usr/lib/sysimage/rpm/"):]
	default:
		return false
	}
	return name == "Packages" || name == "Packages.db" || name == "rpmdb.sqlite"
}

// Analyze implements [analyzer.Analyzer]. An empty file (left behind when a distro moves its
// database) yields nothing.
func (a *Analyzer) Analyze(ctx context.Context, in *analyzer.Input) (*analyzer.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in == nil || in.Content == nil {
		return nil, fmt.Errorf("rpm database: no content")
	}
	size := in.Content.Size()
	if size == 0 {
		return nil, nil
	}
	if a.cfg.MaxFileSize > 0 && size > a.cfg.MaxFileSize {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit", in.Path, size, a.cfg.MaxFileSize)
	}
	f, err := detect(in.Content)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Path, err)
	}
	if err := checkPaged(ctx, f, in.Content); err != nil {
		return nil, fmt.Errorf("%s: damaged %s rpm database: %w", in.Path, f, err)
	}
	dir, err := os.MkdirTemp(in.TempDir, "rpmdb-*")
	if err != nil {
		return nil, fmt.Errorf("%s: copy rpm database: %w", in.Path, err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "rpmdb")
	if err := copyTo(file, in.Content); err != nil {
		return nil, fmt.Errorf("%s: copy rpm database: %w", in.Path, err)
	}
	if f == formatSQLite {
		if err := checkSQLite(ctx, file); err != nil {
			return nil, fmt.Errorf("%s: damaged %s rpm database: %w", in.Path, f, err)
		}
	}
	pkgs, err := listPackages(file)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s rpm database: %w", in.Path, f, err)
	}
	res, err := convert(ctx, pkgs, in.Path)
	if res.Empty() {
		return nil, err
	}
	return res, err
}

// copyTo writes the whole of r to a new file at name.
func copyTo(name string, r *io.SectionReader) error {
	out, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.NewSectionReader(r, 0, r.Size())); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// listPackages runs go-rpmdb on the file, turning a panic on this goroutine into an error.
func listPackages(file string) (pkgs []*rpmdb.PackageInfo, err error) {
	defer func() {
		if r := recover(); r != nil {
			pkgs, err = nil, fmt.Errorf("rpm header decoder failed: %v", r)
		}
	}()
	db, err := rpmdb.Open(file)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.ListPackages()
}
