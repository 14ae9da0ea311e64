package tlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/stellaops/stellaops/internal/canonjson"
)

// Bundle is everything an offline verifier needs to check that an entry is in the log: the
// entry, its inclusion proof and the signed tree head the proof leads to. Its JSON form (what
// GET /rekor/log/{id} serves) is canonical JSON with hex hashes and base64 body and signature:
//
//	{"entry":{"body":"<base64>","id":"<hex>","integratedTime":"<RFC 3339>","logIndex":N},
//	 "inclusionProof":{"hashes":["<hex>",…],"logIndex":N,"treeSize":S},
//	 "treeHead":{"keyId":"<hex>","origin":"…","rootHash":"<hex>","signature":"<base64>",
//	             "timestamp":"<RFC 3339>","treeSize":S}}
type Bundle struct {
	Entry          Entry          `json:"entry"`
	InclusionProof InclusionProof `json:"inclusionProof"`
	TreeHead       SignedTreeHead `json:"treeHead"`
}

// ConsistencyBundle shows that the log at New extends the log at Old: two signed tree heads
// and the consistency proof between them.
type ConsistencyBundle struct {
	Old   SignedTreeHead   `json:"oldTreeHead"`
	New   SignedTreeHead   `json:"newTreeHead"`
	Proof ConsistencyProof `json:"proof"`
}

// Encode returns the bundle's canonical JSON.
func (b Bundle) Encode() ([]byte, error) {
	if b.InclusionProof.Hashes == nil {
		b.InclusionProof.Hashes = []Hash{} // "[]", not "null": one encoding per bundle
	}
	return canonjson.Marshal(b)
}

// Encode returns the bundle's canonical JSON.
func (b ConsistencyBundle) Encode() ([]byte, error) {
	if b.Proof.Hashes == nil {
		b.Proof.Hashes = []Hash{}
	}
	return canonjson.Marshal(b)
}

// DecodeBundle parses a bundle's JSON strictly (no unknown or duplicate members, well-formed
// hashes, bounded proof). It checks form only: VerifyInclusion checks the content. Callers
// bound the input's size.
func DecodeBundle(data []byte) (Bundle, error) {
	var b Bundle
	if err := decodeStrict(data, &b); err != nil {
		return Bundle{}, fmt.Errorf("decode bundle: %w", err)
	}
	if err := checkForm(b.TreeHead, len(b.InclusionProof.Hashes)); err != nil {
		return Bundle{}, fmt.Errorf("decode bundle: %w", err)
	}
	if len(b.Entry.Body) == 0 {
		return Bundle{}, fmt.Errorf("decode bundle: %w: entry has no body", ErrInvalid)
	}
	return b, nil
}

// DecodeConsistencyBundle parses a consistency bundle's JSON as strictly as DecodeBundle.
func DecodeConsistencyBundle(data []byte) (ConsistencyBundle, error) {
	var b ConsistencyBundle
	if err := decodeStrict(data, &b); err != nil {
		return ConsistencyBundle{}, fmt.Errorf("decode consistency bundle: %w", err)
	}
	if err := errors.Join(checkForm(b.Old, len(b.Proof.Hashes)), checkForm(b.New, 0)); err != nil {
		return ConsistencyBundle{}, fmt.Errorf("decode consistency bundle: %w", err)
	}
	return b, nil
}

// decodeStrict decodes one JSON value into v. Canonicalising first refuses duplicate member
// names (which encoding/json would silently resolve to the last one) and invalid UTF-8.
func decodeStrict(data []byte, v any) error {
	canon, err := canonjson.Transform(data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	dec := json.NewDecoder(bytes.NewReader(canon))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data", ErrInvalid)
	}
	return nil
}

// checkForm checks what decoding alone cannot: bounded lists and a well-formed key ID and
// signature, so a hostile bundle cannot make verification allocate or loop.
func checkForm(sth SignedTreeHead, proofHashes int) error {
	switch {
	case proofHashes > MaxProofHashes:
		return fmt.Errorf("%w: proof of %d hashes (at most %d)", ErrInvalid, proofHashes, MaxProofHashes)
	case len(sth.KeyID) != 2*HashSize:
		return fmt.Errorf("%w: key id %.80q", ErrInvalid, sth.KeyID)
	case len(sth.Signature) != 64:
		return fmt.Errorf("%w: signature of %d bytes", ErrInvalid, len(sth.Signature))
	case !validOrigin(sth.Origin):
		return fmt.Errorf("%w: origin %.80q", ErrInvalid, sth.Origin)
	}
	if _, err := ParseHash(sth.KeyID); err != nil {
		return fmt.Errorf("key id: %w", err)
	}
	return nil
}

