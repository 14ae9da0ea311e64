// Package attest owns StellaOps' in-toto attestation statements (Statement v1): it builds them
// for SBOMs (CycloneDX, SPDX), scan results and SLSA v1.0 build provenance, serialises them as
// canonical JSON (RFC 8785) so the same inputs always give the same bytes, and parses and
// validates statements received from elsewhere.
//
// A statement's canonical bytes are the DSSE payload, with payload type [PayloadType]. This
// package does not sign, verify signatures or wrap envelopes (internal/signing does), and it
// does not log anything (internal/tlog does).
//
// Predicates are held as google.protobuf.Struct, as the in-toto Go types define them: JSON
// numbers become IEEE doubles, which is also what RFC 8785 canonical JSON assumes, so integers
// beyond 2^53 inside a predicate do not survive exactly.
package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	ita "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/stellaops/stellaops/internal/canonjson"
)

// Statement and payload types.
const (
	// StatementType is the only statement type this package builds or accepts.
	StatementType = "https://in-toto.io/Statement/v1"
	// PayloadType is the DSSE payload type of a statement.
	PayloadType = "application/vnd.in-toto+json"
)

// Predicate types this package knows; Parse refuses any other.
const (
	PredicateCycloneDX      = "https://cyclonedx.org/bom"
	PredicateSPDX           = "https://spdx.dev/Document"
	PredicateScanResult     = "https://stellaops.org/attestations/scan-result/v1"
	PredicateSLSAProvenance = "https://slsa.dev/provenance/v1"
	// PredicateOfflineKit: the subject is an Offline Update Kit bundle; the predicate names
	// its bundleId and the sha256 of its manifest.
	PredicateOfflineKit = "https://stellaops.org/attestations/offline-kit/v1"
)

// ErrInvalid is wrapped by every error about a statement's form or content.
var ErrInvalid = errors.New("invalid in-toto statement")

// Statement is a validated in-toto Statement v1 with its canonical bytes. It is immutable and
// safe for concurrent use.
type Statement struct {
	st    *ita.Statement
	canon []byte
}

// Bytes returns the statement's canonical JSON: the DSSE payload to sign.
func (s *Statement) Bytes() []byte { return slices.Clone(s.canon) }

// Digest returns "sha256:<hex>" of Bytes().
func (s *Statement) Digest() string {
	sum := sha256.Sum256(s.canon)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// PredicateType returns the statement's predicate type.
func (s *Statement) PredicateType() string { return s.st.GetPredicateType() }

// Subjects returns the statement's subjects in statement order.
func (s *Statement) Subjects() []Subject {
	out := make([]Subject, 0, len(s.st.GetSubject()))
	for _, rd := range s.st.GetSubject() {
		d := make(map[string]string, len(rd.GetDigest()))
		for k, v := range rd.GetDigest() {
			d[k] = v
		}
		out = append(out, Subject{Name: rd.GetName(), Digest: d})
	}
	return out
}

// Covers reports whether a subject of the statement has digest ("sha256:<hex>" and the like).
func (s *Statement) Covers(digest string) bool {
	alg, hx, ok := strings.Cut(digest, ":")
	if !ok {
		return false
	}
	for _, rd := range s.st.GetSubject() {
		if v, ok := rd.GetDigest()[alg]; ok && v == hx {
			return true
		}
	}
	return false
}

// Predicate returns the predicate's canonical JSON.
func (s *Statement) Predicate() ([]byte, error) {
	b, err := canonicalProto(s.st.GetPredicate())
	if err != nil {
		return nil, fmt.Errorf("predicate: %w", err)
	}
	return b, nil
}

// Proto returns a copy of the statement as the in-toto Go type.
func (s *Statement) Proto() *ita.Statement { return proto.Clone(s.st).(*ita.Statement) }

// canonicalProto serialises m as canonical JSON. protojson's output is deliberately unstable
// (it varies whitespace between runs); the RFC 8785 transform removes that.
func canonicalProto(m proto.Message) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return canonjson.Transform(b)
}

// finish validates st and computes its canonical bytes.
func finish(st *ita.Statement, cfg Config) (*Statement, error) {
	if err := validate(st, cfg); err != nil {
		return nil, err
	}
	canon, err := canonicalProto(st)
	if err != nil {
		return nil, err
	}
	return &Statement{st: st, canon: canon}, nil
}
