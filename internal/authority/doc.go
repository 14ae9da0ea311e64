// Package authority is StellaOps' OAuth2 authorization server: clients and users with hashed
// secrets, the client_credentials and password grants, JWT access tokens signed with an
// asymmetric key (ES256 or EdDSA) published as a JWKS, key rotation with retired keys that keep
// verifying, offline tokens for air-gapped sites, revocation with a signed bundle for offline
// mirrors, and the audit trail of it all.
//
// The package owns the rules; internal/api puts them on HTTP. Persistence is behind Store
// (sqlitestore for the embedded mode, pgstore for replicas), private keys stay in PEM files
// that Store only points at.
package authority
