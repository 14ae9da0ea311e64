// Package cargo finds Rust crates in Cargo.lock files and in binaries built with
// cargo-auditable, which embeds its dependency list as zlib-compressed JSON in a ".dep-v0"
// section (ELF, PE and Mach-O). It owns both formats. It must not read Cargo.toml (declared
// ranges, not resolved versions), fetch crate metadata, or guess crates from symbols: a binary
// without audit data yields nothing.
//
// Both parsers are our own (go-toml/v2 for the lockfile, debug/elf, debug/pe, debug/macho and
// compress/zlib for binaries): the formats are small, and the libraries that read them bring
// large dependency trees.
//
// Decisions:
//   - Cargo.lock lists the workspace's own crates (no `source`) next to the dependencies; they
//     are kept and marked Direct, as is every crate a local crate depends on.
//   - Audit data marks the root crate, which is kept and marked Direct; crates whose kind is
//     "build" (build scripts and their dependencies, which are not linked in) are dropped.
//   - Cargo.lock files inside a Cargo registry or git checkout cache ("cargo/registry/src/",
//     "cargo/git/checkouts/") belong to published crates, not to anything installed, and are
//     not required.
package cargo

import (
	"context"
	"io/fs"
	"path"
	"strings"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langfile"
)

// Name is the analyzer's stable identifier.
const Name = "lang/cargo"

// Config holds the analyzer's limits.
type Config struct {
	// MaxLockfileSize is the largest Cargo.lock read.
	MaxLockfileSize int64
	// MinBinarySize is the smallest executable worth sniffing for audit data.
	MinBinarySize int64
	// MaxAuditSize bounds the audit data of a binary, compressed and decompressed.
	MaxAuditSize int64
	// MaxPackages bounds the number of crates taken from one file.
	MaxPackages int
}

// DefaultConfig returns the limits used by the scanner.
func DefaultConfig() Config {
	return Config{MaxLockfileSize: 32 << 20, MinBinarySize: 1024, MaxAuditSize: 8 << 20, MaxPackages: 100_000}
}

// Analyzer reads Cargo.lock files and cargo-auditable binaries.
type Analyzer struct{ cfg Config }

var _ analyzer.Analyzer = (*Analyzer)(nil)

// New returns an analyzer with the given configuration.
func New(cfg Config) *Analyzer { return &Analyzer{cfg: cfg} }

// Name implements [analyzer.Analyzer].
func (*Analyzer) Name() string { return Name }

// Version implements [analyzer.Analyzer].
func (*Analyzer) Version() int { return 1 }

// Required implements [analyzer.Analyzer]: files named Cargo.lock outside crate caches, and
// executables (any execute bit, or a ".exe" suffix) of at least MinBinarySize bytes.
func (a *Analyzer) Required(p string, info fs.FileInfo) bool {
	if path.Base(p) == "Cargo.lock" {
		return !strings.Contains(p, "cargo/registry/src/") && !strings.Contains(p, "cargo/git/checkouts/")
	}
	if langfile.IsExecutable(info, a.cfg.MinBinarySize) {
		return true
	}
	return info != nil && info.Mode().IsRegular() && info.Size() >= a.cfg.MinBinarySize &&
		len(p) > 4 && strings.EqualFold(p[len(p)-4:], ".exe")
}

// Analyze implements [analyzer.Analyzer]. Executables without audit data yield (nil, nil).
func (a *Analyzer) Analyze(ctx context.Context, in *analyzer.Input) (*analyzer.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in == nil || in.Content == nil {
		return nil, nil
	}
	if path.Base(in.Path) == "Cargo.lock" {
		b, err := in.ReadAll(a.cfg.MaxLockfileSize)
		if err != nil {
			return nil, err
		}
		cs, err := ParseLockfile(ctx, b, in.Path, a.cfg.MaxPackages)
		if err != nil {
			return nil, err
		}
		return langfile.Result(cs), nil
	}
	cs, err := a.analyzeBinary(ctx, in)
	if err != nil {
		return nil, err
	}
	return langfile.Result(cs), nil
}
