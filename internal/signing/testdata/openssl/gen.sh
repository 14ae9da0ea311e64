#!/usr/bin/env bash
# Regenerates the OpenSSL fixtures: test-only keys (public: never use them for anything real) in
# the formats ParsePrivateKey must accept or reject, and signatures OpenSSL made over a DSSE PAE,
# which prove that an independent implementation verifies the same bytes we sign.
# Made with OpenSSL 3.0; the tests only read the results.
set -euo pipefail
cd "$(dirname "$0")"
openssl genpkey -algorithm ed25519 -out ed25519.pem
openssl pkey -in ed25519.pem -pubout -out ed25519.pub.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ecdsa-p256.pem
openssl pkey -in ecdsa-p256.pem -pubout -out ecdsa-p256.pub.pem
# Formats that must be refused with a clear message.
openssl ec -in ecdsa-p256.pem -out ecdsa-p256.sec1.pem 2>/dev/null             # "EC PRIVATE KEY"
openssl pkcs8 -topk8 -in ed25519.pem -passout pass:test -out ed25519.enc.pem   # encrypted PKCS#8
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ecdsa-p384.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem
# PAE("application/vnd.in-toto+json", payload.json), signed by OpenSSL.
type='application/vnd.in-toto+json'
len=$(wc -c < payload.json | tr -d ' ')
{ printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$len"; cat payload.json; } > pae.bin
openssl pkeyutl -sign -inkey ed25519.pem -rawin -in pae.bin -out ed25519.sig
openssl dgst -sha256 -sign ecdsa-p256.pem -out ecdsa-p256.sig pae.bin
