package authority

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors of the store, compared with errors.Is.
var (
	// ErrNotFound: no such client, user or key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a write that would break an invariant (a second active key, a key id
	// reused).
	ErrConflict = errors.New("conflict")
)

// Client is an OAuth2 client (a service, a CI pipeline, the CLI).
type Client struct {
	// ID is the client_id; unique.
	ID string `json:"clientId"`
	// SecretHash is the PHC-style hash of the client secret ($argon2id$… or $2a$… bcrypt);
	// empty for a public client that may only use the password grant.
	SecretHash string `json:"-"`
	// DisplayName is for people.
	DisplayName string `json:"displayName,omitempty"`
	// Scopes are the scopes the client may request, sorted.
	Scopes []string `json:"scopes"`
	// Grants are the grant types the client may use ("client_credentials", "password"), sorted.
	Grants []string `json:"grants"`
	// Tenant is the `tid` claim of its tokens.
	Tenant string `json:"tenant,omitempty"`
	// MaxScansPerDay is written into its tokens; 0 means the server default.
	MaxScansPerDay int `json:"maxScansPerDay,omitempty"`
	// Disabled clients get no tokens; tokens already issued stay valid until revoked.
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// User is a person who signs in with the password grant through a client.
type User struct {
	// Username is unique.
	Username string `json:"username"`
	// PasswordHash is the PHC-style hash of the password.
	PasswordHash string `json:"-"`
	// Roles name scope sets (see Roles); sorted.
	Roles []string `json:"roles"`
	// Tenant is the `tid` claim of the user's tokens.
	Tenant    string    `json:"tenant,omitempty"`
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// Revocation marks one token id as revoked.
type Revocation struct {
	// JTI is the revoked token's `jti`; unique.
	JTI string `json:"jti"`
	// Subject and ClientID say whose token it was, for the bundle's readers.
	Subject  string `json:"subject,omitempty"`
	ClientID string `json:"clientId,omitempty"`
	// Reason is free text ("compromised", "offboarded"…).
	Reason string `json:"reason,omitempty"`
	// RevokedAt is when it was revoked; ExpiresAt is when the token would have expired
	// anyway, after which the entry may be dropped from bundles.
	RevokedAt time.Time `json:"revokedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Key status values of KeyRecord.Status.
const (
	KeyActive  = "active"
	KeyRetired = "retired"
)

// KeyRecord is the public half and the whereabouts of one signing key. The private key never
// enters the store: Location points at it (a PEM file for source "file"), so every replica
// that can read the location can sign, and the database holds nothing secret.
type KeyRecord struct {
	// KID is the JWS `kid`; unique.
	KID string `json:"kid"`
	// Algorithm is the JWS alg: "ES256" or "EdDSA".
	Algorithm string `json:"algorithm"`
	// PublicJWK is the public key as a JSON Web Key (the JWKS entry), verbatim.
	PublicJWK []byte `json:"publicJwk"`
	// Source, Provider and Location are the rotate request's fields.
	Source   string `json:"source"`
	Provider string `json:"provider"`
	Location string `json:"location"`
	// Status is KeyActive for exactly one key, KeyRetired for the others.
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
	// RetiredAt is set when the key stopped signing. A retired key keeps verifying tokens
	// until RetiredAt plus the longest token lifetime.
	RetiredAt time.Time `json:"retiredAt,omitzero"`
}

// AuditEvent is one audited authentication or administrative event (AuthEventRecord).
type AuditEvent struct {
	// Seq orders events; assigned by the store on append, from 1.
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	// Type is e.g. "authority.token.grant", "authority.token.revoke", "authority.signing.rotate",
	// "http.request" (every /jobs* call), "authority.auth.failure".
	Type string `json:"type"`
	// Outcome is "success" or "failure".
	Outcome  string   `json:"outcome"`
	Subject  string   `json:"subject,omitempty"`
	ClientID string   `json:"clientId,omitempty"`
	Scopes   []string `json:"scopes,omitempty"`
	// Status is the HTTP status of the call, when there was one.
	Status   int    `json:"status,omitempty"`
	TraceID  string `json:"traceId,omitempty"`
	RemoteIP string `json:"remoteIp,omitempty"`
	// Detail is a short reason ("invalid_client", "scope not allowed: …", "POST /jobs/merge").
	Detail string `json:"detail,omitempty"`
}

// Store persists Authority state. Implementations must be safe for concurrent use by several
// processes (replicas) at once; every method is atomic.
type Store interface {
	// PutClient creates or replaces a client.
	PutClient(ctx context.Context, c Client) error
	// Client returns the client with id, or ErrNotFound.
	Client(ctx context.Context, id string) (Client, error)
	// Clients lists all clients sorted by ID.
	Clients(ctx context.Context) ([]Client, error)
	// DeleteClient removes a client, or returns ErrNotFound.
	DeleteClient(ctx context.Context, id string) error

	// PutUser creates or replaces a user.
	PutUser(ctx context.Context, u User) error
	// User returns the user, or ErrNotFound.
	User(ctx context.Context, username string) (User, error)
	// Users lists all users sorted by username.
	Users(ctx context.Context) ([]User, error)
	// DeleteUser removes a user, or returns ErrNotFound.
	DeleteUser(ctx context.Context, username string) error

	// Revoke records r; revoking a jti twice keeps the first record and reports false.
	Revoke(ctx context.Context, r Revocation) (created bool, err error)
	// IsRevoked reports whether jti was revoked. It is on every authenticated request's
	// path, so it must be a single indexed lookup.
	IsRevoked(ctx context.Context, jti string) (bool, error)
	// Revocations lists revocations whose ExpiresAt is after notExpiredAt, sorted by JTI.
	Revocations(ctx context.Context, notExpiredAt time.Time) ([]Revocation, error)

	// Keys lists all signing keys sorted by CreatedAt, then KID.
	Keys(ctx context.Context) ([]KeyRecord, error)
	// RotateKey makes next (Status KeyActive) the active key and retires the active key, if
	// any, with RetiredAt = next.CreatedAt, in one transaction. It returns the retired key's
	// KID ("" if there was none). A KID already stored gives ErrConflict.
	RotateKey(ctx context.Context, next KeyRecord) (previous string, err error)

	// AppendAudit stores e and returns its Seq.
	AppendAudit(ctx context.Context, e AuditEvent) (int64, error)
	// Audit returns up to limit events with Seq > after, in Seq order.
	Audit(ctx context.Context, after int64, limit int) ([]AuditEvent, error)

	// Close releases the store.
	Close() error
}
