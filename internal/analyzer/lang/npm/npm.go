// Package npm finds JavaScript packages: in npm lockfiles (package-lock.json and
// npm-shrinkwrap.json, lockfileVersion 1 to 3), in the package.json of every package installed
// under node_modules, and in yarn.lock (classic and berry) and pnpm-lock.yaml. It owns those
// formats. It must not read a project's own package.json (declared ranges, not installed
// versions) or run npm.
//
// The parsers are our own, on encoding/json and go.yaml.in/yaml/v3 (yarn classic's format is
// read line by line): the parts a scanner needs are small, and npm's own logic is JavaScript.
//
// Decisions:
//   - Lockfiles inside node_modules are not required: a published package's lockfile describes
//     its author's development tree, and npm's hidden lockfile (node_modules/.package-lock.json)
//     repeats what the installed package.json files already say.
//   - A package.json is an installed package only when it sits directly in a package folder:
//     node_modules/<name>/package.json or node_modules/@scope/<name>/package.json. Nested ones
//     (node_modules/x/lib/package.json) are module-type markers, not packages.
//   - The lockfile's root entry, workspace folders and `link: true` entries are the project's
//     own code and are skipped; aliases ("npm:real@1.2.3", or a `name` field) are reported under
//     the real package name.
//   - Direct is set for packages the root (or a workspace member) declares in dependencies,
//     devDependencies, optionalDependencies or peerDependencies, where the lockfile says so.
//     Development-only packages are kept: the inventory cannot tell how the image is used.
package npm

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
const Name = "lang/npm"

// Config holds the analyzer's limits.
type Config struct {
	// MaxLockfileSize is the largest lockfile read.
	MaxLockfileSize int64
	// MaxManifestSize is the largest installed package.json read.
	MaxManifestSize int64
	// MaxPackages bounds the number of packages taken from one lockfile.
	MaxPackages int
	// MaxDepth bounds the nesting of a version 1 lockfile's dependency tree.
	MaxDepth int
}

// DefaultConfig returns the limits used by the scanner.
func DefaultConfig() Config {
	return Config{MaxLockfileSize: 64 << 20, MaxManifestSize: 4 << 20, MaxPackages: 200_000, MaxDepth: 128}
}

// Analyzer reads npm, yarn and pnpm lockfiles and installed package manifests.
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
	kindPackageLock
	kindManifest
	kindYarn
	kindPnpm
)

func classify(p string) kind {
	switch path.Base(p) {
	case "package-lock.json", "npm-shrinkwrap.json":
		if !strings.Contains(p, "node_modules/") {
			return kindPackageLock
		}
	case "yarn.lock":
		if !strings.Contains(p, "node_modules/") {
			return kindYarn
		}
	case "pnpm-lock.yaml":
		if !strings.Contains(p, "node_modules/") {
			return kindPnpm
		}
	case "package.json":
		if isInstalledManifest(p) {
			return kindManifest
		}
	}
	return kindNone
}

// isInstalledManifest reports whether p is node_modules/<name>/package.json or
// node_modules/@scope/<name>/package.json (at any depth of node_modules nesting).
func isInstalledManifest(p string) bool {
	const nm = "node_modules/"
	i := strings.LastIndex(p, nm)
	if i < 0 || (i > 0 && p[i-1] != '/') {
		return false
	}
	rest, ok := strings.CutSuffix(p[i+len(nm):], "/package.json")
	if !ok || rest == "" || rest[0] == '.' {
		return false
	}
	slash := strings.IndexByte(rest, '/')
	if rest[0] == '@' {
		return slash > 1 && slash < len(rest)-1 && strings.IndexByte(rest[slash+1:], '/') < 0
	}
	return slash < 0
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
	limit := a.cfg.MaxLockfileSize
	if k == kindManifest {
		limit = a.cfg.MaxManifestSize
	}
	if k == kindNone {
		return nil, nil
	}
	b, err := in.ReadAll(limit)
	if err != nil {
		return nil, err
	}
	var cs []inventory.Component
	switch k {
	case kindPackageLock:
		cs, err = a.parsePackageLock(ctx, b, in.Path)
	case kindManifest:
		cs, err = ParseManifest(b, in.Path)
	case kindYarn:
		cs, err = a.parseYarnLock(ctx, b, in.Path)
	case kindPnpm:
		cs, err = a.parsePnpmLock(ctx, b, in.Path)
	}
	if err != nil {
		return nil, err
	}
	return langfile.Result(cs), nil
}
