package tlog

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// TreeHead is the log's state at one size.
type TreeHead struct {
	// Origin names the log (a schema-less URL such as "stellaops.example/tlog").
	Origin string `json:"origin"`
	// TreeSize is the number of entries the tree covers.
	TreeSize uint64 `json:"treeSize"`
	// RootHash is the RFC 6962 root of the first TreeSize entries.
	RootHash Hash `json:"rootHash"`
	// Timestamp is the log's clock when the head was signed (UTC, microseconds).
	Timestamp time.Time `json:"timestamp"`
}

// SignedTreeHead is a tree head with the log's Ed25519 signature over its checkpoint.
type SignedTreeHead struct {
	TreeHead
	// KeyID is the hex SHA-256 of the signing key's PKIX public key (see KeyID).
	KeyID string `json:"keyId"`
	// Signature is Ed25519 over Checkpoint() (64 bytes; base64 in JSON).
	Signature []byte `json:"signature"`
}

// Checkpoint returns the bytes a tree head's signature covers: a C2SP tlog-checkpoint body
// with the timestamp as its one extension line,
//
//	<origin>\n<tree size>\n<base64 root hash>\nTimestamp: <RFC 3339 UTC>\n
//
// The signature is therefore also a valid C2SP signed-note signature of that body for the key
// named Origin, so standard note verifiers can check our tree heads.
func (th TreeHead) Checkpoint() []byte {
	b := make([]byte, 0, len(th.Origin)+100)
	b = append(b, th.Origin...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, th.TreeSize, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, th.RootHash[:])
	b = append(b, "\nTimestamp: "...)
	b = Timestamp(th.Timestamp).AppendFormat(b, time.RFC3339Nano)
	return append(b, '\n')
}

// KeyID returns the key ID of an Ed25519 public key: hex SHA-256 of its PKIX (DER) encoding.
func KeyID(pub ed25519.PublicKey) (string, error) {
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("%w: ed25519 public key of %d bytes", ErrInvalid, len(pub))
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// validOrigin reports whether s can name a log in a checkpoint: printable ASCII without spaces
// or '+' (C2SP note key names), so the checkpoint's first line is unambiguous.
func validOrigin(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '+' {
			return false
		}
	}
	return true
}

// signTreeHead signs th with signer, whose public key is pub, and checks the signature before
// returning it: a broken remote signer must not produce heads nobody can verify.
func signTreeHead(signer crypto.Signer, pub ed25519.PublicKey, keyID string, th TreeHead) (SignedTreeHead, error) {
	th.Timestamp = Timestamp(th.Timestamp)
	msg := th.Checkpoint()
	// crypto.Hash(0): pure Ed25519 over the message, as ed25519.PrivateKey.Sign expects.
	sig, err := signer.Sign(rand.Reader, msg, crypto.Hash(0))
	if err != nil {
		return SignedTreeHead{}, fmt.Errorf("sign tree head: %w", err)
	}
	if !ed25519.Verify(pub, msg, sig) {
		return SignedTreeHead{}, fmt.Errorf("sign tree head: the signer's signature does not verify with its public key")
	}
	return SignedTreeHead{TreeHead: th, KeyID: keyID, Signature: sig}, nil
}

// VerifyTreeHead checks sth's signature with the log's public key, and that the key ID is that
// key's. It needs nothing else.
func VerifyTreeHead(sth SignedTreeHead, pub ed25519.PublicKey) error {
	id, err := KeyID(pub)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrVerification, err)
	}
	switch {
	case sth.KeyID != id:
		return fmt.Errorf("%w: tree head key id %.80q is not the key's %s", ErrVerification, sth.KeyID, id)
	case !validOrigin(sth.Origin):
		return fmt.Errorf("%w: tree head origin %.80q is not a valid log name", ErrVerification, sth.Origin)
	case len(sth.Signature) != ed25519.SignatureSize:
		return fmt.Errorf("%w: tree head signature of %d bytes", ErrVerification, len(sth.Signature))
	case !ed25519.Verify(pub, sth.Checkpoint(), sth.Signature):
		return fmt.Errorf("%w: tree head signature does not verify", ErrVerification)
	case sth.TreeSize == 0 && sth.RootHash != EmptyRoot():
		return fmt.Errorf("%w: empty tree head with root %s", ErrVerification, sth.RootHash)
	}
	return nil
}
