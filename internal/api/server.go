// Package api is StellaOps' HTTP layer: one route table in which every route declares how it
// is authenticated and which scope it needs, the middleware every request passes (trace id,
// problem+json errors, body limits, bearer tokens, rate limit, quota headers, metrics, audit),
// and the handlers of the platform's own endpoints (Authority, health, metrics, version,
// OpenAPI). Product endpoints register into the same table with Handle.
package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/quota"
)

// Auth says how a route authenticates its callers.
type Auth int

const (
	// AuthToken needs a bearer token with the route's Scope (the default).
	AuthToken Auth = iota
	// AuthPublic needs nothing (health, discovery, the token endpoint itself).
	AuthPublic
	// AuthBootstrap needs the x-stellaops-bootstrap-key header (/internal/*).
	AuthBootstrap
)

// HeaderBootstrapKey carries the bootstrap API key of /internal/* routes.
const HeaderBootstrapKey = "X-StellaOps-Bootstrap-Key"

// DefaultMaxBody bounds request bodies of routes that do not set their own limit.
const DefaultMaxBody = 1 << 20

// Route is one entry of the route table.
type Route struct {
	// Method and Path form a net/http pattern: "GET /api/v1/scans/{scanId}".
	Method string
	Path   string
	Auth   Auth
	// Scope is required of AuthToken routes.
	Scope string
	// Anonymous lets the route serve callers without a token when the configuration allows
	// the anonymous fallback.
	Anonymous bool
	// Audit records every call (subject, client, scopes, status, trace id); /jobs* routes
	// are always audited.
	Audit bool
	// MaxBody bounds the request body; 0 means DefaultMaxBody.
	MaxBody int64
	// Summary is a one-line description for logs and route listings.
	Summary string
	Handler http.HandlerFunc
}

// Pattern returns the route's net/http pattern.
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// Config tunes a Server.
type Config struct {
	// BootstrapKey guards /internal/*; empty disables those routes (401 for everyone).
	BootstrapKey string
	// AllowAnonymousFallback lets Anonymous routes serve callers without a token.
	AllowAnonymousFallback bool
	// TrustForwardedFor takes the client IP from X-Forwarded-For's first entry, for servers
	// behind a proxy that sets it; otherwise the peer address is the client.
	TrustForwardedFor bool
	// Ready reports readiness (/readyz); nil means always ready.
	Ready func(ctx context.Context) error
	Now   func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Server is the HTTP API.
type Server struct {
	cfg      Config
	auth     *authority.Service
	limiter  *quota.Limiter
	registry *prometheus.Registry
	metrics  *metrics
	log      *slog.Logger

	routes  []Route
	mux     *http.ServeMux
	pathMux *http.ServeMux
	methods map[string][]string
}

// New returns a Server with the platform routes registered. reg receives the server's
// metrics and is what /metrics exposes.
func New(cfg Config, auth *authority.Service, limiter *quota.Limiter, reg *prometheus.Registry) (*Server, error) {
	if auth == nil || limiter == nil || reg == nil {
		return nil, errors.New("api: authority, limiter and registry are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, auth: auth, limiter: limiter, registry: reg, metrics: newMetrics(reg), log: cfg.Logger,
		mux: http.NewServeMux(), pathMux: http.NewServeMux(), methods: map[string][]string{}}
	for _, r := range s.platformRoutes() {
		if err := s.Handle(r); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Handle adds r to the route table.
func (s *Server) Handle(r Route) error {
	if r.Method == "" || !strings.HasPrefix(r.Path, "/") || r.Handler == nil {
		return fmt.Errorf("api: route %q: method, path and handler are required", r.Pattern())
	}
	if r.Auth == AuthToken && !authority.KnownScope(r.Scope) {
		return fmt.Errorf("api: route %q: unknown scope %q", r.Pattern(), r.Scope)
	}
	for _, have := range s.routes {
		if have.Pattern() == r.Pattern() {
			return fmt.Errorf("api: route %q registered twice", r.Pattern())
		}
	}
	if strings.HasPrefix(r.Path, "/jobs") {
		r.Audit = true
	}
	s.routes = append(s.routes, r)
	s.mux.Handle(r.Pattern(), s.wrap(r))
	if _, ok := s.methods[r.Path]; !ok {
		s.pathMux.Handle(r.Path, http.NotFoundHandler())
	}
	s.methods[r.Path] = append(s.methods[r.Path], r.Method)
	return nil
}

// Routes returns the route table sorted by path, then method.
func (s *Server) Routes() []Route {
	out := slices.Clone(s.routes)
	slices.SortFunc(out, func(a, b Route) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	return out
}

// Authority returns the server's Authority.
func (s *Server) Authority() *authority.Service { return s.auth }

// Limiter returns the server's quota limiter.
func (s *Server) Limiter() *quota.Limiter { return s.limiter }

// Handler returns the root handler: table routes, and problem+json 404/405 for the rest.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.mux.Handler(r); pattern != "" {
			s.mux.ServeHTTP(w, r)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), traceKey, newTraceparent(r.Header.Get("traceparent"))))
		w.Header().Set("X-Trace-Id", TraceID(r.Context()))
		s.setQuotaHeaders(w, r, Principal{IP: s.clientIP(r)})
		if _, pattern := s.pathMux.Handler(r); pattern != "" {
			allow := slices.Clone(s.methods[pattern])
			if slices.Contains(allow, http.MethodGet) {
				allow = append(allow, http.MethodHead)
			}
			slices.Sort(allow)
			w.Header().Set("Allow", strings.Join(allow, ", "))
			WriteProblem(w, r, http.StatusMethodNotAllowed, ProbMethod, fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path))
			s.metrics.requests.WithLabelValues("unmatched", r.Method, "405").Inc()
			return
		}
		WriteProblem(w, r, http.StatusNotFound, ProbNotFound, "no route for "+r.URL.Path)
		s.metrics.requests.WithLabelValues("unmatched", r.Method, "404").Inc()
	})
}

// Principal is the authenticated caller of a request.
type Principal struct {
	// Claims of the bearer token; zero for anonymous and bootstrap callers.
	Claims authority.Claims
	// Anonymous is true for a caller without a token on an Anonymous route.
	Anonymous bool
	// Bootstrap is true for an /internal/* caller with the bootstrap key.
	Bootstrap bool
	// IP is the client address.
	IP string
}

// QuotaSubject is who the caller's scans and requests count against: the token holder (not
// the token, so that minting more tokens does not multiply the allowance) or the IP.
func (p Principal) QuotaSubject() quota.Subject {
	if p.Anonymous || p.Claims.Subject == "" {
		return quota.Anonymous(p.IP)
	}
	return quota.Token(p.rateID(), p.Claims.MaxScansPerDay)
}

func (p Principal) rateID() string {
	if p.Anonymous || p.Claims.Subject == "" {
		return "ip:" + p.IP
	}
	return "sub:" + p.Claims.Subject + "\x00client:" + p.Claims.ClientID + "\x00tid:" + p.Claims.Tenant
}

// PrincipalFrom returns the caller of a request that passed the route's authentication.
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey).(Principal)
	return p
}

// clientIP returns the request's client address.
func (s *Server) clientIP(r *http.Request) string {
	if s.cfg.TrustForwardedFor {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			return strings.TrimSpace(first)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// bootstrapOK compares the header with the configured key in constant time.
func (s *Server) bootstrapOK(r *http.Request) bool {
	got := r.Header.Get(HeaderBootstrapKey)
	return s.cfg.BootstrapKey != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.BootstrapKey)) == 1
}
