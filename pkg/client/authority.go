package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TokenRequest asks /connect/token for a token. Username and Password select the password
// grant; otherwise it is client_credentials.
type TokenRequest struct {
	ClientID     string
	ClientSecret string
	Username     string
	Password     string
	// Scopes requested; empty asks for the client's defaults.
	Scopes []string
	// PostSecret sends the secret in the form (client_secret_post) instead of HTTP Basic.
	PostSecret bool
}

// Token is a /connect/token answer.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// Token runs the client_credentials or password grant.
func (c *Client) Token(ctx context.Context, tr TokenRequest) (Token, error) {
	f := url.Values{}
	f.Set("grant_type", "client_credentials")
	if tr.Username != "" || tr.Password != "" {
		f.Set("grant_type", "password")
		f.Set("username", tr.Username)
		f.Set("password", tr.Password)
	}
	if len(tr.Scopes) > 0 {
		f.Set("scope", strings.Join(tr.Scopes, " "))
	}
	rq := request{method: http.MethodPost, path: "/connect/token", contentType: "application/x-www-form-urlencoded"}
	if tr.PostSecret {
		f.Set("client_id", tr.ClientID)
		f.Set("client_secret", tr.ClientSecret)
	} else {
		rq.basic, rq.basicUser, rq.basicPass = true, tr.ClientID, tr.ClientSecret
	}
	rq.body = strings.NewReader(f.Encode())
	r, err := c.do(ctx, rq)
	if err != nil {
		return Token{}, err
	}
	var t Token
	return t, decode(r, &t)
}

// RevokeToken revokes a token the client holds (RFC 7009).
func (c *Client) RevokeToken(ctx context.Context, clientID, secret, token string) error {
	f := url.Values{"token": {token}}
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/connect/revoke", contentType: "application/x-www-form-urlencoded",
		body: strings.NewReader(f.Encode()), basic: true, basicUser: clientID, basicPass: secret})
	return err
}

// Discovery is the OpenID discovery document.
type Discovery struct {
	Issuer              string   `json:"issuer"`
	TokenEndpoint       string   `json:"token_endpoint"`
	RevocationEndpoint  string   `json:"revocation_endpoint"`
	JWKSURI             string   `json:"jwks_uri"`
	GrantTypesSupported []string `json:"grant_types_supported"`
	ScopesSupported     []string `json:"scopes_supported"`
}

// Discovery reads /.well-known/openid-configuration.
func (c *Client) Discovery(ctx context.Context) (Discovery, error) {
	var d Discovery
	_, err := c.getJSON(ctx, "/.well-known/openid-configuration", nil, false, false, &d)
	return d, err
}

