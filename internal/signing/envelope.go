package signing

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Envelope is a DSSE envelope with its payload and signatures decoded. Its JSON form (Encode,
// MarshalJSON) is the spec's §2.7 shape; Decode and UnmarshalJSON also read standard DSSE.
type Envelope struct {
	// PayloadType is the media type the payload is signed as (it is part of the PAE).
	PayloadType string
	// Payload is the signed body: canonical JSON for the JSON types this package signs.
	Payload []byte
	// Signatures holds one entry per signature, in envelope order.
	Signatures []Signature
}

// Signature is one signature of an envelope.
type Signature struct {
	// KeyID is the unauthenticated hint naming the key ("" when the envelope gave none).
	KeyID string
	// Algorithm is as written in the envelope; "" when it came from a standard DSSE envelope,
	// and possibly a name this package does not know.
	Algorithm Algorithm
	// Sig is the raw signature: a 32-byte MAC, a 64-byte Ed25519 signature or ECDSA DER.
	Sig []byte
}

// PAE returns the bytes the envelope's signatures are over: DSSE's pre-authentication encoding
// of payload type and payload, as go-securesystemslib computes it.
func (e *Envelope) PAE() []byte { return dsse.PAE(e.PayloadType, e.Payload) }

// Encode returns the envelope's JSON in the spec's shape, fields in the spec's order:
//
//	{"payloadType":…,"payload":"<base64>","signatures":[{"keyId":…,"algorithm":…,"signature":"<base64>"}]}
//
// Base64 is standard with padding; keyId and algorithm are left out when empty. The output is a
// function of the envelope alone, so equal envelopes encode to equal bytes.
func (e *Envelope) Encode() ([]byte, error) {
	size := 64 + len(e.PayloadType) + base64.StdEncoding.EncodedLen(len(e.Payload))
	for _, s := range e.Signatures {
		size += 64 + len(s.KeyID) + len(s.Algorithm) + base64.StdEncoding.EncodedLen(len(s.Sig))
	}
	b := make([]byte, 0, size)
	b = append(b, `{"payloadType":`...)
	b = appendString(b, e.PayloadType)
	b = append(b, `,"payload":"`...)
	b = base64.StdEncoding.AppendEncode(b, e.Payload)
	b = append(b, `","signatures":[`...)
	for i, s := range e.Signatures {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if s.KeyID != "" {
			b = append(b, `"keyId":`...)
			b = appendString(b, s.KeyID)
			b = append(b, ',')
		}
		if s.Algorithm != "" {
			b = append(b, `"algorithm":`...)
			b = appendString(b, string(s.Algorithm))
			b = append(b, ',')
		}
		b = append(b, `"signature":"`...)
		b = base64.StdEncoding.AppendEncode(b, s.Sig)
		b = append(b, `"}`...)
	}
	b = append(b, "]}"...)
	return b, nil
}

// appendString appends s as a JSON string without HTML escaping (the envelope is not HTML, and
// "<" in a payload type should read as "<").
func appendString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// MarshalJSON implements json.Marshaler with Encode, so an Envelope embedded in an API response
// (the §2.7 "dsse" member) takes the spec's shape.
func (e Envelope) MarshalJSON() ([]byte, error) { return e.Encode() }

// UnmarshalJSON implements json.Unmarshaler with Decode and the default limits.
func (e *Envelope) UnmarshalJSON(data []byte) error {
	d, err := Decode(data)
	if err != nil {
		return err
	}
	*e = *d
	return nil
}

// DSSE converts to go-securesystemslib's envelope, the standard keyid/sig shape that cosign
// and in-toto tooling read. The algorithm is dropped: standard DSSE has no field for it.
func (e *Envelope) DSSE() *dsse.Envelope {
	d := &dsse.Envelope{
		PayloadType: e.PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(e.Payload),
		Signatures:  make([]dsse.Signature, len(e.Signatures)),
	}
	for i, s := range e.Signatures {
		d.Signatures[i] = dsse.Signature{KeyID: s.KeyID, Sig: base64.StdEncoding.EncodeToString(s.Sig)}
	}
	return d
}

// FromDSSE converts a go-securesystemslib envelope, applying the same strict base64 and limits
// as Decode.
func FromDSSE(d *dsse.Envelope) (*Envelope, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil envelope", ErrMalformedEnvelope)
	}
	sigs := make([]wireSignature, len(d.Signatures))
	for i, s := range d.Signatures {
		sigs[i] = wireSignature{keyID: s.KeyID, sig: []byte(s.Sig)}
	}
	return DefaultLimits().build(d.PayloadType, []byte(d.Payload), sigs)
}
