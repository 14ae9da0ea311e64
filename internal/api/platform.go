package api

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/quota"
)

// formMaxBody bounds token endpoint forms: a few short parameters.
const formMaxBody = 16 << 10

func (s *Server) platformRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/healthz", Auth: AuthPublic, Summary: "Liveness", Handler: s.healthz},
		{Method: "GET", Path: "/readyz", Auth: AuthPublic, Summary: "Readiness", Handler: s.readyz},
		{Method: "GET", Path: "/metrics", Auth: AuthPublic, Summary: "Prometheus metrics", Handler: s.metricsHandler()},
		{Method: "GET", Path: "/version", Auth: AuthPublic, Summary: "Build version", Handler: s.version},
		{Method: "GET", Path: "/openapi/v1.json", Auth: AuthPublic, Summary: "OpenAPI document (JSON)", Handler: s.openapiJSON},
		{Method: "GET", Path: "/openapi/v1.yaml", Auth: AuthPublic, Summary: "OpenAPI document (YAML)", Handler: s.openapiYAML},

		{Method: "POST", Path: "/connect/token", Auth: AuthPublic, MaxBody: formMaxBody, Summary: "OAuth2 token endpoint", Handler: s.token},
		{Method: "POST", Path: "/connect/revoke", Auth: AuthPublic, MaxBody: formMaxBody, Summary: "OAuth2 token revocation (RFC 7009)", Handler: s.revokeToken},
		{Method: "GET", Path: "/.well-known/openid-configuration", Auth: AuthPublic, Summary: "OpenID discovery", Handler: s.discovery},
		{Method: "GET", Path: "/jwks", Auth: AuthPublic, Summary: "Token verification keys", Handler: s.jwks},
		{Method: "POST", Path: "/token/offline", Scope: authority.ScopeAdmin, Audit: true, Summary: "Mint an offline token", Handler: s.offlineToken},
		{Method: "GET", Path: "/api/v1/quota", Scope: authority.ScopeAPI, Anonymous: true, Summary: "The caller's daily scan quota", Handler: s.quotaStatus},

		{Method: "POST", Path: "/internal/signing/rotate", Auth: AuthBootstrap, Audit: true, Summary: "Rotate the signing key", Handler: s.rotate},
		{Method: "GET", Path: "/internal/revocations/export", Auth: AuthBootstrap, Audit: true, Summary: "Signed revocation bundle", Handler: s.exportRevocations},
		{Method: "POST", Path: "/internal/revocations", Auth: AuthBootstrap, Audit: true, Summary: "Revoke a token by jti", Handler: s.revokeJTI},
		{Method: "GET", Path: "/internal/clients", Auth: AuthBootstrap, Summary: "List clients", Handler: s.listClients},
		{Method: "POST", Path: "/internal/clients", Auth: AuthBootstrap, Audit: true, Summary: "Create or replace a client", Handler: s.createClient},
		{Method: "DELETE", Path: "/internal/clients/{clientId}", Auth: AuthBootstrap, Audit: true, Summary: "Delete a client", Handler: s.deleteClient},
		{Method: "GET", Path: "/internal/users", Auth: AuthBootstrap, Summary: "List users", Handler: s.listUsers},
		{Method: "POST", Path: "/internal/users", Auth: AuthBootstrap, Audit: true, Summary: "Create or replace a user", Handler: s.createUser},
		{Method: "DELETE", Path: "/internal/users/{username}", Auth: AuthBootstrap, Audit: true, Summary: "Delete a user", Handler: s.deleteUser},
		{Method: "GET", Path: "/internal/audit", Auth: AuthBootstrap, Summary: "Audit events", Handler: s.listAudit},
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(r.Context()); err != nil {
			WriteProblem(w, r, http.StatusServiceUnavailable, ProbUnavailable, "not ready: "+err.Error())
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ready"))
}

