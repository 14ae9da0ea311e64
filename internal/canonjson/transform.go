package canonjson

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 512

// errSyntax is wrapped by every parse error.
var errSyntax = errors.New("invalid JSON")

// transform is the RFC 8785 transform written as one pass over the input into one output
// buffer. gowebpki/jcs (the reference we test against, and whose ES6 number formatter we use)
// builds a tree of its own for every value and was a quarter of the CPU time of a Concelier
// merge; this does the same in a fraction of the allocations. Differential fuzzing against
// gowebpki/jcs (FuzzTransform) holds the two to the same output.
func transform(in []byte) ([]byte, error) {
	t := &transformer{in: in, out: make([]byte, 0, len(in))}
	t.skipSpace()
	if err := t.value(0); err != nil {
		return nil, err
	}
	t.skipSpace()
	if t.pos != len(t.in) {
		return nil, t.errorf("trailing data")
	}
	return t.out, nil
}

type transformer struct {
	in  []byte
	pos int
	out []byte
	// scratch holds one object's members while they are sorted; reused by depth.
	scratch [][]member
}

// member is one object member already rendered at out[start:end]; key is its decoded name.
type member struct {
	key        []byte
	start, end int
}

func (t *transformer) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", errSyntax, t.pos, fmt.Sprintf(format, args...))
}

func (t *transformer) skipSpace() {
	for t.pos < len(t.in) {
		switch t.in[t.pos] {
		case ' ', '\t', '\n', '\r':
			t.pos++
		default:
			return
		}
	}
}

func (t *transformer) value(depth int) error {
	if t.pos >= len(t.in) {
		return t.errorf("unexpected end")
	}
	switch c := t.in[t.pos]; {
	case c == '{':
		return t.object(depth + 1)
	case c == '[':
		return t.array(depth + 1)
	case c == '"':
		s, err := t.str()
		if err != nil {
			return err
		}
		t.out = appendString(t.out, s)
		return nil
	case c == '-' || c >= '0' && c <= '9':
		return t.number()
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(t.in[t.pos:], []byte(lit)) {
				t.pos += len(lit)
				t.out = append(t.out, lit...)
				return nil
			}
		}
		return t.errorf("unexpected %q", c)
	}
}

func (t *transformer) object(depth int) error {
	if depth > maxDepth {
		return t.errorf("nested deeper than %d", maxDepth)
	}
	t.pos++ // {
	for len(t.scratch) <= depth {
		t.scratch = append(t.scratch, nil)
	}
	members := t.scratch[depth][:0]
	base := len(t.out)
	t.out = append(t.out, '{')
	t.skipSpace()
	if t.pos < len(t.in) && t.in[t.pos] == '}' {
		t.pos++
		t.out = append(t.out, '}')
		return nil
	}
	for {
		t.skipSpace()
		if t.pos >= len(t.in) || t.in[t.pos] != '"' {
			return t.errorf("want a member name")
		}
		key, err := t.str()
		if err != nil {
			return err
		}
		t.skipSpace()
		if t.pos >= len(t.in) || t.in[t.pos] != ':' {
			return t.errorf("want ':'")
		}
		t.pos++
		t.skipSpace()
		if len(members) > 0 {
			t.out = append(t.out, ',')
		}
		start := len(t.out)
		t.out = appendString(t.out, key)
		t.out = append(t.out, ':')
		if err := t.value(depth); err != nil {
			return err
		}
		members = append(members, member{key: key, start: start, end: len(t.out)})
		t.skipSpace()
		if t.pos >= len(t.in) {
			return t.errorf("unexpected end in object")
		}
		if t.in[t.pos] == ',' {
			t.pos++
			continue
		}
		if t.in[t.pos] != '}' {
			return t.errorf("want ',' or '}'")
		}
		t.pos++
		break
	}
	t.scratch[depth] = members
	sorted := true // strictly increasing, so also free of duplicates
	for i := 1; i < len(members) && sorted; i++ {
		sorted = compareMembers(members[i-1], members[i]) < 0
	}
	if !sorted {
		// Rendered in input order: put the members in canonical order.
		rendered := slices.Clone(t.out[base:])
		slices.SortFunc(members, compareMembers)
		for i := 1; i < len(members); i++ {
			if compareMembers(members[i-1], members[i]) == 0 {
				return t.errorf("duplicate member name %q (RFC 8785 takes I-JSON)", members[i].key)
			}
		}
		t.out = t.out[:base+1]
		for i, m := range members {
			if i > 0 {
				t.out = append(t.out, ',')
			}
			t.out = append(t.out, rendered[m.start-base:m.end-base]...)
		}
	}
	t.out = append(t.out, '}')
	return nil
}

