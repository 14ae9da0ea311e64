package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"go.yaml.in/yaml/v3"
)

// openapiYAML is the OpenAPI 3 document of every route, written by hand next to the code and
// kept true by tests (every registered route is in it; responses validate against it).
//
//go:embed openapi/v1.yaml
var openapiYAML []byte

// openapiJSONDoc converts the YAML once.
var openapiJSONDoc = sync.OnceValues(func() ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(openapiYAML, &v); err != nil {
		return nil, fmt.Errorf("api: openapi yaml: %w", err)
	}
	return json.Marshal(v)
})

// OpenAPIYAML returns the OpenAPI document as YAML.
func OpenAPIYAML() []byte { return openapiYAML }

// OpenAPIJSON returns the OpenAPI document as JSON.
func OpenAPIJSON() ([]byte, error) { return openapiJSONDoc() }

func (s *Server) openapiYAML(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openapiYAML)
}

func (s *Server) openapiJSON(w http.ResponseWriter, r *http.Request) {
	b, err := openapiJSONDoc()
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
