package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits on what a configuration file may hold. Configuration is written by operators, but a
// wrong path (a log, a database) should fail fast rather than eat memory.
const (
	maxFileSize = 4 << 20
	maxDepth    = 64
	maxNodes    = 1 << 20 // YAML aliases can expand a small file exponentially
)

type kind uint8

const (
	null kind = iota
	scalar
	list
	object
)

// value is a parsed JSON or YAML value. Scalars keep their text: as in .NET configuration,
// every value is text until it meets the field it sets, so "3" and 3 both fill an int or a
// string.
type value struct {
	kind kind
	line int // in the file; 0 when not from a file
	text string
	list []*value
	obj  []member
}

type member struct {
	key  string
	val  *value
	line int
}

// posError is a syntax error at a line of the file.
type posError struct {
	line int
	err  error
}

func (e *posError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *posError) Unwrap() error { return e.err }

// lineIndex maps byte offsets to 1-based lines.
type lineIndex []int // offsets at which lines start

func newLineIndex(b []byte) lineIndex {
	idx := lineIndex{0}
	for i, c := range b {
		if c == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

func (idx lineIndex) line(off int64) int {
	return sort.Search(len(idx), func(i int) bool { return int64(idx[i]) > off })
}

// parseJSON parses a JSON document the way .NET reads appsettings.json: comments and
// trailing commas are allowed. It returns nil for a blank file.
func parseJSON(data []byte) (*value, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	lines := newLineIndex(data)
	data, err := stripJSONC(data, lines)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	p := &jsonParser{dec: json.NewDecoder(bytes.NewReader(data)), lines: lines}
	p.dec.UseNumber() // keep number text exact: 1e3 is not an int, 10000000000000001 stays itself
	v, err := p.next(0)
	if err == nil {
		if _, err = p.dec.Token(); err == nil {
			err = errors.New("unexpected data after the top-level value")
		} else if err == io.EOF {
			err = nil
		}
	}
	if err != nil {
		off := p.dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			// The offset is just past the bad byte for the scanner's errors and at it for
			// Token's. Stepping back one byte is right for both unless that lands on the
			// newline before a bad token at the start of a line.
			off = se.Offset
			if off > 0 && (data[off-1] != '\n' || strings.Contains(se.Error(), `'\n'`)) {
				off--
			}
		}
		if errors.Is(err, io.EOF) {
			off, err = int64(len(data)), io.ErrUnexpectedEOF
		}
		return nil, &posError{lines.line(off), err}
	}
	return v, nil
}

type jsonParser struct {
	dec   *json.Decoder
	lines lineIndex
}

func (p *jsonParser) line() int {
	return p.lines.line(p.dec.InputOffset())
}

func (p *jsonParser) next(depth int) (*value, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	line := p.line()
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			v := &value{kind: list, line: line}
			for p.dec.More() {
				e, err := p.next(depth + 1)
				if err != nil {
					return nil, err
				}
				v.list = append(v.list, e)
			}
			_, err := p.dec.Token() // ']'
			return v, err
		}
		v := &value{kind: object, line: line}
		for p.dec.More() {
			k, err := p.dec.Token()
			if err != nil {
				return nil, err
			}
			keyLine := p.line()
			e, err := p.next(depth + 1)
			if err != nil {
				return nil, err
			}
			v.obj = append(v.obj, member{key: k.(string), val: e, line: keyLine})
		}
		_, err := p.dec.Token() // '}'
		return v, err
	case string:
		return &value{kind: scalar, text: t, line: line}, nil
	case json.Number:
		return &value{kind: scalar, text: t.String(), line: line}, nil
	case bool:
		return &value{kind: scalar, text: fmt.Sprint(t), line: line}, nil
	}
	return &value{line: line}, nil // null
}