// compareMembers orders names by their UTF-16 code units, as RFC 8785 §3.2.3 requires. UTF-8
// byte order is code point order, which differs from UTF-16 order only when one side has a
// character at or above U+E000 (lead byte 0xEE or more): only then are the names converted.
func compareMembers(a, b member) int {
	if !hasHigh(a.key) && !hasHigh(b.key) {
		return bytes.Compare(a.key, b.key)
	}
	return slices.Compare(utf16.Encode([]rune(string(a.key))), utf16.Encode([]rune(string(b.key))))
}

func hasHigh(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xEE {
			return true
		}
	}
	return false
}

func (t *transformer) array(depth int) error {
	if depth > maxDepth {
		return t.errorf("nested deeper than %d", maxDepth)
	}
	t.pos++ // [
	t.out = append(t.out, '[')
	t.skipSpace()
	if t.pos < len(t.in) && t.in[t.pos] == ']' {
		t.pos++
		t.out = append(t.out, ']')
		return nil
	}
	for {
		t.skipSpace()
		if err := t.value(depth); err != nil {
			return err
		}
		t.skipSpace()
		if t.pos >= len(t.in) {
			return t.errorf("unexpected end in array")
		}
		if t.in[t.pos] == ',' {
			t.pos++
			t.out = append(t.out, ',')
			continue
		}
		if t.in[t.pos] != ']' {
			return t.errorf("want ',' or ']'")
		}
		t.pos++
		t.out = append(t.out, ']')
		return nil
	}
}

