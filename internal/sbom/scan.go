package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// head is what one cheap pass over a JSON document tells: the top-level keys of interest, with
// their values when they are strings or numbers. It tolerates truncated documents, so that a
// truncated CycloneDX file is still recognised and its decoder can report where it breaks.
type head struct {
	values  map[string]string // top-level scalar values (strings unquoted)
	present map[string]bool   // top-level keys seen, whatever their value
}

// isHeadKey reports whether detection looks at a top-level key.
func isHeadKey(k string) bool {
	switch k {
	case "bomFormat", "specVersion", "spdxVersion", "SPDXID", "SchemaVersion", "ArtifactName",
		"Results", "_type", "predicateType", "predicate", "payloadType", "payload", "components",
		"packages", "metadata", "creationInfo":
		return true
	}
	return false
}

// scanJSON walks data once, without allocating per value, checking that nesting stays within
// maxDepth and collecting the top-level keys isHeadKey names. It does not validate the JSON
// grammar beyond what it needs; the decoders' parsers do that and report syntax errors.
func scanJSON(data []byte, maxDepth int) (head, error) {
	h := head{values: map[string]string{}, present: map[string]bool{}}
	depth := 0
	// At depth 1 inside an object, the next string is a key when expectKey is set.
	expectKey := false
	var key string
	inObject := make([]bool, 0, 16) // per open container: object (true) or array
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{', '[':
			depth++
			if maxDepth > 0 && depth > maxDepth {
				return h, &Error{Where: fmt.Sprintf("byte %d", i), Err: fmt.Errorf("%w: more than %d levels of JSON nesting", ErrTooDeep, maxDepth)}
			}
			if depth == 2 && key != "" {
				h.present[key] = true
				key = ""
			}
			inObject = append(inObject, c == '{')
			expectKey = c == '{' && depth == 1
		case '}', ']':
			if depth == 0 {
				return h, nil // stray closer: leave it to the parser
			}
			depth--
			inObject = inObject[:len(inObject)-1]
			if depth == 0 {
				return h, nil
			}
		case ',':
			if depth == 1 && inObject[0] {
				expectKey = true
			}
		case '"':
			end := skipString(data, i)
			if depth == 1 && inObject[0] {
				s := unquote(data[i:end])
				if expectKey {
					expectKey = false
					key = ""
					if isHeadKey(s) {
						key = s
					}
				} else if key != "" {
					h.present[key] = true
					h.values[key] = s
					key = ""
				}
			}
			i = end - 1
		case ':', ' ', '\t', '\n', '\r':
		default:
			// A literal or number. Record it when it is the value of a wanted top-level key.
			end := i
			for end < len(data) && !isDelim(data[end]) {
				end++
			}
			if depth == 1 && key != "" {
				h.present[key] = true
				h.values[key] = string(data[i:end])
				key = ""
			}
			i = end - 1
		}
	}
	return h, nil
}

// skipString returns the index just past the string literal starting at data[i] == '"', or
// len(data) when it is not terminated.
func skipString(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data)
}

// unquote decodes a JSON string literal; a broken one gives its raw content.
func unquote(lit []byte) string {
	if bytes.IndexByte(lit, '\\') < 0 && len(lit) >= 2 && lit[len(lit)-1] == '"' {
		return string(lit[1 : len(lit)-1])
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return string(bytes.Trim(lit, `"`))
	}
	return s
}

// jsonError turns an encoding/json error into a located Error.
func jsonError(f Format, data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var located *Error
	switch {
	case errors.As(err, &located):
		return err
	case errors.As(err, &syn):
		return &Error{Format: f, Where: position(data, syn.Offset), Err: fmt.Errorf("JSON syntax: %w", err)}
	case errors.As(err, &typ):
		where := position(data, typ.Offset)
		if typ.Field != "" {
			where += " (" + typ.Field + ")"
		}
		return &Error{Format: f, Where: where, Err: fmt.Errorf("JSON value %s where %s was expected", typ.Value, typ.Type)}
	}
	return &Error{Format: f, Err: err}
}

// position renders a byte offset as "line L, column C (byte B)".
func position(data []byte, off int64) string {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Sprintf("line %d, column %d (byte %d)", line, col, off)
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}
