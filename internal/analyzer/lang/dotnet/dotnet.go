// Package dotnet finds NuGet packages in the *.deps.json files the .NET SDK writes next to every
// application and library it builds. It owns that format. It must not read project files
// (declared, not resolved, versions) or open assemblies.
//
// The parser is our own, on encoding/json: the format is one JSON document, and the parts a
// scanner needs are small.
//
// Decisions:
//   - Libraries of type "package" are NuGet packages and are reported. "project" (the
//     application and its project references) and "reference"/"referenceassembly" (framework
//     assemblies) are not. "runtimepack" libraries, which self-contained applications carry
//     ("runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.14"), are reported under their
//     NuGet name without the "runtimepack." prefix: they are the .NET runtime the application
//     runs on, and advisories name them.
//   - Direct is set for packages a project library depends on in the targets section.
//   - The "sha512-<base64>" digest of each package's .nupkg becomes a SHA-512 hash in hex.
package dotnet

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langfile"
	"github.com/stellaops/stellaops/internal/inventory"
)

// Name is the analyzer's stable identifier.
const Name = "lang/dotnet"

// Config holds the analyzer's limits.
type Config struct {
	// MaxFileSize is the largest deps.json read.
	MaxFileSize int64
	// MaxPackages bounds the number of libraries taken from one file.
	MaxPackages int
}

// DefaultConfig returns the limits used by the scanner.
func DefaultConfig() Config { return Config{MaxFileSize: 32 << 20, MaxPackages: 100_000} }

// Analyzer reads .NET dependency manifests.
type Analyzer struct{ cfg Config }

var _ analyzer.Analyzer = (*Analyzer)(nil)

// New returns an analyzer with the given configuration.
func New(cfg Config) *Analyzer { return &Analyzer{cfg: cfg} }

// Name implements [analyzer.Analyzer].
func (*Analyzer) Name() string { return Name }

// Version implements [analyzer.Analyzer].
func (*Analyzer) Version() int { return 1 }

// Required implements [analyzer.Analyzer]: files named *.deps.json.
func (*Analyzer) Required(p string, _ fs.FileInfo) bool {
	return strings.HasSuffix(p, ".deps.json") && !strings.HasSuffix(p, "/.deps.json") && p != ".deps.json"
}

// depsFile is the part of a deps.json the analyzer reads. Keys of targets and libraries are
// "Name/Version".
type depsFile struct {
	Targets   map[string]map[string]depsTarget `json:"targets"`
	Libraries map[string]depsLibrary           `json:"libraries"`
}

type depsTarget struct {
	Dependencies map[string]string `json:"dependencies"`
}

type depsLibrary struct {
	Type   string `json:"type"`
	SHA512 string `json:"sha512"`
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
	cs, err := Parse(ctx, b, in.Path, a.cfg.MaxPackages)
	if err != nil {
		return nil, err
	}
	return langfile.Result(cs), nil
}

// Parse reads a deps.json found at location; at most max libraries are accepted.
func Parse(ctx context.Context, b []byte, location string, max int) ([]inventory.Component, error) {
	var d depsFile
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("parse %s: %w", location, err)
	}
	if len(d.Libraries) > max {
		return nil, fmt.Errorf("parse %s: %d libraries, limit %d", location, len(d.Libraries), max)
	}
	direct := map[string]bool{}
	for _, target := range d.Targets {
		for key, t := range target {
			if d.Libraries[key].Type != "project" {
				continue
			}
			for name, version := range t.Dependencies {
				direct[name+"/"+version] = true
			}
		}
	}
	out := make([]inventory.Component, 0, len(d.Libraries))
	n := 0
	for key, lib := range d.Libraries {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		name, version, ok := strings.Cut(key, "/")
		if !ok || name == "" || version == "" {
			continue
		}
		switch lib.Type {
		case "package":
		case "runtimepack":
			name = strings.TrimPrefix(name, "runtimepack.")
		default:
			continue
		}
		c := inventory.Component{
			Ecosystem: inventory.EcosystemNuGet,
			Name:      name,
			Version:   version,
			Locations: []string{location},
			Direct:    direct[key],
		}
		if h, ok := sha512Hex(lib.SHA512); ok {
			c.Hashes = []inventory.Hash{{Algorithm: "SHA-512", Value: h}}
		}
		out = append(out, c)
	}
	return out, nil
}

// sha512Hex turns "sha512-<base64>" into lower-case hex.
func sha512Hex(s string) (string, bool) {
	b64, ok := strings.CutPrefix(s, "sha512-")
	if !ok {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 64 {
		return "", false
	}
	return hex.EncodeToString(raw), true
}
