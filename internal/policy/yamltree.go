package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// tree is a YAML document turned into plain JSON values (map[string]any, []any, string,
// int64, float64, bool, nil), with the line of every path, so that the JSON Schema validator and
// the typed decoder see the same data and errors can name a line.
type tree struct {
	root  any
	lines map[string]int
	// blockStart is the first content line of literal and folded block scalars (rego: |),
	// whose node line is the line of the indicator.
	blockStart map[string]int
}

// line is the line of path, or of the nearest enclosing location that has one (a missing
// field is reported on its parent's line).
func (t *tree) line(path string) int {
	for {
		if l, ok := t.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			return t.lines["$"]
		}
		path = path[:i]
	}
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// parseYAML decodes one YAML document within the limits. Anchors, aliases, merge keys and
// custom tags are refused: a policy is a reviewed document, and aliases are how small YAML files
// expand into huge ones.
func parseYAML(content []byte, lim Limits) (t *tree, errs []ValidationError) {
	if len(content) > lim.MaxPolicyBytes {
		return nil, []ValidationError{{Path: "$", Code: codeLimit,
			Msg: fmt.Sprintf("Policy is %d bytes, over the %d byte limit", len(content), lim.MaxPolicyBytes)}}
	}
	doc, err := decodeOne(content)
	if err != nil {
		ve := ValidationError{Path: "$", Code: codeYAMLSyntax, Msg: err.Error()}
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			ve.Line, _ = strconv.Atoi(m[1])
		}
		return nil, []ValidationError{ve}
	}
	if doc == nil {
		return nil, []ValidationError{{Path: "$", Code: codeFieldRequired, Msg: "Policy is empty"}}
	}
	c := &converter{lim: lim, t: &tree{lines: map[string]int{}, blockStart: map[string]int{}}}
	c.t.root = c.convert(doc, "$", 0)
	return c.t, c.errs
}

// decodeOne reads exactly one YAML document into a node tree (nil when there is none).
func decodeOne(content []byte) (n *yaml.Node, err error) {
	// The YAML parser is a port of libyaml; a panic on some byte sequence we did not foresee
	// must reject this policy, not take the server down with it.
	defer func() {
		if r := recover(); r != nil {
			n, err = nil, fmt.Errorf("yaml: parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(content))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, err
	default:
		return nil, fmt.Errorf("yaml: line %d: a policy is one YAML document; found a second one", extra.Line)
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

type converter struct {
	lim   Limits
	t     *tree
	nodes int
	errs  []ValidationError
	// stop is set after a limit error, so one hostile document gives one error, not millions.
	stop bool
}

func (c *converter) fail(path string, line int, code, format string, args ...any) {
	c.errs = append(c.errs, ValidationError{Path: path, Line: line, Code: code, Msg: fmt.Sprintf(format, args...)})
}

func (c *converter) convert(n *yaml.Node, path string, depth int) any {
	if c.stop {
		return nil
	}
	c.nodes++
	if c.nodes > c.lim.MaxYAMLNodes {
		c.stop = true
		c.fail(path, n.Line, codeLimit, "Policy has more than %d YAML nodes", c.lim.MaxYAMLNodes)
		return nil
	}
	if depth > c.lim.MaxYAMLDepth {
		c.stop = true
		c.fail(path, n.Line, codeLimit, "Policy nests deeper than %d levels", c.lim.MaxYAMLDepth)
		return nil
	}
	if _, ok := c.t.lines[path]; !ok {
		c.t.lines[path] = n.Line
	}
	if n.Anchor != "" {
		c.fail(path, n.Line, codeYAMLUnsupported, "YAML anchors (&%s) are not supported in policies", n.Anchor)
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		c.fail(path, n.Line, codeYAMLUnsupported, "YAML aliases (*%s) are not supported in policies", n.Value)
		return nil
	case yaml.MappingNode:
		if tag := n.ShortTag(); tag != "!!map" {
			c.fail(path, n.Line, codeYAMLUnsupported, "YAML tag %s is not supported in policies", tag)
			return nil
		}
		obj := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				c.fail(path, k.Line, codeYAMLUnsupported, "Mapping keys must be plain strings")
				continue
			}
			if k.ShortTag() == "!!merge" {
				c.fail(path, k.Line, codeYAMLUnsupported, "YAML merge keys (<<) are not supported in policies")
				continue
			}
			kp := pathKey(path, k.Value)
			if _, dup := obj[k.Value]; dup {
				c.fail(kp, k.Line, codeYAMLSyntax, "Duplicate key '%s'", k.Value)
				continue
			}
			c.t.lines[kp] = k.Line
			obj[k.Value] = c.convert(v, kp, depth+1)
		}
		return obj
	case yaml.SequenceNode:
		if tag := n.ShortTag(); tag != "!!seq" {
			c.fail(path, n.Line, codeYAMLUnsupported, "YAML tag %s is not supported in policies", tag)
			return nil
		}
		arr := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			arr = append(arr, c.convert(item, pathIndex(path, i), depth+1))
		}
		return arr
	case yaml.ScalarNode:
		return c.scalar(n, path)
	}
	c.fail(path, n.Line, codeYAMLUnsupported, "Unsupported YAML node")
	return nil
}

// scalar resolves a scalar by its YAML 1.2 core tag. Timestamps stay strings: expires is
// validated as text, and a time.Time has no JSON Schema type.
func (c *converter) scalar(n *yaml.Node, path string) any {
	switch tag := n.ShortTag(); tag {
	case "!!str", "!!timestamp":
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			c.t.blockStart[path] = n.Line + 1
		}
		return n.Value
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			c.fail(path, n.Line, codeFieldType, "Invalid boolean '%s'", n.Value)
		}
		return b
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			c.fail(path, n.Line, codeFieldType, "Integer '%s' is out of range", n.Value)
			return nil
		}
		return i
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			c.fail(path, n.Line, codeFieldType, "'%s' is not a finite number", n.Value)
			return nil
		}
		return f
	default:
		c.fail(path, n.Line, codeYAMLUnsupported, "YAML tag %s is not supported in policies", tag)
		return nil
	}
}
