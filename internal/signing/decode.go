package signing

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"unicode/utf8"
)

// Limits bound what the decoder accepts. Envelopes arrive from registries and HTTP clients, so
// every dimension is capped before anything is allocated for it.
type Limits struct {
	// MaxEnvelopeBytes caps the encoded envelope (default 16 MiB: a 12 MiB report).
	MaxEnvelopeBytes int
	// MaxSignatures caps the signatures of one envelope (default 16).
	MaxSignatures int
	// MaxPayloadTypeBytes caps the payload type (default 256).
	MaxPayloadTypeBytes int
	// MaxKeyIDBytes caps each keyId and algorithm name (default 256).
	MaxKeyIDBytes int
	// MaxSignatureBytes caps each decoded signature (default 16 KiB, room for post-quantum sizes).
	MaxSignatureBytes int
}

// DefaultLimits returns the limits Decode uses.
func DefaultLimits() Limits {
	return Limits{
		MaxEnvelopeBytes:    16 << 20,
		MaxSignatures:       16,
		MaxPayloadTypeBytes: 256,
		MaxKeyIDBytes:       256,
		MaxSignatureBytes:   16 << 10,
	}
}

// withDefaults fills zero fields, so Limits{MaxSignatures: 2} changes only that limit.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxEnvelopeBytes <= 0 {
		l.MaxEnvelopeBytes = d.MaxEnvelopeBytes
	}
	if l.MaxSignatures <= 0 {
		l.MaxSignatures = d.MaxSignatures
	}
	if l.MaxPayloadTypeBytes <= 0 {
		l.MaxPayloadTypeBytes = d.MaxPayloadTypeBytes
	}
	if l.MaxKeyIDBytes <= 0 {
		l.MaxKeyIDBytes = d.MaxKeyIDBytes
	}
	if l.MaxSignatureBytes <= 0 {
		l.MaxSignatureBytes = d.MaxSignatureBytes
	}
	return l
}

// Decode parses an envelope with DefaultLimits.
func Decode(data []byte) (*Envelope, error) { return DecodeWithLimits(data, DefaultLimits()) }

// DecodeWithLimits parses an envelope. It accepts the spec's keyId/algorithm/signature and the
// standard keyid/sig member names, ignores unknown members, and rejects:
//   - input over the size limit, not UTF-8, not a single JSON object, or with trailing data;
//   - a member given twice, or both spellings of one signature member;
//   - missing payloadType, payload or signatures, no signatures, or more than the limit;
//   - base64 that is not canonical standard base64 with padding (no URL-safe alphabet, no line
//     breaks, zero pad bits), so every change to an encoded byte changes the decoded bytes.
//
// Errors wrap ErrMalformedEnvelope, and ErrEnvelopeTooLarge, ErrTooManySignatures or
// ErrNoSignatures where those apply.
func DecodeWithLimits(data []byte, lim Limits) (*Envelope, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxEnvelopeBytes {
		return nil, fmt.Errorf("%w: %w: %d bytes, limit %d", ErrMalformedEnvelope, ErrEnvelopeTooLarge, len(data), lim.MaxEnvelopeBytes)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrMalformedEnvelope)
	}
	p := parser{in: data, lim: lim}
	pt, payload, sigs, err := p.envelope()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedEnvelope, err)
	}
	return lim.build(pt, payload, sigs)
}

// ReadEnvelope reads at most lim.MaxEnvelopeBytes (+1, to detect excess) from r and decodes it,
// so a hostile stream cannot make the caller buffer more than the limit.
func ReadEnvelope(r io.Reader, lim Limits) (*Envelope, error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, int64(lim.MaxEnvelopeBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("reading envelope: %w", err)
	}
	return DecodeWithLimits(data, lim)
}

// wireSignature is one signature as parsed: strings still base64, presence tracked.
type wireSignature struct {
	keyID, alg string
	sig        []byte
	hasSig     bool
}

