package attest

import (
	"fmt"
	"strings"

	ita "github.com/in-toto/attestation/go/v1"
)

// Subject is what a statement is about: an artifact's name and its digests, by in-toto
// algorithm name ("sha256", "sha512", …) to lowercase hex.
type Subject struct {
	Name   string
	Digest map[string]string
}

// NewSubject returns the subject name with one digest given as "<algorithm>:<hex>", the form
// OCI uses for image digests ("sha256:9f86d0…").
func NewSubject(name, digest string) (Subject, error) {
	alg, hx, ok := strings.Cut(digest, ":")
	if !ok {
		return Subject{}, fmt.Errorf("subject %q: %w: digest %.80q is not <algorithm>:<hex>", name, ErrInvalid, digest)
	}
	s := Subject{Name: name, Digest: map[string]string{alg: hx}}
	if err := checkSubject(s.descriptor()); err != nil {
		return Subject{}, err
	}
	return s, nil
}

func (s Subject) descriptor() *ita.ResourceDescriptor {
	d := make(map[string]string, len(s.Digest))
	for k, v := range s.Digest {
		d[k] = v
	}
	return &ita.ResourceDescriptor{Name: s.Name, Digest: d}
}

// strongDigests are the algorithms a subject must have at least one of: matching an artifact by
// MD5, SHA-1 or a git object ID alone would let a collision stand in for it.
var strongDigests = map[string]bool{
	"sha256": true, "sha384": true, "sha512": true, "sha512_256": true,
	"sha3_256": true, "sha3_384": true, "sha3_512": true,
}

// checkSubject checks one subject: digests present, every algorithm one in-toto defines, every
// value lowercase hex of that algorithm's length, and at least one strong algorithm. Lowercase
// only, because subjects are matched as strings.
func checkSubject(rd *ita.ResourceDescriptor) error {
	name := rd.GetName()
	if len(rd.GetDigest()) == 0 {
		return fmt.Errorf("subject %.200q: %w: no digest", name, ErrInvalid)
	}
	strong := false
	for alg, hx := range rd.GetDigest() {
		a, known := ita.HashAlgorithms[alg]
		if !known {
			return fmt.Errorf("subject %.200q: %w: digest algorithm %.40q is not one in-toto defines", name, ErrInvalid, alg)
		}
		if n := a.HexLength(); n > 0 && len(hx) != 2*n || !lowerHex(hx) || hx == "" {
			return fmt.Errorf("subject %.200q: %w: %s digest %.200q is not %d lowercase hex digits", name, ErrInvalid, alg, hx, 2*a.HexLength())
		}
		strong = strong || strongDigests[alg]
	}
	if !strong {
		return fmt.Errorf("subject %.200q: %w: no sha256, sha384, sha512 or sha3 digest", name, ErrInvalid)
	}
	if err := rd.Validate(); err != nil {
		return fmt.Errorf("subject %.200q: %w: %w", name, ErrInvalid, err)
	}
	return nil
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