func (s *Server) metricsHandler() http.HandlerFunc {
	h := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	return h.ServeHTTP
}

func (s *Server) version(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, buildinfo.Get())
}

func (s *Server) origin(r *http.Request) authority.Origin {
	return authority.Origin{TraceID: TraceID(r.Context()), RemoteIP: PrincipalFrom(r.Context()).IP}
}

// oauthBody is an RFC 6749 §5.2 error carrying the problem fields too, so clients of either
// convention read it.
type oauthBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
	Type             string `json:"type"`
	Title            string `json:"title"`
	Status           int    `json:"status"`
	Detail           string `json:"detail,omitempty"`
	TraceID          string `json:"traceId"`
}

func (s *Server) writeOAuthError(w http.ResponseWriter, r *http.Request, e *authority.OAuthError) {
	if e.Status >= 500 {
		s.log.ErrorContext(r.Context(), "token endpoint failed", "err", e, "traceId", TraceID(r.Context()))
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="stellaops"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	WriteJSON(w, e.Status, oauthBody{Error: e.Code, ErrorDescription: e.Description, Type: ProbBase + "oauth/" + e.Code,
		Title: e.Code, Status: e.Status, Detail: e.Description, TraceID: TraceID(r.Context())})
}

// parseForm reads an application/x-www-form-urlencoded body (and only that: RFC 6749 §3.2).
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		s.writeOAuthError(w, r, &authority.OAuthError{Code: authority.ErrCodeInvalidRequest, Status: 400,
			Description: "the body must be application/x-www-form-urlencoded"})
		return false
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			WriteProblem(w, r, http.StatusRequestEntityTooLarge, ProbTooLarge, "the form exceeds the size limit")
			return false
		}
		s.writeOAuthError(w, r, &authority.OAuthError{Code: authority.ErrCodeInvalidRequest, Status: 400, Description: "malformed form body"})
		return false
	}
	// Credentials belong in the body, not the URL where logs keep them.
	if len(r.URL.Query()) > 0 {
		s.writeOAuthError(w, r, &authority.OAuthError{Code: authority.ErrCodeInvalidRequest, Status: 400, Description: "parameters must be sent in the body, not the query"})
		return false
	}
	return true
}

// ipRateLimited applies the per-token rate to unauthenticated token endpoint calls, keyed by
// IP: secrets cannot be guessed faster than the API can be called.
func (s *Server) ipRateLimited(w http.ResponseWriter, r *http.Request) bool {
	d, err := s.limiter.AllowRequest(r.Context(), "ip:"+PrincipalFrom(r.Context()).IP)
	if err != nil {
		WriteProblem(w, r, http.StatusServiceUnavailable, ProbUnavailable, "the rate limiter is unavailable")
		return true
	}
	if !d.Allowed {
		s.metrics.rateLimited.Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int((d.RetryAfter+time.Second-1)/time.Second)))
		WriteProblem(w, r, http.StatusTooManyRequests, ProbRateLimited, "too many token requests from this address")
		return true
	}
	return false
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if s.ipRateLimited(w, r) || !s.parseForm(w, r) {
		return
	}
	user, pass, hasBasic := r.BasicAuth()
	if !hasBasic && r.Header.Get("Authorization") != "" {
		s.writeOAuthError(w, r, &authority.OAuthError{Code: authority.ErrCodeInvalidClient, Status: 401, Description: "unsupported Authorization scheme"})
		return
	}
	req, oe := authority.ParseTokenRequest(r.PostForm, user, pass, hasBasic)
	if oe != nil {
		s.writeOAuthError(w, r, oe)
		return
	}
	resp, _, oe := s.auth.Token(r.Context(), req, s.origin(r))
	if oe != nil {
		s.writeOAuthError(w, r, oe)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if s.ipRateLimited(w, r) || !s.parseForm(w, r) {
		return
	}
	id, secret, hasBasic := r.BasicAuth()
	if !hasBasic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	tok := r.PostForm.Get("token")
	if len(r.PostForm["token"]) != 1 || tok == "" {
		s.writeOAuthError(w, r, &authority.OAuthError{Code: authority.ErrCodeInvalidRequest, Status: 400, Description: "exactly one token parameter is required"})
		return
	}
	if oe := s.auth.RevokeToken(r.Context(), id, secret, tok, s.origin(r)); oe != nil {
		s.writeOAuthError(w, r, oe)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Discovery is the subset of OpenID Provider Metadata the Authority supports.
type Discovery struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
}

func (s *Server) discovery(w http.ResponseWriter, _ *http.Request) {
	iss := s.auth.Issuer()
	WriteJSON(w, http.StatusOK, Discovery{
		Issuer: iss, TokenEndpoint: iss + "/connect/token", RevocationEndpoint: iss + "/connect/revoke", JWKSURI: iss + "/jwks",
		GrantTypesSupported: []string{authority.GrantClientCredentials, authority.GrantPassword}, ScopesSupported: authority.AllScopes(),
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		IDTokenSigningAlgValuesSupported:  []string{authority.AlgES256, authority.AlgEdDSA},
		ResponseTypesSupported:            []string{"token"}, SubjectTypesSupported: []string{"public"},
	})
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	set, err := s.auth.JWKS(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	b, err := authority.MarshalJWKS(set)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// Short caching: verifiers refetch soon after a rotation.
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write(b)
}

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "request failed", "err", err, "traceId", TraceID(r.Context()), "path", r.URL.Path)
	WriteProblem(w, r, http.StatusInternalServerError, ProbInternal, "the server failed; the trace id finds the log entry")
}

