package python

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/stellaops/stellaops/internal/inventory"
)

// poetryLock is the part of poetry.lock the analyzer reads.
type poetryLock struct {
	Package []struct {
		Name    string `toml:"name"`
		Version string `toml:"version"`
	} `toml:"package"`
}

func parsePoetry(ctx context.Context, b []byte, location string, max int) ([]inventory.Component, error) {
	var lock poetryLock
	if err := toml.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("parse %s: %w", location, err)
	}
	if len(lock.Package) > max {
		return nil, fmt.Errorf("parse %s: %d packages, limit %d", location, len(lock.Package), max)
	}
	out := make([]inventory.Component, 0, len(lock.Package))
	for i, p := range lock.Package {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if p.Name != "" && p.Version != "" {
			out = append(out, component(p.Name, p.Version, location))
		}
	}
	return out, nil
}

// uvLock is the part of uv.lock the analyzer reads. The project itself has a source of
// `editable` or `virtual`; its dependencies name other packages.
type uvLock struct {
	Package []struct {
		Name         string         `toml:"name"`
		Version      string         `toml:"version"`
		Source       map[string]any `toml:"source"`
		Dependencies []struct {
			Name string `toml:"name"`
		} `toml:"dependencies"`
	} `toml:"package"`
}

func parseUV(ctx context.Context, b []byte, location string, max int) ([]inventory.Component, error) {
	var lock uvLock
	if err := toml.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("parse %s: %w", location, err)
	}
	if len(lock.Package) > max {
		return nil, fmt.Errorf("parse %s: %d packages, limit %d", location, len(lock.Package), max)
	}
	direct := map[string]bool{}
	for _, p := range lock.Package {
		if uvProject(p.Source) {
			direct[p.Name] = true
			for _, d := range p.Dependencies {
				direct[d.Name] = true
			}
		}
	}
	out := make([]inventory.Component, 0, len(lock.Package))
	for i, p := range lock.Package {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if p.Name == "" {
			continue
		}
		c := component(p.Name, p.Version, location)
		c.Direct = direct[p.Name]
		out = append(out, c)
	}
	return out, nil
}

func uvProject(source map[string]any) bool {
	_, editable := source["editable"]
	_, virtual := source["virtual"]
	return editable || virtual
}

// pipfileLock is the part of Pipfile.lock the analyzer reads: the "default" and "develop"
// sections map names to pinned versions ("==1.2.3"); VCS and path entries have no version.
type pipfileLock struct {
	Default map[string]pipfileEntry `json:"default"`
	Develop map[string]pipfileEntry `json:"develop"`
}

type pipfileEntry struct {
	Version string `json:"version"`
}

func parsePipfileLock(b []byte, location string, max int) ([]inventory.Component, error) {
	var lock pipfileLock
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("parse %s: %w", location, err)
	}
	if len(lock.Default)+len(lock.Develop) > max {
		return nil, fmt.Errorf("parse %s: more than %d packages", location, max)
	}
	var out []inventory.Component
	for _, section := range []map[string]pipfileEntry{lock.Default, lock.Develop} {
		for name, e := range section {
			v, ok := strings.CutPrefix(strings.TrimSpace(e.Version), "==")
			v = strings.TrimPrefix(v, "=")
			if !ok || name == "" || v == "" {
				continue
			}
			out = append(out, component(name, v, location))
		}
	}
	return out, nil
}
