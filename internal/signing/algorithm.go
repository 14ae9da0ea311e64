package signing

import "fmt"

// Algorithm names a signature algorithm as it appears in an envelope's "algorithm" field.
type Algorithm string

// The supported algorithms.
const (
	// HS256 is HMAC-SHA256 with a shared secret: the spec's default for scanner reports.
	HS256 Algorithm = "hs256"
	// Ed25519 is pure Ed25519 (RFC 8032) over the PAE bytes.
	Ed25519 Algorithm = "ed25519"
	// ECDSAP256 is ECDSA on P-256 over SHA-256 of the PAE bytes, ASN.1 DER encoded; it is
	// here for interoperability with tools (cosign, KMSs) that only speak ECDSA.
	ECDSAP256 Algorithm = "ecdsa-p256"
)

// Algorithms lists the supported algorithms in a stable order.
func Algorithms() []Algorithm { return []Algorithm{HS256, Ed25519, ECDSAP256} }

// ParseAlgorithm returns the algorithm named s, or an error wrapping ErrUnknownAlgorithm.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch a := Algorithm(s); a {
	case HS256, Ed25519, ECDSAP256:
		return a, nil
	}
	return "", fmt.Errorf("%w %q (supported: hs256, ed25519, ecdsa-p256)", ErrUnknownAlgorithm, s)
}
