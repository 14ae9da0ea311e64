package npm

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// parseYarnLock reads yarn.lock in both of its formats, line by line:
//
//	classic (v1)                      berry (v2+, YAML)
//	"@babel/core@^7.0.0", "@babel/…":  "@babel/core@npm:^7.0.0":
//	  version "7.12.13"                 version: 7.12.13
//	                                    resolution: "@babel/core@npm:7.12.13"
//
// An entry starts at a non-indented line ending in ':'; its `version` and `resolution` are
// two-space indented. Berry entries that resolve to the project itself or to a patched copy
// (workspace:, link:, portal:, file:, patch:, exec:) are skipped.
func (a *Analyzer) parseYarnLock(ctx context.Context, b []byte, location string) ([]inventory.Component, error) {
	var out []inventory.Component
	var header, version, resolution string
	inEntry := false
	flush := func() {
		if inEntry {
			if c, ok := yarnComponent(header, version, resolution, location); ok {
				out = append(out, c)
			}
		}
		header, version, resolution, inEntry = "", "", "", false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 0; sc.Scan(); n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "" || strings.HasPrefix(strings.TrimLeft(line, " "), "#") {
			continue
		}
		if line[0] != ' ' {
			flush()
			if !strings.HasSuffix(line, ":") {
				return nil, fmt.Errorf("parse %s: line %d: unexpected %q", location, n+1, truncate(line))
			}
			header = strings.TrimSuffix(line, ":")
			inEntry = header != "__metadata"
			if len(out) >= a.cfg.MaxPackages {
				return nil, fmt.Errorf("parse %s: more than %d packages", location, a.cfg.MaxPackages)
			}
			continue
		}
		if !inEntry || strings.HasPrefix(line, "   ") {
			continue // nested maps (dependencies, checksum fields)
		}
		key, val := splitYarnField(strings.TrimSpace(line))
		switch key {
		case "version":
			version = val
		case "resolution":
			resolution = val
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse %s: %w", location, err)
	}
	flush()
	return out, nil
}

// splitYarnField splits `key "value"` (classic) or `key: value` (berry) and unquotes the value.
func splitYarnField(s string) (key, val string) {
	i := strings.IndexAny(s, ": ")
	if i < 0 {
		return s, ""
	}
	key, val = s[:i], strings.TrimSpace(strings.TrimPrefix(s[i:], ":"))
	return key, strings.Trim(val, `"'`)
}

// yarnComponent builds the component of one entry, or reports false for entries that are not
// registry packages.
func yarnComponent(header, version, resolution, location string) (inventory.Component, bool) {
	var name string
	if resolution != "" {
		n, spec, ok := splitNameSpec(resolution)
		if !ok || isLocalSpec(spec) {
			return inventory.Component{}, false
		}
		name = n
	} else {
		first, _, _ := strings.Cut(header, ",")
		n, spec, ok := splitNameSpec(strings.Trim(strings.TrimSpace(first), `"`))
		if !ok || isLocalSpec(spec) {
			return inventory.Component{}, false
		}
		name = n
		if real, ok := strings.CutPrefix(spec, "npm:"); ok {
			if rn, _, ok := splitNameSpec(real); ok {
				name = rn // alias "alias@npm:real@range"
			}
		}
	}
	if name == "" || version == "" {
		return inventory.Component{}, false
	}
	return inventory.Component{
		Ecosystem: inventory.EcosystemNPM, Name: name, Version: version, Locations: []string{location},
	}, true
}

// splitNameSpec splits "name@spec" or "@scope/name@spec" at the '@' that ends the name.
func splitNameSpec(s string) (name, spec string, ok bool) {
	start := 0
	if strings.HasPrefix(s, "@") {
		start = 1
	}
	i := strings.IndexByte(s[start:], '@')
	if i < 0 {
		return "", "", false
	}
	return s[:start+i], s[start+i+1:], true
}

func isLocalSpec(spec string) bool {
	for _, p := range []string{"workspace:", "link:", "portal:", "file:", "patch:", "exec:"} {
		if strings.HasPrefix(spec, p) {
			return true
		}
	}
	return false
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
