package tlog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/transparency-dev/merkle/rfc6962"
)

// HashSize is the size of every hash in the log (SHA-256).
const HashSize = sha256.Size

// Hash is a leaf, node or root hash. Its text form (JSON included) is lowercase hex.
type Hash [HashSize]byte

// hasher is RFC 6962 over SHA-256; it is stateless, so sharing it is safe.
var hasher = rfc6962.DefaultHasher

// LeafHash returns the RFC 6962 leaf hash of an entry body: SHA-256(0x00 || body).
func LeafHash(body []byte) Hash { return hashOf(hasher.HashLeaf(body)) }

// NodeHash returns the RFC 6962 hash of an interior node: SHA-256(0x01 || left || right).
func NodeHash(left, right Hash) Hash { return hashOf(hasher.HashChildren(left[:], right[:])) }

// EmptyRoot is the root of the empty tree: SHA-256 of nothing.
func EmptyRoot() Hash { return sha256.Sum256(nil) }

// EntryID returns the ID an entry with this body has (or would have) in any log.
func EntryID(body []byte) string { return LeafHash(body).String() }

// ParseHash parses 64 lowercase hex digits. Upper case is refused so that an ID has exactly one
// spelling (it is used as a key and compared as a string).
func ParseHash(s string) (Hash, error) {
	var h Hash
	if err := h.UnmarshalText([]byte(s)); err != nil {
		return Hash{}, err
	}
	return h, nil
}

// String returns the lowercase hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler (lowercase hex).
func (h Hash) MarshalText() ([]byte, error) {
	out := make([]byte, hex.EncodedLen(HashSize))
	hex.Encode(out, h[:])
	return out, nil
}

// UnmarshalText implements encoding.TextUnmarshaler: exactly 64 lowercase hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != hex.EncodedLen(HashSize) {
		return fmt.Errorf("%w: hash %.80q: want %d hex digits", ErrInvalid, b, hex.EncodedLen(HashSize))
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("%w: hash %.80q: want lowercase hex", ErrInvalid, b)
		}
	}
	_, err := hex.Decode(h[:], b)
	return err
}

func hashOf(b []byte) Hash {
	var h Hash
	copy(h[:], b)
	return h
}

// byteSlices copies hashes into the form the merkle package takes.
func byteSlices(hs []Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = append([]byte(nil), hs[i][:]...)
	}
	return out
}
