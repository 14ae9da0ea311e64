package policy

import (
	"cmp"
	"strconv"
	"strings"
)

// Paths are JSONPath-like locations in the spec's form: $.rules[0].severity. Keys that are not
// identifiers are written $["odd key"].

func pathKey(parent, key string) string {
	if isIdent(key) {
		return parent + "." + key
	}
	return parent + "[" + strconv.Quote(key) + "]"
}

func pathIndex(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '$' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}

// pointerToPath turns a JSON Schema instance location (["rules","0","severity"]) into a path.
// Array indexes are told from object keys by the value they index into.
func pointerToPath(root any, loc []string) string {
	p := "$"
	v := root
	for _, tok := range loc {
		switch c := v.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return pathKey(p, tok)
			}
			p = pathIndex(p, i)
			v = c[i]
		case map[string]any:
			p = pathKey(p, tok)
			v = c[tok]
		default:
			p = pathKey(p, tok)
			v = nil
		}
	}
	return p
}

// comparePaths orders paths in document order: $.rules[2] before $.rules[10].
func comparePaths(a, b string) int {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			na, ra := leadingDigits(a)
			nb, rb := leadingDigits(b)
			if len(na) != len(nb) {
				return cmp.Compare(len(na), len(nb))
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(int(a[0]), int(b[0]))
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func leadingDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return strings.TrimLeft(s[:i], "0"), s[i:]
}

// hasPathPrefix reports whether p is prefix or a location inside it.
func hasPathPrefix(p, prefix string) bool {
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	rest := p[len(prefix):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}
