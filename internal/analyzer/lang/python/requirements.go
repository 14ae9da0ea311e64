package python

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// ParseRequirements reads the exactly pinned requirements of a pip requirements file:
//
//	name==1.2.3
//	name[extra1,extra2] == 1.2.3 ; python_version < "3.8"   # comment
//	name===1.2.3 \
//	    --hash=sha256:…
//
// Lines ending in a backslash continue on the next line. Options (-r, -c, -e, --index-url, …),
// ranges, wildcards ("==1.2.*"), direct references ("name @ url") and lines with environment
// variables are skipped; they do not say which version is installed.
func ParseRequirements(ctx context.Context, b []byte, location string, max int) ([]inventory.Component, error) {
	var out []inventory.Component
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var logical strings.Builder
	for n := 0; sc.Scan(); n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line := strings.TrimRight(sc.Text(), " \t\r")
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			if logical.Len()+len(cont) > 1<<20 {
				return nil, fmt.Errorf("parse %s: continued line longer than 1 MiB", location)
			}
			logical.WriteString(cont)
			logical.WriteByte(' ')
			continue
		}
		logical.WriteString(line)
		if name, version, ok := pinned(logical.String()); ok {
			if len(out) >= max {
				return nil, fmt.Errorf("parse %s: more than %d requirements", location, max)
			}
			out = append(out, component(name, version, location))
		}
		logical.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse %s: %w", location, err)
	}
	if name, version, ok := pinned(logical.String()); ok { // a final line ending in '\'
		out = append(out, component(name, version, location))
	}
	return out, nil
}

// pinned reads one logical requirement line and reports its name and pinned version.
func pinned(line string) (name, version string, ok bool) {
	// A comment starts at '#' at the beginning of the line or after white space.
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			line = line[:i]
			break
		}
	}
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '-' || strings.Contains(line, "$") {
		return "", "", false
	}
	// Per-requirement options ("--hash=…") and environment markers end the requirement.
	if i := strings.Index(line, " -"); i >= 0 {
		line = line[:i]
	}
	if i := strings.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	req, ver, found := strings.Cut(line, "==")
	if !found {
		return "", "", false
	}
	ver = strings.TrimSpace(strings.TrimPrefix(ver, "=")) // "===" is arbitrary equality
	if ver == "" || strings.ContainsAny(ver, " \t,*@<>=!~") {
		return "", "", false
	}
	req = strings.TrimSpace(req)
	if i := strings.IndexByte(req, '['); i >= 0 {
		if !strings.HasSuffix(req, "]") {
			return "", "", false
		}
		req = strings.TrimSpace(req[:i])
	}
	if !validName(req) {
		return "", "", false
	}
	return req, ver, true
}

// validName reports whether s is a distribution name: ASCII letters and digits, with '.', '-'
// and '_' inside.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (c != '.' && c != '-' && c != '_' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}
