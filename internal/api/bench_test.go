package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stellaops/stellaops/internal/authority"
)

// BenchmarkAuthenticatedRoute is the server-side cost of one cheap authenticated request:
// token verification, revocation check, rate limit, quota headers, metrics, the handler.
func BenchmarkAuthenticatedRoute(b *testing.B) {
	e := newEnv(b, "https://authority.test", nil)
	tok, _ := e.tokenWith(b, "bench", []string{authority.ScopeAPI})
	h := e.srv.Handler()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/quota", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}
