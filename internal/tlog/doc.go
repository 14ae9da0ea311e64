// Package tlog owns StellaOps' local transparency log: an append-only, RFC 6962 Merkle log of
// entries (canonical bytes such as DSSE envelopes), with inclusion and consistency proofs,
// Ed25519-signed tree heads, and offline verification that needs nothing but a proof bundle
// and the log's public key.
//
// The package holds the Merkle logic once; persistence is a small [Store] interface with
// backends in sqlitestore (embedded default) and pgstore (PostgreSQL), both held to the
// conformance suite in storetest. It must not sign anything but tree heads, and it does not
// know what an entry means: attestation statements, DSSE and their signatures belong to
// internal/attest and internal/signing.
//
// # Identifiers
//
// An entry's ID is the lowercase hex of its RFC 6962 leaf hash, SHA-256(0x00 || body). It is
// derived from the body alone, so a client can compute it offline, and the log stores each body
// once: a second submission of the same bytes returns the first entry. A tree head's key ID is
// the hex SHA-256 of the public key's PKIX (DER) encoding, the convention Rekor uses for log IDs.
//
// # Storage and complexity
//
// Backends store, besides each entry, the hash of every perfect subtree as it completes (the
// nodes a compact range reports on append): about 2N hashes for N entries. Then:
//
//   - an append reads the O(log N) hashes on the tree's right border and writes the leaf plus
//     the nodes it completes (amortised two rows);
//   - the root at any tree size, an inclusion proof and a consistency proof each read at most
//     about 2·log2(N) stored hashes in one query, and never read leaves they do not need.
//
// Nodes are written only in the append transaction and never change, so a proof built from them
// stays valid whatever is appended later.
package tlog