// domainError maps an authority error to its problem.
func (s *Server) domainError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, authority.ErrBadRequest):
		WriteProblem(w, r, http.StatusBadRequest, ProbValidation, err.Error())
	case errors.Is(err, authority.ErrNotFound):
		WriteProblem(w, r, http.StatusNotFound, ProbNotFound, err.Error())
	case errors.Is(err, authority.ErrConflict):
		WriteProblem(w, r, http.StatusConflict, ProbConflict, err.Error())
	default:
		s.internalError(w, r, err)
	}
}

func (s *Server) offlineToken(w http.ResponseWriter, r *http.Request) {
	var req authority.OfflineRequest
	if r.ContentLength != 0 && !DecodeJSON(w, r, &req) {
		return
	}
	tok, err := s.auth.MintOffline(r.Context(), PrincipalFrom(r.Context()).Claims, req, s.origin(r))
	if err != nil {
		s.domainError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, tok)
}

func (s *Server) quotaStatus(w http.ResponseWriter, r *http.Request) {
	d, err := s.limiter.Peek(r.Context(), PrincipalFrom(r.Context()).QuotaSubject())
	if err != nil {
		WriteProblem(w, r, http.StatusServiceUnavailable, ProbUnavailable, "the quota store is unavailable")
		return
	}
	WriteJSON(w, http.StatusOK, QuotaStatus{Limit: d.Limit, Used: d.Used, Remaining: d.Remaining, Reset: d.ResetAt.UTC(), NextScanDelayMs: d.Delay.Milliseconds()})
}

// QuotaStatus is the body of GET /api/v1/quota.
type QuotaStatus struct {
	Limit     int       `json:"limit"`
	Used      int       `json:"used"`
	Remaining int       `json:"remaining"`
	Reset     time.Time `json:"reset"`
	// NextScanDelayMs is how long the next scan would be held.
	NextScanDelayMs int64 `json:"nextScanDelayMs"`
}

