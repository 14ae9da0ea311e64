package ruby

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/stellaops/stellaops/internal/inventory"
)

var (
	// assignRE matches the attribute assignments RubyGems writes: `s.name = "x".freeze`.
	assignRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\s*[A-Za-z_]\w*\.(name|version|licenses?)\s*=\s*(.*)$`)
	})
	// stubRE matches the "# stub: name version platform require_paths" line.
	stubRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^#\s*stub:\s+(\S+)\s+(\S+)`) })
)

// ParseGemspec reads an installed gem specification found at location. A specification
// without a literal name and version (and no stub line to stand in) yields nothing; one that is
// not text (NUL bytes outside comments) is an error.
func ParseGemspec(b []byte, location string) ([]inventory.Component, error) {
	if isBinary(b) {
		return nil, fmt.Errorf("parse %s: binary content", location)
	}
	var name, version, stubName, stubVersion string
	var licenses []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := stubRE().FindStringSubmatch(line); m != nil && stubName == "" {
			stubName, stubVersion = m[1], m[2]
			continue
		}
		m := assignRE().FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch rhs := m[2]; m[1] {
		case "name":
			if s, ok := firstLiteral(rhs); ok && name == "" {
				name = s
			}
		case "version":
			rhs = strings.TrimSpace(rhs)
			if r, ok := strings.CutPrefix(rhs, "Gem::Version.new("); ok {
				rhs = r
			}
			if s, ok := firstLiteral(rhs); ok && version == "" {
				version = s
			}
		case "license", "licenses":
			licenses = append(licenses, literals(rhs)...)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse %s: %w", location, err)
	}
	if name == "" {
		name = stubName
	}
	if version == "" && name == stubName {
		version = stubVersion
	}
	if name == "" || version == "" {
		return nil, nil
	}
	c := gem(name, version, location)
	c.Licenses = licenses
	return []inventory.Component{c}, nil
}

// firstLiteral returns the string literal s starts with (after white space), if any.
func firstLiteral(s string) (string, bool) {
	v, _, ok := scanLiteral(strings.TrimLeft(s, " \t"))
	return v, ok && v != ""
}

// literals returns every string literal in s, stopping at a comment.
func literals(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '#':
			return out
		case c == '"' || c == '\'' || (c == '%' && i+1 < len(s) && (s[i+1] == 'q' || s[i+1] == 'Q')):
			v, n, ok := scanLiteral(s[i:])
			if !ok {
				return out
			}
			if v != "" {
				out = append(out, v)
			}
			i += n
		default:
			i++
		}
	}
	return out
}

// scanLiteral reads the Ruby string literal at the start of s: "…" or '…' (backslash escapes
// kept as the escaped character), or %q/%Q with (), [], {} or <> delimiters. It returns the
// value and the number of bytes consumed.
func scanLiteral(s string) (string, int, bool) {
	if s == "" {
		return "", 0, false
	}
	var end byte
	start := 1
	switch s[0] {
	case '"', '\'':
		end = s[0]
	case '%':
		if len(s) < 3 || (s[1] != 'q' && s[1] != 'Q') {
			return "", 0, false
		}
		start = 3
		switch s[2] {
		case '(':
			end = ')'
		case '[':
			end = ']'
		case '{':
			end = '}'
		case '<':
			end = '>'
		default:
			return "", 0, false
		}
	default:
		return "", 0, false
	}
	var b strings.Builder
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == end:
			return b.String(), i + 1, true
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, false
}

// isBinary reports NUL bytes outside comment lines. RubyGems itself writes NULs into the
// "# stub:" comment (it joins extension paths with "\0"), so those are text.
func isBinary(b []byte) bool {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if bytes.IndexByte(line, 0) >= 0 && !bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte("#")) {
			return true
		}
	}
	return false
}