// str reads a JSON string at t.pos and returns its value. Escapes are decoded; a lone
// surrogate or invalid UTF-8 is an error (RFC 8785 §3.2.2.2: such data must be rejected).
func (t *transformer) str() ([]byte, error) {
	t.pos++ // opening quote
	start := t.pos
	// Fast path: no escapes and ASCII only; the value is a slice of the input.
	for t.pos < len(t.in) {
		c := t.in[t.pos]
		if c == '"' {
			s := t.in[start:t.pos:t.pos]
			t.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
		t.pos++
	}
	buf := append([]byte(nil), t.in[start:t.pos]...)
	for t.pos < len(t.in) {
		c := t.in[t.pos]
		switch {
		case c == '"':
			t.pos++
			return buf, nil
		case c < 0x20:
			return nil, t.errorf("control character in string")
		case c == '\\':
			if t.pos+1 >= len(t.in) {
				return nil, t.errorf("unexpected end in string")
			}
			e := t.in[t.pos+1]
			t.pos += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, err := t.hex4()
				if err != nil {
					return nil, err
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xDC00 || t.pos+1 >= len(t.in) || t.in[t.pos] != '\\' || t.in[t.pos+1] != 'u' {
						return nil, t.errorf("lone surrogate")
					}
					t.pos += 2
					r2, err := t.hex4()
					if err != nil {
						return nil, err
					}
					if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
						return nil, t.errorf("lone surrogate")
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return nil, t.errorf("bad escape \\%c", e)
			}
		case c < 0x80:
			buf = append(buf, c)
			t.pos++
		default:
			r, n := utf8.DecodeRune(t.in[t.pos:])
			if r == utf8.RuneError && n <= 1 {
				return nil, t.errorf("invalid UTF-8")
			}
			buf = append(buf, t.in[t.pos:t.pos+n]...)
			t.pos += n
		}
	}
	return nil, t.errorf("unterminated string")
}

func (t *transformer) hex4() (rune, error) {
	if t.pos+4 > len(t.in) {
		return 0, t.errorf("short \\u escape")
	}
	v, err := strconv.ParseUint(string(t.in[t.pos:t.pos+4]), 16, 32)
	if err != nil {
		return 0, t.errorf("bad \\u escape")
	}
	t.pos += 4
	return rune(v), nil
}

// appendString writes s as RFC 8785 §3.2.2.2 says: '"' and '\' escaped, the five control
// characters with short forms as \b \t \n \f \r, other controls as \u00xx, the rest as is.
func appendString(out []byte, s []byte) []byte {
	out = append(out, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		out = append(out, s[start:i]...)
		switch c {
		case '"', '\\':
			out = append(out, '\\', c)
		case '\b':
			out = append(out, '\\', 'b')
		case '\t':
			out = append(out, '\\', 't')
		case '\n':
			out = append(out, '\\', 'n')
		case '\f':
			out = append(out, '\\', 'f')
		case '\r':
			out = append(out, '\\', 'r')
		default:
			const hex = "0123456789abcdef"
			out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		start = i + 1
	}
	out = append(out, s[start:]...)
	return append(out, '"')
}

// number checks the JSON number grammar and writes the ES6 form of its IEEE 754 double.
// Integers of up to 15 digits are already in that form (bar "-0").
func (t *transformer) number() error {
	start := t.pos
	if t.in[t.pos] == '-' {
		t.pos++
	}
	digits := t.pos
	switch {
	case t.pos < len(t.in) && t.in[t.pos] == '0':
		t.pos++
	case t.pos < len(t.in) && t.in[t.pos] >= '1' && t.in[t.pos] <= '9':
		for t.pos < len(t.in) && t.in[t.pos] >= '0' && t.in[t.pos] <= '9' {
			t.pos++
		}
	default:
		return t.errorf("bad number")
	}
	integer := true
	if t.pos < len(t.in) && t.in[t.pos] == '.' {
		integer = false
		t.pos++
		d := t.pos
		for t.pos < len(t.in) && t.in[t.pos] >= '0' && t.in[t.pos] <= '9' {
			t.pos++
		}
		if t.pos == d {
			return t.errorf("bad number")
		}
	}
	if t.pos < len(t.in) && (t.in[t.pos] == 'e' || t.in[t.pos] == 'E') {
		integer = false
		t.pos++
		if t.pos < len(t.in) && (t.in[t.pos] == '+' || t.in[t.pos] == '-') {
			t.pos++
		}
		d := t.pos
		for t.pos < len(t.in) && t.in[t.pos] >= '0' && t.in[t.pos] <= '9' {
			t.pos++
		}
		if t.pos == d {
			return t.errorf("bad number")
		}
	}
	lit := t.in[start:t.pos]
	if integer && t.pos-digits <= 15 {
		if string(lit) == "-0" {
			lit = lit[1:]
		}
		t.out = append(t.out, lit...)
		return nil
	}
	if !integer && esDecimal(t.in[digits:t.pos]) {
		t.out = append(t.out, lit...)
		return nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return t.errorf("number %s: %v", lit, err)
	}
	s, err := jcs.NumberToJSON(f)
	if err != nil {
		return t.errorf("number %s: %v", lit, err)
	}
	t.out = append(t.out, s...)
	return nil
}

// esDecimal reports whether a plain decimal literal (sign removed, no exponent) is already the
// ECMAScript form of its value, so the parse and format round trip can be skipped: at most 15
// significant digits (DBL_DIG: such a decimal is the only one of that length naming its double,
// hence also the shortest), no trailing zero in the fraction, no leading zero before other
// integer digits, and a magnitude of at least 1e-6 (below it ECMAScript writes an exponent).
func esDecimal(d []byte) bool {
	dot := bytes.IndexByte(d, '.')
	if dot < 0 || dot == len(d)-1 || d[len(d)-1] == '0' || bytes.ContainsAny(d, "eE") {
		return false
	}
	intPart, frac := d[:dot], d[dot+1:]
	sig := 0
	if len(intPart) == 1 && intPart[0] == '0' {
		zeros := 0
		for zeros < len(frac) && frac[zeros] == '0' {
			zeros++
		}
		if zeros > 5 { // below 1e-6
			return false
		}
		sig = len(frac) - zeros
	} else {
		if intPart[0] == '0' {
			return false
		}
		sig = len(intPart) + len(frac)
	}
	return sig <= 15
}