// build checks the parsed strings against the limits and decodes the base64 members.
func (l Limits) build(payloadType string, payload []byte, sigs []wireSignature) (*Envelope, error) {
	if len(payloadType) > l.MaxPayloadTypeBytes {
		return nil, fmt.Errorf("%w: %w: payloadType is %d bytes, limit %d", ErrMalformedEnvelope, ErrEnvelopeTooLarge, len(payloadType), l.MaxPayloadTypeBytes)
	}
	if !utf8.ValidString(payloadType) {
		return nil, fmt.Errorf("%w: payloadType is not UTF-8", ErrMalformedEnvelope)
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("%w: %w", ErrMalformedEnvelope, ErrNoSignatures)
	}
	if len(sigs) > l.MaxSignatures {
		return nil, fmt.Errorf("%w: %w: %d, limit %d", ErrMalformedEnvelope, ErrTooManySignatures, len(sigs), l.MaxSignatures)
	}
	body, err := decodeStdBase64(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMalformedEnvelope, err)
	}
	e := &Envelope{PayloadType: payloadType, Payload: body, Signatures: make([]Signature, len(sigs))}
	for i, s := range sigs {
		if len(s.keyID) > l.MaxKeyIDBytes || len(s.alg) > l.MaxKeyIDBytes {
			return nil, fmt.Errorf("%w: %w: signatures[%d]: keyId or algorithm over %d bytes", ErrMalformedEnvelope, ErrEnvelopeTooLarge, i, l.MaxKeyIDBytes)
		}
		if !utf8.ValidString(s.keyID) || !utf8.ValidString(s.alg) {
			return nil, fmt.Errorf("%w: signatures[%d]: keyId or algorithm is not UTF-8", ErrMalformedEnvelope, i)
		}
		if base64.StdEncoding.DecodedLen(len(s.sig)) > l.MaxSignatureBytes+2 {
			return nil, fmt.Errorf("%w: %w: signatures[%d]: signature over %d bytes", ErrMalformedEnvelope, ErrEnvelopeTooLarge, i, l.MaxSignatureBytes)
		}
		raw, err := decodeStdBase64(s.sig)
		if err != nil {
			return nil, fmt.Errorf("%w: signatures[%d].signature: %w", ErrMalformedEnvelope, i, err)
		}
		if len(raw) > l.MaxSignatureBytes {
			return nil, fmt.Errorf("%w: %w: signatures[%d]: signature over %d bytes", ErrMalformedEnvelope, ErrEnvelopeTooLarge, i, l.MaxSignatureBytes)
		}
		e.Signatures[i] = Signature{KeyID: s.keyID, Algorithm: Algorithm(s.alg), Sig: raw}
	}
	return e, nil
}

var strictStd = base64.StdEncoding.Strict()

// decodeStdBase64 accepts only canonical, padded standard base64. The standard library decoder
// skips '\r' and '\n', and DSSE also allows the URL-safe alphabet; both would let two different
// envelopes carry the same signed bytes, so both are refused with a message saying why.
func decodeStdBase64(s []byte) ([]byte, error) {
	// IndexByte per character rather than IndexAny: it is vectorised, and payloads are large.
	if i := firstOf(s, '\r', '\n'); i >= 0 {
		return nil, fmt.Errorf("base64 contains a line break at offset %d", i)
	}
	if i := firstOf(s, '-', '_'); i >= 0 {
		return nil, fmt.Errorf("base64 uses the URL-safe alphabet at offset %d; only standard base64 is accepted", i)
	}
	out := make([]byte, strictStd.DecodedLen(len(s)))
	n, err := strictStd.Decode(out, s)
	if err != nil {
		return nil, fmt.Errorf("invalid standard base64: %w", err)
	}
	return out[:n], nil
}

// firstOf returns the first index of a or b in s, or -1.
func firstOf(s []byte, a, b byte) int {
	i, j := bytes.IndexByte(s, a), bytes.IndexByte(s, b)
	if i < 0 || (j >= 0 && j < i) {
		return j
	}
	return i
}
