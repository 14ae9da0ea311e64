// Package gobinary finds the Go modules compiled into executables (ELF, PE, Mach-O) from the
// build information the Go linker embeds, read with debug/buildinfo. It owns the mapping of that
// build information onto components: the main module, every dependency after replacements, and
// the standard library. It must not run the binary, read symbol tables or guess versions from
// strings; binaries without build information yield nothing.
//
// Decisions:
//   - The main module is kept with Direct set. A "(devel)" version (a build from a source tree)
//     is kept with an empty version: the application is part of the inventory even when its
//     version cannot be matched. Builds without a main module ("command-line-arguments") have
//     none to report.
//   - A dependency replaced by another module ("a => b v1.2.3") is reported as the replacement,
//     since that is the code compiled in. A replacement by a local directory ("a => ../a") keeps
//     the original module path with an empty version: the code is a local fork whose version is
//     unknown.
//   - The Go standard library is the component "stdlib" with the toolchain's version in
//     semver form, as the Go vulnerability database writes it: "go1.22.3" → "v1.22.3", "go1.21"
//     → "v1.21.0", "go1.21rc2" → "v1.21.0-rc.2". Everything after the version (experiments such
//     as " X:boringcrypto", vendor suffixes such as "-microsoft" or " (Red Hat 1.20.10)") is
//     dropped, as the advisories concern the upstream release. Development toolchains ("devel
//     go1.23-abc…") have no release version and yield no stdlib component.
package gobinary

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"io/fs"
	"strings"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langfile"
	"github.com/stellaops/stellaops/internal/inventory"
)

// Name is the analyzer's stable identifier.
const Name = "lang/gobinary"

// StdlibName is the component name of the Go standard library, as the Go vulnerability
// database names it.
const StdlibName = "stdlib"

// Config holds the analyzer's limits.
type Config struct {
	// MinSize is the smallest file worth sniffing; smaller executables are scripts or stubs.
	MinSize int64
}

// DefaultConfig returns the limits used by the scanner.
func DefaultConfig() Config { return Config{MinSize: 1024} }

// Analyzer reads Go build information from executables.
type Analyzer struct{ cfg Config }

var _ analyzer.Analyzer = (*Analyzer)(nil)

// New returns an analyzer with the given configuration.
func New(cfg Config) *Analyzer { return &Analyzer{cfg: cfg} }

// Name implements [analyzer.Analyzer].
func (*Analyzer) Name() string { return Name }

// Version implements [analyzer.Analyzer].
func (*Analyzer) Version() int { return 1 }

// Required implements [analyzer.Analyzer]: any regular file with an execute bit and at least
// MinSize bytes, and Windows executables by their ".exe" suffix (layers built on Linux rarely
// give them an execute bit).
func (a *Analyzer) Required(path string, info fs.FileInfo) bool {
	if langfile.IsExecutable(info, a.cfg.MinSize) {
		return true
	}
	return info != nil && info.Mode().IsRegular() && info.Size() >= a.cfg.MinSize && hasSuffixFold(path, ".exe")
}

// Analyze implements [analyzer.Analyzer]. Files that are not executables, or executables not
// built by Go, yield (nil, nil).
func (a *Analyzer) Analyze(ctx context.Context, in *analyzer.Input) (*analyzer.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in == nil || in.Content == nil || langfile.Sniff(in.Content) == langfile.FormatUnknown {
		return nil, nil
	}
	bi, err := buildinfo.Read(in.Content)
	if err != nil {
		// debug/buildinfo does not export its sentinels. "Not a Go executable" and
		// "unrecognized file format" are the common case and mean nothing here; only a Go
		// binary whose module information does not parse is worth a diagnostic.
		if strings.Contains(err.Error(), "could not parse Go build info") {
			return nil, fmt.Errorf("read go build info of %s: %w", in.Path, err)
		}
		return nil, nil
	}
	return langfile.Result(Components(bi, in.Path)), nil
}

// Components maps build information onto components found at location.
func Components(bi *buildinfo.BuildInfo, location string) []inventory.Component {
	loc := []string{location}
	var out []inventory.Component
	if p := bi.Main.Path; p != "" && p != "command-line-arguments" {
		v := bi.Main.Version
		if v == "(devel)" {
			v = ""
		}
		out = append(out, inventory.Component{
			Ecosystem: inventory.EcosystemGo, Name: p, Version: v, Locations: loc, Direct: true,
		})
	}
	for _, d := range bi.Deps {
		if d == nil {
			continue
		}
		name, version := d.Path, d.Version
		if r := d.Replace; r != nil {
			if isLocalPath(r.Path) {
				version = ""
			} else {
				name, version = r.Path, r.Version
			}
		}
		if name == "" {
			continue
		}
		out = append(out, inventory.Component{
			Ecosystem: inventory.EcosystemGo, Name: name, Version: version, Locations: loc,
		})
	}
	if v, ok := StdlibVersion(bi.GoVersion); ok {
		out = append(out, inventory.Component{
			Ecosystem: inventory.EcosystemGo, Name: StdlibName, Version: v, Locations: loc,
		})
	}
	return out
}

// isLocalPath reports whether a replacement path names a directory rather than a module, by
// the rule cmd/go uses: it starts with "./", "../" or "/" (or a Windows drive or UNC path).
func isLocalPath(p string) bool {
	return strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || strings.HasPrefix(p, "/") ||
		p == "." || p == ".." || strings.HasPrefix(p, `.\`) || strings.HasPrefix(p, `..\`) ||
		strings.HasPrefix(p, `\`) || (len(p) >= 2 && p[1] == ':')
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