// stripJSONC blanks out comments and trailing commas, keeping every newline so that offsets,
// and so the lines in errors, stay those of the file.
func stripJSONC(src []byte, lines lineIndex) ([]byte, error) {
	b := bytes.Clone(src)
	blank := func(from, to int) {
		for ; from < to; from++ {
			if b[from] != '\n' {
				b[from] = ' '
			}
		}
	}
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(b) && b[i+1] == '/':
			end := bytes.IndexByte(b[i:], '\n')
			if end < 0 {
				end = len(b) - i
			}
			blank(i, i+end)
			i += end
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			end := bytes.Index(b[i+2:], []byte("*/"))
			if end < 0 {
				return nil, &posError{lines.line(int64(i)), errors.New("unterminated /* comment")}
			}
			blank(i, i+2+end+2)
			i += 2 + end + 1
		}
	}
	// Second pass, on comment-free text: a comma followed only by blanks and a closing bracket
	// is a trailing comma, unless it follows an opening bracket or another comma ("[,]" stays
	// an error, as in .NET).
	inString = false
	prev := byte(0) // last non-blank byte outside strings
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
		}
		if c == ',' && prev != '{' && prev != '[' && prev != ',' {
			j := i + 1
			for j < len(b) && isBlank(b[j]) {
				j++
			}
			if j < len(b) && (b[j] == '}' || b[j] == ']') {
				b[i] = ' '
				continue
			}
		}
		if !isBlank(c) {
			prev = c
		}
	}
	return b, nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// parseYAML parses a single-document YAML file. It returns nil for an empty document.
func parseYAML(data []byte) (*value, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		if err == nil {
			return nil, fmt.Errorf("yaml: line %d: only one document is allowed", extra.Line)
		}
		return nil, err
	}
	c := &yamlConv{budget: maxNodes}
	return c.conv(&doc, 0)
}

type yamlConv struct{ budget int }

func (c *yamlConv) conv(n *yaml.Node, depth int) (*value, error) {
	if c.budget--; c.budget < 0 {
		return nil, fmt.Errorf("yaml: more than %d values once aliases are expanded", maxNodes)
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("yaml: line %d: nested deeper than %d levels", n.Line, maxDepth)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &value{}, nil
		}
		return c.conv(n.Content[0], depth)
	case yaml.AliasNode:
		if n.Alias == nil {
			return &value{}, nil
		}
		return c.conv(n.Alias, depth+1)
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return &value{line: n.Line}, nil
		}
		return &value{kind: scalar, text: n.Value, line: n.Line}, nil
	case yaml.SequenceNode:
		v := &value{kind: list, line: n.Line}
		for _, e := range n.Content {
			ev, err := c.conv(e, depth+1)
			if err != nil {
				return nil, err
			}
			v.list = append(v.list, ev)
		}
		return v, nil
	case yaml.MappingNode:
		return c.mapping(n, depth)
	}
	return nil, fmt.Errorf("yaml: line %d: unexpected node", n.Line)
}

// mapping converts a mapping, applying "<<" merge keys: keys written out win over merged ones.
func (c *yamlConv) mapping(n *yaml.Node, depth int) (*value, error) {
	v := &value{kind: object, line: n.Line}
	var merged []member
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, e := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("yaml: line %d: keys must be scalars", k.Line)
		}
		ev, err := c.conv(e, depth+1)
		if err != nil {
			return nil, err
		}
		if k.ShortTag() == "!!merge" {
			srcs := []*value{ev}
			if ev.kind == list {
				srcs = ev.list
			}
			for _, s := range srcs {
				if s.kind != object {
					return nil, fmt.Errorf("yaml: line %d: a merge key needs a mapping or a list of mappings", k.Line)
				}
				merged = append(merged, s.obj...)
			}
			continue
		}
		v.obj = append(v.obj, member{key: k.Value, val: ev, line: k.Line})
	}
	for _, m := range merged {
		if !v.has(m.key) {
			v.obj = append(v.obj, m)
		}
	}
	return v, nil
}

func (v *value) has(key string) bool {
	for _, m := range v.obj {
		if m.key == key {
			return true
		}
	}
	return false
}
