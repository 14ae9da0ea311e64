package ruby

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// ParseLockfile reads a Bundler lockfile (Gemfile.lock, gems.locked):
//
//	GEM                         source sections: GEM, GIT, PATH, PLUGIN SOURCE
//	  remote: https://rubygems.org/
//	  specs:
//	    nokogiri (1.13.10-x86_64-linux)     a gem: four spaces
//	      racc (~> 1.4)                     its dependency: six spaces
//	DEPENDENCIES
//	  nokogiri (~> 1.13)                    declared by the Gemfile: two spaces
//
// Other sections (PLATFORMS, RUBY VERSION, BUNDLED WITH, CHECKSUMS) are skipped.
func ParseLockfile(ctx context.Context, b []byte, location string, max int) ([]inventory.Component, error) {
	type spec struct {
		name, version string
		local         bool
	}
	var specs []spec
	direct := map[string]bool{}
	section, inSpecs, known := "", false, 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 0; sc.Scan(); n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		text := line[indent:]
		switch {
		case indent == 0:
			section, inSpecs = text, false
			if isSourceSection(section) || isOtherSection(section) {
				known++
			}
		case indent == 2 && section == "DEPENDENCIES":
			name, _, _ := strings.Cut(text, " ")
			direct[strings.TrimSuffix(name, "!")] = true
		case indent == 2:
			inSpecs = text == "specs:"
		case indent == 4 && inSpecs && isSourceSection(section):
			name, version, ok := splitSpec(text)
			if !ok {
				continue
			}
			if len(specs) >= max {
				return nil, fmt.Errorf("parse %s: more than %d gems", location, max)
			}
			specs = append(specs, spec{name, version, section == "PATH"})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse %s: %w", location, err)
	}
	if known == 0 && len(bytes.TrimSpace(b)) > 0 {
		return nil, fmt.Errorf("parse %s: no lockfile sections", location)
	}
	out := make([]inventory.Component, 0, len(specs))
	for _, s := range specs {
		c := gem(s.name, s.version, location)
		c.Direct = s.local || direct[s.name]
		out = append(out, c)
	}
	return out, nil
}

func isOtherSection(s string) bool {
	return s == "PLATFORMS" || s == "DEPENDENCIES" || s == "RUBY VERSION" || s == "BUNDLED WITH" || s == "CHECKSUMS"
}

func isSourceSection(s string) bool {
	return s == "GEM" || s == "GIT" || s == "PATH" || s == "PLUGIN SOURCE"
}

// splitSpec reads "name (version[-platform])".
func splitSpec(s string) (name, version string, ok bool) {
	name, rest, found := strings.Cut(s, " (")
	if !found || name == "" || !strings.HasSuffix(rest, ")") {
		return "", "", false
	}
	version = strings.TrimSuffix(rest, ")")
	if i := strings.IndexByte(version, '-'); i >= 0 {
		version = version[:i]
	}
	if version == "" || strings.ContainsAny(version, " ,") {
		return "", "", false
	}
	return name, version, true
}
