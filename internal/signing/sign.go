package signing

import (
	"context"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/stellaops/stellaops/internal/canonjson"
)

// Payload types this package knows the subject field of (see VerifyReferrers).
const (
	// PayloadTypeReport is the §2.7 scanner report.
	PayloadTypeReport = "application/vnd.stellaops.report+json"
	// PayloadTypeInToto is an in-toto statement (attestations, SBOM and provenance).
	PayloadTypeInToto = "application/vnd.in-toto+json"
)

// Sign returns an envelope over payload, with one signature per signer in the order given.
// A JSON payload type (application/json or any +json type) has its payload canonicalised with
// RFC 8785 first, so equal content in any key order or spacing signs to the same bytes; a
// payload of such a type that is not JSON is an error. Other types are signed as given.
//
// The signatures are over go-securesystemslib's dsse.PAE. Its EnvelopeSigner is not used: it
// base64-encodes the payload into its own keyid/sig envelope, which for a large report costs
// a pass we would only undo, and it has nowhere to record the algorithm.
func Sign(ctx context.Context, payloadType string, payload []byte, signers ...Signer) (*Envelope, error) {
	if len(signers) == 0 {
		return nil, fmt.Errorf("signing: %w", ErrNoActiveKey)
	}
	if payloadType == "" || !utf8.ValidString(payloadType) {
		return nil, fmt.Errorf("signing: payload type must be non-empty UTF-8")
	}
	body := payload
	if IsJSONType(payloadType) {
		var err error
		if body, err = canonjson.Transform(payload); err != nil {
			return nil, fmt.Errorf("signing %s payload: %w", payloadType, err)
		}
	}
	e := &Envelope{PayloadType: payloadType, Payload: body, Signatures: make([]Signature, 0, len(signers))}
	pae := dsse.PAE(payloadType, body)
	for _, s := range signers {
		if s == nil {
			return nil, fmt.Errorf("signing: %w: nil signer", ErrInvalidKey)
		}
		sig, err := s.Sign(ctx, pae)
		if err != nil {
			return nil, fmt.Errorf("signing with %q: %w", s.KeyID(), err)
		}
		e.Signatures = append(e.Signatures, Signature{KeyID: s.KeyID(), Algorithm: s.Algorithm(), Sig: sig})
	}
	return e, nil
}

// IsJSONType reports whether a payload type is JSON and so canonicalised before signing:
// application/json or a structured-syntax +json type (RFC 6839), parameters ignored.
func IsJSONType(payloadType string) bool {
	mt, _, err := mime.ParseMediaType(payloadType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// dsseSigner adapts a Signer to go-securesystemslib's dsse.Signer.
type dsseSigner struct{ s Signer }

func (d dsseSigner) Sign(ctx context.Context, data []byte) ([]byte, error) {
	return d.s.Sign(ctx, data)
}
func (d dsseSigner) KeyID() (string, error) { return d.s.KeyID(), nil }

// DSSESigner adapts a Signer to go-securesystemslib's dsse.Signer, for code that builds
// envelopes with dsse.EnvelopeSigner (note that it does not canonicalise JSON payloads).
func DSSESigner(s Signer) dsse.Signer { return dsseSigner{s} }
