package npm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stellaops/stellaops/internal/inventory"
)

// pnpmLock is the part of pnpm-lock.yaml the analyzer reads. Package keys changed over time:
// "/name/1.2.3_peer@2.0.0" (v5), "/name@1.2.3(peer@2.0.0)" (v6), "name@1.2.3" (v9, peers
// moved to `snapshots`). Entries for tarballs and git repositories carry `name` and `version`.
type pnpmLock struct {
	LockfileVersion any                    `yaml:"lockfileVersion"`
	Packages        map[string]pnpmPackage `yaml:"packages"`
}

type pnpmPackage struct {
	Name    string `yaml:"name"`
	Version string `yaml:"version"`
}

// parsePnpmLock reads every YAML document of a pnpm-lock.yaml (pnpm 9 may write two: one for
// the package manager itself, one for the project).
func (a *Analyzer) parsePnpmLock(ctx context.Context, b []byte, location string) ([]inventory.Component, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []inventory.Component
	for doc := 0; ; doc++ {
		if doc >= 16 {
			return nil, fmt.Errorf("parse %s: more than 16 YAML documents", location)
		}
		var lock pnpmLock
		err := dec.Decode(&lock)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", location, err)
		}
		major := pnpmMajor(lock.LockfileVersion)
		if len(out)+len(lock.Packages) > a.cfg.MaxPackages {
			return nil, fmt.Errorf("parse %s: more than %d packages", location, a.cfg.MaxPackages)
		}
		for key, p := range lock.Packages {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			name, version := pnpmKey(key, major)
			if strings.ContainsAny(version, ":/") {
				version = "" // a tarball or git URL, not a version
			}
			if p.Name != "" {
				name = p.Name
			}
			if p.Version != "" {
				version = p.Version
			}
			if name == "" || version == "" || isLocalSpec(version) {
				continue
			}
			out = append(out, inventory.Component{
				Ecosystem: inventory.EcosystemNPM, Name: name, Version: version, Locations: []string{location},
			})
		}
	}
	return out, nil
}

// pnpmMajor reads lockfileVersion (5.4, "6.0", '9.0') as its major number; 0 when unknown.
func pnpmMajor(v any) int {
	s := strings.Trim(fmt.Sprint(v), `"' `)
	major := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9' && i < 4; i++ {
		major = major*10 + int(s[i]-'0')
	}
	return major
}

// pnpmKey splits a package key into name and version, dropping peer-dependency suffixes.
func pnpmKey(key string, major int) (name, version string) {
	k := strings.TrimPrefix(key, "/")
	if major >= 6 {
		if i := strings.IndexByte(k, '('); i >= 0 {
			k = k[:i]
		}
		n, v, ok := splitNameSpec(k)
		if !ok {
			return "", ""
		}
		return n, v
	}
	i := strings.LastIndexByte(k, '/')
	if i <= 0 {
		return "", ""
	}
	name, version = k[:i], k[i+1:]
	if j := strings.IndexByte(version, '_'); j >= 0 {
		version = version[:j]
	}
	return name, version
}
