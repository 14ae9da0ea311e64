package sbom

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Attestation describes the in-toto wrapping an SBOM arrived in. Signatures are not verified
// here; the envelope is only opened.
type Attestation struct {
	// Envelope is true when the statement came in a DSSE envelope.
	Envelope bool `json:"envelope,omitempty"`
	// PayloadType is the DSSE payload type (application/vnd.in-toto+json).
	PayloadType string `json:"payloadType,omitempty"`
	// Signatures is the number of signatures the envelope carries (none checked).
	Signatures int `json:"signatures,omitempty"`
	// StatementType is the statement's _type (https://in-toto.io/Statement/v0.1 or v1).
	StatementType string `json:"statementType"`
	// PredicateType is the statement's predicateType (https://cyclonedx.org/bom, https://spdx.dev/Document, …).
	PredicateType string `json:"predicateType"`
	// Subjects are the artifacts the statement is about.
	Subjects []Subject `json:"subjects,omitempty"`
}

// Subject is one artifact an in-toto statement is about.
type Subject struct {
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest,omitempty"`
}

const (
	inTotoPayloadType   = "application/vnd.in-toto+json"
	inTotoStatementBase = "https://in-toto.io/Statement/"
)

// isStatement reports whether a top-level _type names an in-toto statement.
func isStatement(t string) bool { return strings.HasPrefix(t, inTotoStatementBase) }

// openEnvelope decodes a DSSE envelope and returns its payload.
func openEnvelope(data []byte) ([]byte, *Attestation, error) {
	var env struct {
		PayloadType string            `json:"payloadType"`
		Payload     string            `json:"payload"`
		Signatures  []json.RawMessage `json:"signatures"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, nil, jsonError("", data, err)
	}
	if env.PayloadType != inTotoPayloadType {
		return nil, nil, &Error{Where: "/payloadType", Err: fmt.Errorf("%w: DSSE envelope with payload type %q is not an in-toto attestation", ErrUnrecognised, env.PayloadType)}
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		payload, err = base64.URLEncoding.DecodeString(env.Payload)
	}
	if err != nil {
		return nil, nil, &Error{Where: "/payload", Err: fmt.Errorf("DSSE payload is not base64: %w", err)}
	}
	return payload, &Attestation{Envelope: true, PayloadType: env.PayloadType, Signatures: len(env.Signatures)}, nil
}

// openStatement decodes an in-toto statement and returns its predicate, the SBOM.
func openStatement(data []byte, att *Attestation) ([]byte, *Attestation, error) {
	var st struct {
		Type          string          `json:"_type"`
		PredicateType string          `json:"predicateType"`
		Subject       []Subject       `json:"subject"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, nil, jsonError("", data, err)
	}
	if att == nil {
		att = &Attestation{}
	}
	att.StatementType, att.PredicateType, att.Subjects = st.Type, st.PredicateType, st.Subject
	pred := bytes.TrimSpace(st.Predicate)
	if len(pred) == 0 || bytes.Equal(pred, []byte("null")) {
		return nil, nil, &Error{Where: "/predicate", Err: errors.New("in-toto statement has no predicate")}
	}
	// cosign's generic predicate wraps the document as {"Data": <document or string>, …}.
	var wrapped struct {
		Data json.RawMessage `json:"Data"`
	}
	if pred[0] == '{' && json.Unmarshal(pred, &wrapped) == nil && len(wrapped.Data) > 0 {
		pred = bytes.TrimSpace(wrapped.Data)
		var s string
		if len(pred) > 0 && pred[0] == '"' && json.Unmarshal(pred, &s) == nil {
			pred = bytes.TrimSpace([]byte(s))
		}
	}
	if len(pred) == 0 {
		return nil, nil, &Error{Where: "/predicate", Err: errors.New("in-toto statement has an empty predicate")}
	}
	return pred, att, nil
}
