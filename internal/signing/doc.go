// Package signing owns StellaOps' DSSE envelopes and the keys that sign them: the envelope
// codec, signing over the DSSE pre-authentication encoding (PAE), verification against a
// keyring, key providers (data directory, environment, in-memory; a KMS later) and the Signer
// operations SignDsse and VerifyReferrers as library calls. It does not serve HTTP, talk to a
// registry or read the process environment itself: callers inject those.
//
// # Envelope shape
//
// Envelopes are written in the shape of the API spec (§2.7), which names the signature fields
// keyId, algorithm and signature:
//
//	{"payloadType":"application/vnd.stellaops.report+json","payload":"<base64>",
//	 "signatures":[{"keyId":"scanner-report-signing","algorithm":"hs256","signature":"<base64>"}]}
//
// The decoder also reads the standard DSSE names keyid and sig (so envelopes from cosign,
// in-toto and go-securesystemslib verify), rejects a signature that carries both spellings of
// one field, and ignores unknown fields as the DSSE envelope spec requires. [Envelope.DSSE]
// converts to go-securesystemslib's standard shape for tools that only read keyid/sig.
//
// # What is signed
//
// Every signature is over PAE(payloadType, payload) = "DSSEv1" SP len(type) SP type SP
// len(payload) SP payload, computed by go-securesystemslib's dsse.PAE. Payloads whose type is
// JSON (application/json or any +json type) are canonicalised with RFC 8785 before signing, so
// equal content signs to identical bytes. hs256 (HMAC-SHA256) and ed25519 signatures are
// deterministic, and ecdsa-p256 signatures are too: they use the standard library's RFC 6979
// mode (ASN.1 DER, as cosign writes them). The same payload and key therefore always give a
// byte-identical envelope.
//
// # Keys
//
// Signing goes through the [Signer] and [Verifier] interfaces, so a KMS can stand in for the
// in-memory [Key]. A [Keyring] has one active key, the only one that signs, and retired keys
// that keep verifying what they signed. [KeyProvider]s build keyrings: [Dir] keeps them in a
// data directory (created on first use, rotated with an injected clock and random source),
// [Env] reads one key from environment variables through an injected lookup, [Chain] tries
// providers in turn. Key files are PKCS#8 PEM for ed25519 and ecdsa-p256 and base64 or raw
// bytes for hs256; [ExportPublicKey] writes PKIX PEM for offline verifiers.
//
// # Verification policy
//
// An envelope is accepted when at least one of its signatures verifies under a trusted key
// (active or retired); the other signatures are reported per signature but do not fail the
// envelope, because DSSE treats an envelope with n signatures as n separate envelopes. The
// keyId is an unauthenticated hint that selects candidate keys; a signature without a keyId is
// tried against every key of its algorithm. A declared algorithm must match the key's.
package signing
