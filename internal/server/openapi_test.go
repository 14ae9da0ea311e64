package server_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/server"
)

var wildcard = regexp.MustCompile(`\{([^}.]+)(\.\.\.)?\}`)

// TestOpenAPIMatchesAllRoutes: on a server with every area mounted, each registered route is
// in the merged OpenAPI document and each operation of the document is a registered route, so
// neither a new route nor a stale fragment can slip through.
func TestOpenAPIMatchesAllRoutes(t *testing.T) {
	r := start(t, baseConfig(), server.Options{DataDir: t.TempDir()})
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIYAML())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, rt := range r.srv.API.Routes() {
		p := wildcard.ReplaceAllString(rt.Path, "{$1}")
		routes[rt.Method+" "+p] = true
		if item := doc.Paths.Value(p); item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("route %s is not in the OpenAPI document", rt.Pattern())
		}
	}
	for p, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !routes[method+" "+p] {
				t.Errorf("the OpenAPI document has %s %s, which the server does not register", method, p)
			}
		}
	}
	if len(routes) < 40 {
		t.Fatalf("only %d routes mounted", len(routes))
	}
}