// Bundle returns the proof bundle of the entry with ID id against a signed tree head for the
// log's current size (signed now unless this key signed that size before), so verifiers always
// get the freshest head and a later consistency check starts from it.
func (l *Log) Bundle(ctx context.Context, id string) (Bundle, error) {
	e, err := l.Entry(ctx, id)
	if err != nil {
		return Bundle{}, fmt.Errorf("bundle: %w", err)
	}
	sth, err := l.SignTreeHead(ctx)
	if err != nil {
		return Bundle{}, fmt.Errorf("bundle %s: %w", id, err)
	}
	p, err := l.InclusionProof(ctx, e.Index, sth.TreeSize)
	if err != nil {
		return Bundle{}, fmt.Errorf("bundle %s: %w", id, err)
	}
	return Bundle{Entry: e, InclusionProof: p, TreeHead: sth}, nil
}

// ConsistencyBundle returns the proof that the log's signed tree head for its current size
// (signed now if need be) extends the one it signed at oldSize (ErrNotFound if it never signed
// that size).
func (l *Log) ConsistencyBundle(ctx context.Context, oldSize uint64) (ConsistencyBundle, error) {
	old, err := l.TreeHeadAt(ctx, oldSize)
	if err != nil {
		return ConsistencyBundle{}, fmt.Errorf("consistency bundle: %w", err)
	}
	cur, err := l.SignTreeHead(ctx)
	if err != nil {
		return ConsistencyBundle{}, fmt.Errorf("consistency bundle: %w", err)
	}
	p, err := l.ConsistencyProof(ctx, oldSize, cur.TreeSize)
	if err != nil {
		return ConsistencyBundle{}, fmt.Errorf("consistency bundle: %w", err)
	}
	return ConsistencyBundle{Old: old, New: cur, Proof: p}, nil
}

// SignTreeHead returns a signed tree head for the log's current size: the stored one when this
// key already signed that size, else a new one, stored before it is returned.
func (l *Log) SignTreeHead(ctx context.Context) (SignedTreeHead, error) {
	size, err := l.store.Size(ctx)
	if err != nil {
		return SignedTreeHead{}, fmt.Errorf("sign tree head: %w", err)
	}
	if sth, err := l.store.TreeHeadAt(ctx, size, l.keyID); err == nil {
		return sth, nil
	} else if !errors.Is(err, ErrNotFound) {
		return SignedTreeHead{}, fmt.Errorf("sign tree head: %w", err)
	}
	root, err := l.root(ctx, l.store, size)
	if err != nil {
		return SignedTreeHead{}, fmt.Errorf("sign tree head at %d: %w", size, err)
	}
	sth, err := signTreeHead(l.signer, l.pub, l.keyID, TreeHead{Origin: l.cfg.Origin, TreeSize: size, RootHash: root, Timestamp: l.now()})
	if err != nil {
		return SignedTreeHead{}, err
	}
	if sth, err = l.store.PutTreeHead(ctx, sth); err != nil {
		return SignedTreeHead{}, fmt.Errorf("sign tree head at %d: %w", size, err)
	}
	return sth, nil
}

// TreeHeadAt returns the tree head this log's key signed at size, or ErrNotFound.
func (l *Log) TreeHeadAt(ctx context.Context, size uint64) (SignedTreeHead, error) {
	sth, err := l.store.TreeHeadAt(ctx, size, l.keyID)
	if err != nil {
		return SignedTreeHead{}, fmt.Errorf("tree head at %d: %w", size, err)
	}
	return sth, nil
}

// LatestTreeHead returns the newest tree head this log's key signed, or ErrNotFound.
func (l *Log) LatestTreeHead(ctx context.Context) (SignedTreeHead, error) {
	sth, err := l.store.LatestTreeHead(ctx, l.keyID)
	if err != nil {
		return SignedTreeHead{}, fmt.Errorf("latest tree head: %w", err)
	}
	return sth, nil
}