// ChargeScan counts one scan against the caller's daily quota, sets the quota headers, and
// either waits out the soft delay or, over a hard limit, answers 429 itself. It returns the
// decision and whether the scan may go on.
func (s *Server) ChargeScan(w http.ResponseWriter, r *http.Request) (quota.Decision, bool) {
	p := PrincipalFrom(r.Context())
	d, err := s.limiter.CheckScan(r.Context(), p.QuotaSubject())
	if err != nil {
		s.log.ErrorContext(r.Context(), "quota check failed", "err", err, "traceId", TraceID(r.Context()))
		WriteProblem(w, r, http.StatusServiceUnavailable, ProbUnavailable, "the quota store is unavailable")
		return d, false
	}
	d.SetHeaders(w.Header(), p.Claims.Expiry)
	if !d.Allowed {
		s.metrics.quotaHard.Inc()
		WriteProblem(w, r, http.StatusTooManyRequests, ProbQuota, "the daily scan quota is used up; it resets at "+d.ResetAt.UTC().Format(time.RFC3339))
		return d, false
	}
	if d.Delay > 0 {
		s.metrics.quotaSoft.Inc()
		if err := d.Wait(r.Context()); err != nil {
			return d, false
		}
	}
	return d, true
}

func (s *Server) rotate(w http.ResponseWriter, r *http.Request) {
	var req authority.RotateRequest
	if !DecodeJSON(w, r, &req) {
		return
	}
	res, err := s.auth.Rotate(r.Context(), req, s.origin(r))
	if err != nil {
		s.domainError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, res)
}

func (s *Server) exportRevocations(w http.ResponseWriter, r *http.Request) {
	b, err := s.auth.ExportRevocations(r.Context(), s.origin(r))
	if err != nil {
		s.domainError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, b)
}

func (s *Server) revokeJTI(w http.ResponseWriter, r *http.Request) {
	var req authority.RevokeRequest
	if !DecodeJSON(w, r, &req) {
		return
	}
	created, err := s.auth.Revoke(r.Context(), req, s.origin(r))
	if err != nil {
		s.domainError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	WriteJSON(w, status, map[string]any{"jti": req.JTI, "revoked": true, "created": created})
}

func (s *Server) listClients(w http.ResponseWriter, r *http.Request) {
	cs, err := s.auth.Store().Clients(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if cs == nil {
		cs = []authority.Client{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"clients": cs})
}

// CreatedClient is the answer of POST /internal/clients: the secret appears only here.
type CreatedClient struct {
	authority.Client
	Secret string `json:"secret"`
}

func (s *Server) createClient(w http.ResponseWriter, r *http.Request) {
	var req authority.NewClient
	if !DecodeJSON(w, r, &req) {
		return
	}
	c, secret, err := s.auth.CreateClient(r.Context(), req)
	if err != nil {
		s.domainError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusCreated, CreatedClient{Client: c, Secret: secret})
}

func (s *Server) deleteClient(w http.ResponseWriter, r *http.Request) {
	if err := s.auth.DeleteClient(r.Context(), r.PathValue("clientId")); err != nil {
		s.domainError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := s.auth.Store().Users(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if us == nil {
		us = []authority.User{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"users": us})
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var req authority.NewUser
	if !DecodeJSON(w, r, &req) {
		return
	}
	u, err := s.auth.CreateUser(r.Context(), req)
	if err != nil {
		s.domainError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusCreated, u)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	if err := s.auth.DeleteUser(r.Context(), r.PathValue("username")); err != nil {
		s.domainError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, limit := int64(0), 100
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			WriteProblem(w, r, http.StatusBadRequest, ProbValidation, "after must be a non-negative integer")
			return
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			WriteProblem(w, r, http.StatusBadRequest, ProbValidation, "limit must be between 1 and 1000")
			return
		}
		limit = n
	}
	evs, err := s.auth.Store().Audit(r.Context(), after, limit)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if evs == nil {
		evs = []authority.AuditEvent{}
	}
	body := map[string]any{"events": evs}
	if len(evs) == limit {
		body["next"] = evs[len(evs)-1].Seq
	}
	WriteJSON(w, http.StatusOK, body)
}
