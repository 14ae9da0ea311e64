package attest

import (
	"fmt"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	ita "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// New builds a statement of a known predicate type from the predicate's JSON (an object) and
// at least one subject, and validates it as Parse would. Builders apply no size limits: the
// caller's inputs are trusted, and Parse's Config must allow what the caller builds.
func New(predicateType string, predicate []byte, subjects ...Subject) (*Statement, error) {
	pred := &structpb.Struct{}
	if err := protojson.Unmarshal(predicate, pred); err != nil {
		return nil, fmt.Errorf("%s statement: %w: predicate is not a JSON object: %w", predicateType, ErrInvalid, err)
	}
	return build(predicateType, pred, subjects)
}

// SBOM builds a statement whose predicate is an SBOM in JSON: CycloneDX (predicate type
// PredicateCycloneDX) or SPDX 2.x (PredicateSPDX), told apart by the document's own
// bomFormat / spdxVersion member. Subjects are the artifacts it describes, typically one image
// name with its sha256 digest (see NewSubject).
func SBOM(sbom []byte, subjects ...Subject) (*Statement, error) {
	pred := &structpb.Struct{}
	if err := protojson.Unmarshal(sbom, pred); err != nil {
		return nil, fmt.Errorf("sbom statement: %w: the SBOM is not a JSON object (XML and tag-value are not attestable): %w", ErrInvalid, err)
	}
	var pt string
	switch f := pred.GetFields(); {
	case f["bomFormat"] != nil:
		pt = PredicateCycloneDX
	case f["spdxVersion"] != nil:
		pt = PredicateSPDX
	default:
		return nil, fmt.Errorf("sbom statement: %w: neither CycloneDX (bomFormat) nor SPDX (spdxVersion)", ErrInvalid)
	}
	return build(pt, pred, subjects)
}

// ScanResult builds a statement of type PredicateScanResult whose predicate is a scan's
// findings summary document (a JSON object, as the scanner's JSON report writes it).
func ScanResult(summary []byte, subjects ...Subject) (*Statement, error) {
	return New(PredicateScanResult, summary, subjects...)
}

// Provenance builds a SLSA v1.0 provenance statement (PredicateSLSAProvenance) from the
// in-toto provenance type. Its JSON form is accepted by New as well.
func Provenance(p *slsa.Provenance, subjects ...Subject) (*Statement, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("provenance statement: %w: %w", ErrInvalid, err)
	}
	b, err := protojson.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("provenance statement: %w: %w", ErrInvalid, err)
	}
	return New(PredicateSLSAProvenance, b, subjects...)
}

func build(predicateType string, pred *structpb.Struct, subjects []Subject) (*Statement, error) {
	st := &ita.Statement{Type: StatementType, PredicateType: predicateType, Predicate: pred}
	for _, s := range subjects {
		st.Subject = append(st.Subject, s.descriptor())
	}
	// Builders limit nothing but what validation needs: the caller's subjects are all allowed.
	s, err := finish(st, Config{MaxSubjects: max(len(subjects), 1)})
	if err != nil {
		return nil, fmt.Errorf("%s statement: %w", predicateType, err)
	}
	return s, nil
}
