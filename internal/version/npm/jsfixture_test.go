package npm_test

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/version/internal/vectors"
)

// The node-semver fixtures are CommonJS arrays. jsParser reads the small subset of JavaScript they
// use: string, template and regexp literals, numbers, true/false/null/undefined/NaN, object
// literals, arrow functions, "+" concatenation, 'x'.repeat(n), new Array(n).join(s) and the
// constants MAX_LENGTH and MAX_SAFE_INTEGER.
type jsParser struct {
	s   string
	pos int
}

type jsRegexp struct{ src string }
type jsFunc struct{}

const (
	jsMaxLength      = 256
	jsMaxSafeInteger = 1<<53 - 1
)

func readFixture(t *testing.T, name string) [][]any {
	t.Helper()
	b, err := os.ReadFile(vectors.Path("node-semver-fixtures/" + name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "module.exports =")
	if i < 0 {
		t.Fatalf("%s: no module.exports", name)
	}
	p := &jsParser{s: s, pos: i + len("module.exports =")}
	v, err := p.value()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var rows [][]any
	for _, r := range v.([]any) {
		rows = append(rows, r.([]any))
	}
	return rows
}

func (p *jsParser) skip() {
	for p.pos < len(p.s) {
		switch {
		case strings.HasPrefix(p.s[p.pos:], "//"):
			for p.pos < len(p.s) && p.s[p.pos] != '\n' {
				p.pos++
			}
		case strings.ContainsRune(" \t\r\n", rune(p.s[p.pos])):
			p.pos++
		default:
			return
		}
	}
}

func (p *jsParser) peek(prefix string) bool {
	p.skip()
	return strings.HasPrefix(p.s[p.pos:], prefix)
}

func (p *jsParser) expect(prefix string) error {
	if !p.peek(prefix) {
		return fmt.Errorf("offset %d: want %q, have %.20q", p.pos, prefix, p.s[p.pos:])
	}
	p.pos += len(prefix)
	return nil
}

// value parses an expression: a term followed by "+ term"s (string concatenation or addition).
func (p *jsParser) value() (any, error) {
	v, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.peek("+") {
		p.pos++
		w, err := p.term()
		if err != nil {
			return nil, err
		}
		v = fmt.Sprint(v) + fmt.Sprint(w)
	}
	return v, nil
}

func (p *jsParser) term() (any, error) {
	p.skip()
	rest := p.s[p.pos:]
	switch {
	case rest[0] == '[':
		p.pos++
		var out []any
		for !p.peek("]") {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			if p.peek(",") {
				p.pos++
			}
		}
		p.pos++
		return out, nil
	case rest[0] == '{':
		p.pos++
		out := map[string]any{}
		for !p.peek("}") {
			p.skip()
			j := strings.IndexByte(p.s[p.pos:], ':')
			key := strings.TrimSpace(p.s[p.pos : p.pos+j])
			p.pos += j + 1
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			out[key] = v
			if p.peek(",") {
				p.pos++
			}
		}
		p.pos++
		return out, nil
	case rest[0] == '(':
		j := strings.Index(rest, "=>")
		p.pos += j + 2
		if _, err := p.value(); err != nil {
			return nil, err
		}
		return jsFunc{}, nil
	case rest[0] == '/':
		j := strings.IndexByte(rest[1:], '/')
		p.pos += j + 2
		return jsRegexp{src: rest[1 : j+1]}, nil
	case rest[0] == '\'':
		s, err := p.quoted('\'')
		if err != nil {
			return nil, err
		}
		if p.peek(".repeat(") {
			p.pos += len(".repeat(")
			n, err := p.value()
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return strings.Repeat(s, int(n.(float64))), nil
		}
		return s, nil
	case rest[0] == '`':
		s, err := p.quoted('`')
		if err != nil {
			return nil, err
		}
		s = strings.ReplaceAll(s, "${MAX_SAFE_INTEGER - 1}", strconv.Itoa(jsMaxSafeInteger-1))
		s = strings.ReplaceAll(s, "${MAX_SAFE_INTEGER}", strconv.Itoa(jsMaxSafeInteger))
		return s, nil
	case strings.HasPrefix(rest, "new Array(MAX_LENGTH).join("):
		p.pos += len("new Array(MAX_LENGTH).join(")
		s, err := p.value()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return strings.Repeat(s.(string), jsMaxLength-1), nil
	}
	for _, kw := range []struct {
		word string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}, {"undefined", nil}, {"NaN", math.NaN()},
		{"MAX_SAFE_INTEGER", float64(jsMaxSafeInteger)}, {"MAX_LENGTH", float64(jsMaxLength)}} {
		if strings.HasPrefix(rest, kw.word) {
			p.pos += len(kw.word)
			if f, ok := kw.v.(float64); ok && p.peek("-") {
				p.pos++
				n, err := p.term()
				if err != nil {
					return nil, err
				}
				return f - n.(float64), nil
			}
			return kw.v, nil
		}
	}
	j := 0
	for j < len(rest) && strings.ContainsRune("0123456789.-", rune(rest[j])) {
		j++
	}
	f, err := strconv.ParseFloat(rest[:j], 64)
	if err != nil {
		return nil, fmt.Errorf("offset %d: unexpected %.20q", p.pos, rest)
	}
	p.pos += j
	return f, nil
}

func (p *jsParser) quoted(q byte) (string, error) {
	var b strings.Builder
	for i := p.pos + 1; i < len(p.s); i++ {
		c := p.s[i]
		switch {
		case c == q:
			p.pos = i + 1
			return b.String(), nil
		case c == '\\' && i+1 < len(p.s):
			i++
			switch p.s[i] {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(p.s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated string at %d", p.pos)
}

// truthy is JavaScript truthiness.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0 && !math.IsNaN(x)
	case string:
		return x != ""
	}
	return true
}
