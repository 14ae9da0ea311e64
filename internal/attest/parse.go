package attest

import (
	"encoding/json"
	"fmt"
	"strings"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	ita "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Config bounds what Parse accepts. A field that is zero (or negative) takes its DefaultConfig
// value.
type Config struct {
	// MaxBytes bounds the statement's size.
	MaxBytes int
	// MaxSubjects bounds the number of subjects.
	MaxSubjects int
	// MaxDepth bounds the nesting of JSON objects and arrays (the statement itself is 1).
	MaxDepth int
}

// DefaultConfig returns the defaults: 32 MiB (the SBOM of a large image), 1,024 subjects
// (every platform of a multi-arch image and then some) and depth 128 (SBOMs nest components).
func DefaultConfig() Config {
	return Config{MaxBytes: 32 << 20, MaxSubjects: 1024, MaxDepth: 128}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBytes <= 0 {
		c.MaxBytes = d.MaxBytes
	}
	if c.MaxSubjects <= 0 {
		c.MaxSubjects = d.MaxSubjects
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = d.MaxDepth
	}
	return c
}

// ParsePayload parses a DSSE payload after checking that its payload type is PayloadType. It
// does not check the envelope's signatures: verify them first, then parse what they cover.
func ParsePayload(payloadType string, payload []byte, cfg Config) (*Statement, error) {
	if payloadType != PayloadType {
		return nil, fmt.Errorf("parse statement: %w: payload type %.100q, want %s", ErrInvalid, payloadType, PayloadType)
	}
	return Parse(payload, cfg)
}

// Parse parses and validates a statement: type Statement v1, 1 to MaxSubjects subjects with
// well-formed digests (see Subject), a known predicate type with a predicate that looks like
// one (CycloneDX bomFormat and specVersion, SPDX spdxVersion, a non-empty scan result, SLSA
// v1.0 buildDefinition and runDetails), within the size and depth limits. Members the in-toto
// and SLSA specifications do not define are ignored, as they require; duplicate members are
// refused. The returned statement's Bytes are its canonical form, which can differ from b.
func Parse(b []byte, cfg Config) (*Statement, error) {
	cfg = cfg.withDefaults()
	st, err := parse(b, cfg)
	if err != nil {
		return nil, fmt.Errorf("parse statement: %w", err)
	}
	s, err := finish(st, cfg)
	if err != nil {
		return nil, fmt.Errorf("parse statement: %w", err)
	}
	return s, nil
}

func parse(b []byte, cfg Config) (*ita.Statement, error) {
	if len(b) > cfg.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalid, len(b), cfg.MaxBytes)
	}
	if !withinDepth(b, cfg.MaxDepth) {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrInvalid, cfg.MaxDepth)
	}
	// protojson also accepts the protobuf field names ("type", "predicate_type") for the
	// members the specification calls "_type" and "predicateType". Other parsers ignore those
	// names, so a statement using them would mean different things to different verifiers.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	for _, alias := range []string{"type", "predicate_type"} {
		if _, ok := top[alias]; ok {
			return nil, fmt.Errorf("%w: member %q is not in-toto (protobuf field name)", ErrInvalid, alias)
		}
	}
	if _, ok := top["_type"]; !ok {
		return nil, fmt.Errorf("%w: no _type", ErrInvalid)
	}
	st := &ita.Statement{}
	opts := protojson.UnmarshalOptions{DiscardUnknown: true, RecursionLimit: 4*cfg.MaxDepth + 16}
	if err := opts.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return st, nil
}

// withinDepth reports whether JSON text b nests objects and arrays at most max deep. It only
// counts brackets outside strings; the parsers behind it check everything else.
func withinDepth(b []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
}

// validate checks a statement, built or parsed, against the rules Parse documents.
func validate(st *ita.Statement, cfg Config) error {
	if st.GetType() != StatementType {
		return fmt.Errorf("%w: _type %.100q, want %s", ErrInvalid, st.GetType(), StatementType)
	}
	n := len(st.GetSubject())
	if n == 0 || n > cfg.MaxSubjects {
		return fmt.Errorf("%w: %d subjects (1 to %d)", ErrInvalid, n, cfg.MaxSubjects)
	}
	for _, rd := range st.GetSubject() {
		if err := checkSubject(rd); err != nil {
			return err
		}
	}
	if st.GetPredicate() == nil {
		return fmt.Errorf("%w: no predicate", ErrInvalid)
	}
	if err := checkPredicate(st); err != nil {
		return fmt.Errorf("%w: %s predicate: %w", ErrInvalid, st.GetPredicateType(), err)
	}
	return nil
}

// checkPredicate checks that a predicate has the members that make it what its type says.
// It is not a schema validation of the SBOM or provenance format.
func checkPredicate(st *ita.Statement) error {
	f := st.GetPredicate().GetFields()
	str := func(name string) string { return f[name].GetStringValue() }
	switch pt := st.GetPredicateType(); pt {
	case PredicateCycloneDX:
		if str("bomFormat") != "CycloneDX" || str("specVersion") == "" {
			return fmt.Errorf("bomFormat %.40q, specVersion %.40q: not a CycloneDX BOM", str("bomFormat"), str("specVersion"))
		}
	case PredicateSPDX:
		if !strings.HasPrefix(str("spdxVersion"), "SPDX-2.") {
			return fmt.Errorf("spdxVersion %.40q: not an SPDX 2 document", str("spdxVersion"))
		}
	case PredicateScanResult:
		if len(f) == 0 {
			return fmt.Errorf("empty scan result")
		}
	case PredicateSLSAProvenance:
		_, err := provenanceOf(st)
		return err
	case PredicateOfflineKit:
		if str("bundleId") == "" || len(str("manifestSha256")) != 64 {
			return fmt.Errorf("bundleId %.80q, manifestSha256 %.80q: not an offline kit predicate", str("bundleId"), str("manifestSha256"))
		}
	default:
		return fmt.Errorf("unknown predicate type")
	}
	return nil
}

// provenanceOf decodes a SLSA v1.0 predicate and applies the SLSA Build L1 checks of the
// in-toto type (buildDefinition.buildType and externalParameters, runDetails.builder.id).
func provenanceOf(st *ita.Statement) (*slsa.Provenance, error) {
	b, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, err
	}
	p := &slsa.Provenance{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Provenance returns the SLSA v1.0 provenance of a PredicateSLSAProvenance statement.
func (s *Statement) Provenance() (*slsa.Provenance, error) {
	if pt := s.PredicateType(); pt != PredicateSLSAProvenance {
		return nil, fmt.Errorf("provenance: %w: predicate type is %s", ErrInvalid, pt)
	}
	p, err := provenanceOf(s.st)
	if err != nil {
		return nil, fmt.Errorf("provenance: %w: %w", ErrInvalid, err)
	}
	return p, nil
}
