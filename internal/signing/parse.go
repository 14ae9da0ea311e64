package signing

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// parser is a strict single-pass reader for the envelope object. It is hand-written rather than
// encoding/json for two reasons: duplicate members, which encoding/json silently resolves to
// the last one, must be refused (two parsers reading different payloads from one envelope is
// how signature bypasses happen); and the payload member is most of a large envelope, which
// bytes.IndexByte crosses far faster than encoding/json's byte-at-a-time scanner (a 1 MiB
// report envelope decodes, base64 included, in about a fifth of the time).
type parser struct {
	in  []byte
	pos int
	lim Limits
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) envelope() (payloadType string, payload []byte, sigs []wireSignature, err error) {
	var havePT, havePayload, haveSigs bool
	err = p.object(func(key string) error {
		switch key {
		case "payloadType":
			if havePT {
				return p.errorf("duplicate member %q", key)
			}
			havePT = true
			s, err := p.str()
			payloadType = string(s)
			return err
		case "payload":
			if havePayload {
				return p.errorf("duplicate member %q", key)
			}
			havePayload = true
			payload, err = p.str()
			return err
		case "signatures":
			if haveSigs {
				return p.errorf("duplicate member %q", key)
			}
			haveSigs = true
			sigs, err = p.signatures()
			return err
		}
		return p.skip()
	})
	if err != nil {
		return "", nil, nil, err
	}
	p.space()
	if p.pos != len(p.in) {
		return "", nil, nil, p.errorf("trailing data after the envelope")
	}
	switch {
	case !havePT:
		return "", nil, nil, fmt.Errorf("missing payloadType")
	case !havePayload:
		return "", nil, nil, fmt.Errorf("missing payload")
	case !haveSigs:
		return "", nil, nil, fmt.Errorf("missing signatures")
	}
	return payloadType, payload, sigs, nil
}

func (p *parser) signatures() ([]wireSignature, error) {
	var sigs []wireSignature
	p.space()
	if !p.consume('[') {
		return nil, p.errorf("signatures must be an array")
	}
	p.space()
	if p.consume(']') {
		return sigs, nil
	}
	for {
		if len(sigs) == p.lim.MaxSignatures {
			return nil, fmt.Errorf("%w: more than %d", ErrTooManySignatures, p.lim.MaxSignatures)
		}
		s, err := p.signature(len(sigs))
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, s)
		p.space()
		if p.consume(']') {
			return sigs, nil
		}
		if !p.consume(',') {
			return nil, p.errorf("expected ',' or ']' in signatures")
		}
	}
}

func (p *parser) signature(i int) (wireSignature, error) {
	var s wireSignature
	var haveKeyID, haveAlg string
	err := p.object(func(key string) error {
		switch key {
		case "keyId", "keyid":
			if haveKeyID != "" {
				return p.errorf("signatures[%d]: %q after %q", i, key, haveKeyID)
			}
			haveKeyID = key
			v, err := p.str()
			s.keyID = string(v)
			return err
		case "algorithm":
			if haveAlg != "" {
				return p.errorf("signatures[%d]: duplicate member %q", i, key)
			}
			haveAlg = key
			v, err := p.str()
			s.alg = string(v)
			return err
		case "signature", "sig":
			if s.hasSig {
				return p.errorf("signatures[%d]: a second signature member %q", i, key)
			}
			s.hasSig = true
			var err error
			s.sig, err = p.str()
			return err
		}
		return p.skip()
	})
	if err != nil {
		return s, err
	}
	if !s.hasSig {
		return s, fmt.Errorf("signatures[%d]: missing signature", i)
	}
	return s, nil
}

// object reads '{' members '}' and calls member for each key with the parser at its value.
func (p *parser) object(member func(key string) error) error {
	p.space()
	if !p.consume('{') {
		return p.errorf("expected an object")
	}
	p.space()
	if p.consume('}') {
		return nil
	}
	for {
		p.space()
		key, err := p.str()
		if err != nil {
			return err
		}
		p.space()
		if !p.consume(':') {
			return p.errorf("expected ':'")
		}
		if err := member(string(key)); err != nil {
			return err
		}
		p.space()
		if p.consume('}') {
			return nil
		}
		if !p.consume(',') {
			return p.errorf("expected ',' or '}'")
		}
	}
}

// str reads a JSON string. The fast path (no escapes) returns a sub-slice of the input without
// copying; strings with escapes are unquoted by encoding/json, which validates them.
func (p *parser) str() ([]byte, error) {
	p.space()
	if !p.consume('"') {
		return nil, p.errorf("expected a string")
	}
	start := p.pos
	end := bytes.IndexByte(p.in[start:], '"')
	if end < 0 {
		return nil, p.errorf("unterminated string")
	}
	seg := p.in[start : start+end]
	if bytes.IndexByte(seg, '\\') < 0 {
		if hasControl(seg) {
			return nil, p.errorf("control character in string")
		}
		p.pos = start + end + 1
		return seg, nil
	}
	i := start
	for i < len(p.in) && p.in[i] != '"' {
		if p.in[i] == '\\' {
			i++
		}
		i++
	}
	if i >= len(p.in) {
		return nil, p.errorf("unterminated string")
	}
	var s string
	if err := json.Unmarshal(p.in[start-1:i+1], &s); err != nil {
		return nil, p.errorf("invalid string: %v", err)
	}
	p.pos = i + 1
	return []byte(s), nil
}

// skip passes over one value of an unknown member. It finds the value's extent by bracket
// matching (strings aware of escapes) without recursion, then has encoding/json validate it,
// so hostile nesting costs neither stack nor a second parser of our own.
func (p *parser) skip() error {
	p.space()
	start, depth := p.pos, 0
	for p.pos < len(p.in) {
		switch c := p.in[p.pos]; c {
		case '"':
			if _, err := p.str(); err != nil {
				return err
			}
			if depth == 0 {
				return p.validate(start)
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return p.validate(start)
			}
			depth--
			if depth == 0 {
				p.pos++
				return p.validate(start)
			}
		case ',':
			if depth == 0 {
				return p.validate(start)
			}
		case ' ', '\t', '\n', '\r':
			if depth == 0 {
				return p.validate(start)
			}
		}
		p.pos++
	}
	return p.validate(start)
}

func (p *parser) validate(start int) error {
	if start == p.pos || !json.Valid(p.in[start:p.pos]) {
		return fmt.Errorf("offset %d: invalid JSON value", start)
	}
	return nil
}

func (p *parser) space() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) consume(c byte) bool {
	if p.pos < len(p.in) && p.in[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// hasControl reports whether b holds a byte below 0x20, eight bytes at a time: a base64 payload
// of megabytes passes through here, and the word-wise test ("has less than" from Bit Twiddling
// Hacks) is exact for the existence question.
func hasControl(b []byte) bool {
	const ones, highs, n = 0x0101010101010101, 0x8080808080808080, 0x20
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		if (w-ones*n)&^w&highs != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < n {
			return true
		}
	}
	return false
}
