package authority

import (
	"fmt"
	"net/url"
	"strings"
)

// OAuth2 error codes (RFC 6749 §5.2).
const (
	ErrCodeInvalidRequest       = "invalid_request"
	ErrCodeInvalidClient        = "invalid_client"
	ErrCodeInvalidGrant         = "invalid_grant"
	ErrCodeUnauthorizedClient   = "unauthorized_client"
	ErrCodeUnsupportedGrantType = "unsupported_grant_type"
	ErrCodeInvalidScope         = "invalid_scope"
	ErrCodeServerError          = "server_error"
)

// Grant types.
const (
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
)

// OAuthError is a token endpoint error, answered as RFC 6749 §5.2 JSON.
type OAuthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Status is 401 for invalid_client (with WWW-Authenticate), 500 for server_error, 400
	// otherwise.
	Status int `json:"-"`
	// err is the internal cause of a server_error, for the log only.
	err error
}

func (e *OAuthError) Error() string {
	if e.err != nil {
		return e.Code + ": " + e.Description + ": " + e.err.Error()
	}
	return e.Code + ": " + e.Description
}

func (e *OAuthError) Unwrap() error { return e.err }

func oauthErr(code, format string, a ...any) *OAuthError {
	status := 400
	if code == ErrCodeInvalidClient {
		status = 401
	}
	return &OAuthError{Code: code, Description: fmt.Sprintf(format, a...), Status: status}
}

func serverErr(err error) *OAuthError {
	return &OAuthError{Code: ErrCodeServerError, Description: "the authorization server failed; see its log", Status: 500, err: err}
}

// TokenRequest is a parsed /connect/token request.
type TokenRequest struct {
	GrantType    string
	ClientID     string
	ClientSecret string
	Username     string
	Password     string
	// Scopes are sorted; empty asks for the client's (or user's) default.
	Scopes []string
}

// maxParamLen bounds every form parameter; ids, secrets and scope lists are short.
const maxParamLen = 4096

// ParseTokenRequest reads a token request from its form and the request's HTTP Basic
// credentials (client_secret_basic; hasBasic says whether the header was present). Per RFC
// 6749, parameters may not repeat, and a client authenticates one way only.
func ParseTokenRequest(form url.Values, basicUser, basicPass string, hasBasic bool) (TokenRequest, *OAuthError) {
	one := func(name string) (string, *OAuthError) {
		v := form[name]
		switch {
		case len(v) == 0:
			return "", nil
		case len(v) > 1:
			return "", oauthErr(ErrCodeInvalidRequest, "parameter %s is repeated", name)
		case len(v[0]) > maxParamLen:
			return "", oauthErr(ErrCodeInvalidRequest, "parameter %s is too long", name)
		}
		return v[0], nil
	}
	var r TokenRequest
	var scope, formID, formSecret string
	for _, p := range []struct {
		name string
		dst  *string
	}{{"grant_type", &r.GrantType}, {"client_id", &formID}, {"client_secret", &formSecret}, {"username", &r.Username}, {"password", &r.Password}, {"scope", &scope}} {
		v, e := one(p.name)
		if e != nil {
			return TokenRequest{}, e
		}
		*p.dst = v
	}
	if r.GrantType == "" {
		return TokenRequest{}, oauthErr(ErrCodeInvalidRequest, "grant_type is required")
	}
	if hasBasic {
		if formSecret != "" {
			return TokenRequest{}, oauthErr(ErrCodeInvalidRequest, "client authenticated both by HTTP Basic and by client_secret")
		}
		// RFC 6749 §2.3.1: the Basic credentials are form-urlencoded first.
		id, err1 := url.QueryUnescape(basicUser)
		secret, err2 := url.QueryUnescape(basicPass)
		if err1 != nil || err2 != nil {
			return TokenRequest{}, oauthErr(ErrCodeInvalidClient, "malformed HTTP Basic client credentials")
		}
		if formID != "" && formID != id {
			return TokenRequest{}, oauthErr(ErrCodeInvalidRequest, "client_id differs from the HTTP Basic client")
		}
		r.ClientID, r.ClientSecret = id, secret
	} else {
		r.ClientID, r.ClientSecret = formID, formSecret
	}
	if r.ClientID == "" {
		return TokenRequest{}, oauthErr(ErrCodeInvalidClient, "client authentication is required")
	}
	for _, s := range strings.Fields(scope) {
		// RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'.
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return TokenRequest{}, oauthErr(ErrCodeInvalidScope, "scope contains an invalid character")
			}
		}
	}
	r.Scopes = ParseScope(scope)
	switch r.GrantType {
	case GrantClientCredentials:
	case GrantPassword:
		if r.Username == "" || r.Password == "" {
			return TokenRequest{}, oauthErr(ErrCodeInvalidRequest, "the password grant needs username and password")
		}
	default:
		return TokenRequest{}, oauthErr(ErrCodeUnsupportedGrantType, "grant_type %q is not supported (client_credentials, password)", r.GrantType)
	}
	return r, nil
}
