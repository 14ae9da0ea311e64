// Package canonjson produces RFC 8785 (JSON Canonicalization Scheme) bytes: sorted object keys,
// ECMAScript number formatting, minimal string escaping. Everything StellaOps hashes or signs goes
// through it, so equal content gives equal digests whatever struct order or library wrote it.
// The transform is our own single-pass one (transform.go), held to github.com/gowebpki/jcs by
// differential tests and fuzzing.
package canonjson

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Marshal encodes v as canonical JSON.
func Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return Transform(b)
}

// Transform canonicalises existing JSON bytes.
func Transform(b []byte) ([]byte, error) {
	out, err := transform(b)
	if err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return out, nil
}

// Digest returns "sha256:<hex>" of v's canonical JSON.
func Digest(v any) (string, error) {
	b, err := Marshal(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}