// JWKS returns the raw JSON Web Key Set document; parse it with your JOSE library of choice
// (the CLIs keep it verbatim as their offline cache).
func (c *Client) JWKS(ctx context.Context) ([]byte, error) {
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/jwks"})
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// OfflineTokenRequest is the body of POST /token/offline.
type OfflineTokenRequest struct {
	ExpiresDays    int    `json:"expiresDays,omitempty"`
	MaxScansPerDay int    `json:"maxScansPerDay,omitempty"`
	Scope          string `json:"scope,omitempty"`
}

// OfflineToken is its answer.
type OfflineToken struct {
	JWT     string    `json:"jwt"`
	Expires time.Time `json:"expires"`
}

// OfflineToken mints an offline token (needs scope authority.admin).
func (c *Client) OfflineToken(ctx context.Context, r OfflineTokenRequest) (OfflineToken, error) {
	var t OfflineToken
	_, err := c.sendJSON(ctx, http.MethodPost, "/token/offline", r, true, false, &t)
	return t, err
}

// RotateRequest is the body of POST /internal/signing/rotate.
type RotateRequest struct {
	KeyID    string `json:"keyId"`
	Location string `json:"location"`
	Source   string `json:"source,omitempty"`
	Provider string `json:"provider,omitempty"`
}

// RotateResult is its answer.
type RotateResult struct {
	ActiveKeyID   string   `json:"activeKeyId"`
	PreviousKeyID string   `json:"previousKeyId"`
	RetiredKeyIDs []string `json:"retiredKeyIds"`
}

// RotateSigningKey promotes a new signing key (bootstrap key).
func (c *Client) RotateSigningKey(ctx context.Context, r RotateRequest) (RotateResult, error) {
	var out RotateResult
	_, err := c.sendJSON(ctx, http.MethodPost, "/internal/signing/rotate", r, false, true, &out)
	return out, err
}

// RevokeRequest revokes a token by jti (bootstrap key).
type RevokeRequest struct {
	JTI       string    `json:"jti"`
	Reason    string    `json:"reason,omitempty"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	Subject   string    `json:"subject,omitempty"`
	ClientID  string    `json:"clientId,omitempty"`
}

// Revoke revokes a token by jti; created is false when it was already revoked.
func (c *Client) Revoke(ctx context.Context, r RevokeRequest) (created bool, err error) {
	var out struct {
		Created bool `json:"created"`
	}
	_, err = c.sendJSON(ctx, http.MethodPost, "/internal/revocations", r, false, true, &out)
	return out.Created, err
}

// RevocationExport is the answer of GET /internal/revocations/export: the bundle's exact
// bytes, the detached JWS over them, and their hex SHA-256.
type RevocationExport struct {
	Bundle    json.RawMessage `json:"bundle"`
	Signature string          `json:"signature"`
	Digest    string          `json:"digest"`
	KeyID     string          `json:"keyId"`
	Algorithm string          `json:"algorithm"`
}

// ExportRevocations fetches the signed revocation bundle (bootstrap key).
func (c *Client) ExportRevocations(ctx context.Context) (RevocationExport, error) {
	var out RevocationExport
	_, err := c.getJSON(ctx, "/internal/revocations/export", nil, false, true, &out)
	return out, err
}

// NewClient creates an OAuth2 client.
type NewClient struct {
	ClientID       string   `json:"clientId"`
	DisplayName    string   `json:"displayName,omitempty"`
	Scopes         []string `json:"scopes"`
	Grants         []string `json:"grants,omitempty"`
	Tenant         string   `json:"tenant,omitempty"`
	MaxScansPerDay int      `json:"maxScansPerDay,omitempty"`
	Secret         string   `json:"secret,omitempty"`
}

// ClientInfo describes a client; Secret is set only in CreateClient's answer.
type ClientInfo struct {
	ClientID       string    `json:"clientId"`
	DisplayName    string    `json:"displayName"`
	Scopes         []string  `json:"scopes"`
	Grants         []string  `json:"grants"`
	Tenant         string    `json:"tenant"`
	MaxScansPerDay int       `json:"maxScansPerDay"`
	Disabled       bool      `json:"disabled"`
	CreatedAt      time.Time `json:"createdAt"`
	Secret         string    `json:"secret,omitempty"`
}

// CreateClient creates or replaces a client and returns its secret (bootstrap key).
func (c *Client) CreateClient(ctx context.Context, n NewClient) (ClientInfo, error) {
	var out ClientInfo
	_, err := c.sendJSON(ctx, http.MethodPost, "/internal/clients", n, false, true, &out)
	return out, err
}

// Clients lists clients (bootstrap key).
func (c *Client) Clients(ctx context.Context) ([]ClientInfo, error) {
	var out struct {
		Clients []ClientInfo `json:"clients"`
	}
	_, err := c.getJSON(ctx, "/internal/clients", nil, false, true, &out)
	return out.Clients, err
}

// DeleteClient deletes a client (bootstrap key): it gets no more tokens; tokens already
// issued stay valid until they expire or are revoked. An unknown client is a 404 *Error.
func (c *Client) DeleteClient(ctx context.Context, clientID string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/internal/clients/" + url.PathEscape(clientID), bootstrap: true})
	return err
}

// NewUser creates a user.
type NewUser struct {
	Username string   `json:"username"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
	Tenant   string   `json:"tenant,omitempty"`
}

// UserInfo describes a user.
type UserInfo struct {
	Username  string    `json:"username"`
	Roles     []string  `json:"roles"`
	Tenant    string    `json:"tenant"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"createdAt"`
}

// CreateUser creates or replaces a user (bootstrap key).
func (c *Client) CreateUser(ctx context.Context, n NewUser) (UserInfo, error) {
	var out UserInfo
	_, err := c.sendJSON(ctx, http.MethodPost, "/internal/users", n, false, true, &out)
	return out, err
}

// Users lists users (bootstrap key).
func (c *Client) Users(ctx context.Context) ([]UserInfo, error) {
	var out struct {
		Users []UserInfo `json:"users"`
	}
	_, err := c.getJSON(ctx, "/internal/users", nil, false, true, &out)
	return out.Users, err
}

// DeleteUser deletes a user (bootstrap key).
func (c *Client) DeleteUser(ctx context.Context, username string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/internal/users/" + url.PathEscape(username), bootstrap: true})
	return err
}

// AuditEvent is one audit record.
type AuditEvent struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`
	Outcome  string    `json:"outcome"`
	Subject  string    `json:"subject"`
	ClientID string    `json:"clientId"`
	Scopes   []string  `json:"scopes"`
	Status   int       `json:"status"`
	TraceID  string    `json:"traceId"`
	RemoteIP string    `json:"remoteIp"`
	Detail   string    `json:"detail"`
}

// Audit returns up to limit audit events after seq (bootstrap key).
func (c *Client) Audit(ctx context.Context, after int64, limit int) ([]AuditEvent, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(limit)}}
	var out struct {
		Events []AuditEvent `json:"events"`
	}
	_, err := c.getJSON(ctx, "/internal/audit", q, false, true, &out)
	return out.Events, err
}

// Quota is the caller's daily scan quota.
type Quota struct {
	Limit           int       `json:"limit"`
	Used            int       `json:"used"`
	Remaining       int       `json:"remaining"`
	Reset           time.Time `json:"reset"`
	NextScanDelayMs int64     `json:"nextScanDelayMs"`
}

// Quota reads GET /api/v1/quota.
func (c *Client) Quota(ctx context.Context) (Quota, *Response, error) {
	var q Quota
	r, err := c.getJSON(ctx, "/api/v1/quota", nil, true, false, &q)
	return q, r, err
}

// Version is the server's build.
type Version struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
}

// Version reads GET /version.
func (c *Client) Version(ctx context.Context) (Version, error) {
	var v Version
	_, err := c.getJSON(ctx, "/version", nil, false, false, &v)
	return v, err
}

// Health reads GET /healthz and returns its body ("ok").
func (c *Client) Health(ctx context.Context) (string, error) {
	r, err := c.do(ctx, request{method: http.MethodGet, path: "/healthz"})
	if err != nil {
		return "", err
	}
	return string(r.Body), nil
}

// Ready reads GET /readyz; nil means ready.
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/readyz"})
	return err
}
