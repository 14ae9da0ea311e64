package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/authority"
)

// statusWriter remembers the status code for metrics and audit.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines (SSE handlers need them).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap builds the middleware chain of one route. It is one function rather than a stack of
// closures so that the order is visible and the hot path allocates little.
func (s *Server) wrap(rt Route) http.Handler {
	pattern := rt.Pattern()
	maxBody := rt.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := context.WithValue(r.Context(), traceKey, newTraceparent(r.Header.Get("traceparent")))
		trace := TraceID(ctx)
		sw := &statusWriter{ResponseWriter: w}
		sw.Header().Set("X-Trace-Id", trace)
		s.metrics.inflight.Inc()
		p := Principal{IP: s.clientIP(r)}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(ctx, "handler panic", "route", pattern, "panic", fmt.Sprint(v), "traceId", trace)
				if sw.status == 0 {
					WriteProblem(sw, r, http.StatusInternalServerError, ProbInternal, "the server failed; the trace id finds the log entry")
				}
			}
			s.metrics.inflight.Dec()
			code := sw.status
			if code == 0 {
				code = http.StatusOK
			}
			s.metrics.requests.WithLabelValues(pattern, r.Method, strconv.Itoa(code)).Inc()
			s.metrics.duration.WithLabelValues(pattern, r.Method).Observe(time.Since(start).Seconds())
			if rt.Audit {
				s.auth.Audit(ctx, authority.AuditEvent{Type: "http.request", Outcome: outcome(code), Subject: p.Claims.Subject,
					ClientID: p.Claims.ClientID, Scopes: p.Claims.Scopes, Status: code, TraceID: trace, RemoteIP: p.IP,
					Detail: r.Method + " " + r.URL.Path})
			}
		}()
		if r.ContentLength > maxBody {
			s.setQuotaHeaders(sw, r.WithContext(ctx), p)
			WriteProblem(sw, r.WithContext(ctx), http.StatusRequestEntityTooLarge, ProbTooLarge, fmt.Sprintf("the body exceeds %d bytes", maxBody))
			return
		}
		r.Body = http.MaxBytesReader(sw, r.Body, maxBody)
		r = r.WithContext(ctx)

		switch rt.Auth {
		case AuthPublic:
			p.Anonymous = true
		case AuthBootstrap:
			if !s.bootstrapOK(r) {
				s.metrics.authFail.WithLabelValues("bootstrap_key").Inc()
				s.setQuotaHeaders(sw, r, p)
				sw.Header().Set("WWW-Authenticate", bootstrapChallenge)
				WriteProblem(sw, r, http.StatusUnauthorized, ProbUnauthorized, "this route needs a valid "+HeaderBootstrapKey+" header")
				return
			}
			p.Bootstrap = true
		default:
			var ok bool
			if p, ok = s.authenticate(sw, r, rt, p); !ok {
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), principalKey, p))
		if rt.Auth == AuthToken {
			// Bootstrap and public routes are not rate limited per token: they have none.
			d, err := s.limiter.AllowRequest(r.Context(), p.rateID())
			if err != nil {
				s.log.ErrorContext(r.Context(), "rate limit check failed", "err", err, "traceId", trace)
				WriteProblem(sw, r, http.StatusServiceUnavailable, ProbUnavailable, "the rate limiter is unavailable")
				return
			}
			if !d.Allowed {
				s.metrics.rateLimited.Inc()
				s.setQuotaHeaders(sw, r, p)
				sw.Header().Set("Retry-After", strconv.Itoa(int((d.RetryAfter+time.Second-1)/time.Second)))
				WriteProblem(sw, r, http.StatusTooManyRequests, ProbRateLimited,
					fmt.Sprintf("rate limit of %d requests per second exceeded", d.Limit))
				return
			}
		}
		s.setQuotaHeaders(sw, r, p)
		rt.Handler(sw, r)
	})
}

// bootstrapChallenge names the credential /internal/* routes want: RFC 9110 requires a
// challenge on every 401, and the bootstrap key is not a bearer token.
const bootstrapChallenge = `StellaOps-Bootstrap-Key realm="stellaops-internal", header="` + HeaderBootstrapKey + `"`

func outcome(code int) string {
	if code < 400 {
		return "success"
	}
	return "failure"
}

// authenticate checks the bearer token and the route's scope, answering 401/403 itself.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, rt Route, p Principal) (Principal, bool) {
	raw, present, malformed := bearer(r)
	if !present {
		if rt.Anonymous && s.cfg.AllowAnonymousFallback {
			p.Anonymous = true
			return p, true
		}
		s.metrics.authFail.WithLabelValues("missing").Inc()
		s.deny(w, r, p, http.StatusUnauthorized, `Bearer realm="stellaops"`, "a bearer token is required")
		return p, false
	}
	if malformed {
		s.metrics.authFail.WithLabelValues("malformed").Inc()
		s.deny(w, r, p, http.StatusUnauthorized, `Bearer realm="stellaops", error="invalid_request"`, "the Authorization header is not a bearer token")
		return p, false
	}
	c, err := s.auth.Validate(r.Context(), raw)
	if err != nil {
		reason := "invalid"
		switch {
		case errors.Is(err, authority.ErrTokenExpired):
			reason = "expired"
		case errors.Is(err, authority.ErrTokenRevoked):
			reason = "revoked"
		case !errors.Is(err, authority.ErrInvalidToken):
			s.log.ErrorContext(r.Context(), "token validation failed", "err", err, "traceId", TraceID(r.Context()))
			WriteProblem(w, r, http.StatusServiceUnavailable, ProbUnavailable, "token validation is unavailable")
			return p, false
		}
		s.metrics.authFail.WithLabelValues(reason).Inc()
		s.deny(w, r, p, http.StatusUnauthorized, `Bearer realm="stellaops", error="invalid_token", error_description="`+quoteSafe(err.Error())+`"`, err.Error())
		return p, false
	}
	p.Claims = c
	if !c.HasScope(rt.Scope) {
		s.metrics.authFail.WithLabelValues("scope").Inc()
		s.deny(w, r, p, http.StatusForbidden, `Bearer realm="stellaops", error="insufficient_scope", scope="`+rt.Scope+`"`,
			fmt.Sprintf("the token lacks scope %s", rt.Scope))
		return p, false
	}
	return p, true
}

func (s *Server) deny(w http.ResponseWriter, r *http.Request, p Principal, status int, challenge, detail string) {
	w.Header().Set("WWW-Authenticate", challenge)
	s.setQuotaHeaders(w, r, p)
	typ := ProbUnauthorized
	if status == http.StatusForbidden {
		typ = ProbForbidden
	}
	WriteProblem(w, r, status, typ, detail)
}

// quoteSafe keeps an error text legal inside a quoted-string of a challenge.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return '\''
		}
		return r
	}, s)
}

// bearer extracts the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (token string, present, malformed bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false, false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", true, true
	}
	return strings.TrimSpace(tok), true, false
}

// setQuotaHeaders puts the caller's daily quota on the response (API spec §2.1: every
// response). A counter store outage must not fail the request, so it is logged and skipped.
func (s *Server) setQuotaHeaders(w http.ResponseWriter, r *http.Request, p Principal) {
	d, err := s.limiter.Peek(r.Context(), p.QuotaSubject())
	if err != nil {
		s.log.WarnContext(r.Context(), "quota peek failed", "err", err, "traceId", TraceID(r.Context()))
		return
	}
	d.Allowed = true
	d.SetHeaders(w.Header(), p.Claims.Expiry)
}
