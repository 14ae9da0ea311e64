package api

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"sync"

	"go.yaml.in/yaml/v3"
)

// The OpenAPI document is written by hand next to the code, one file per area: v1.yaml holds
// the info, security schemes and the platform routes; every other openapi/*.yaml adds the
// paths, components and tags of one area (scans, policy, runtime, …). They are merged into one
// document at first use, so areas are edited without touching each other's files. Tests keep
// it true: every registered route is in it, and responses validate against it.
//
//go:embed openapi/*.yaml
var openapiFS embed.FS

type openapiDoc struct {
	yaml, json []byte
}

// openapiMerged is computed once: the embedded files never change in a running binary.
var openapiMerged = sync.OnceValues(func() (openapiDoc, error) {
	y, err := mergeOpenAPI(openapiFS)
	if err != nil {
		return openapiDoc{}, err
	}
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		return openapiDoc{}, fmt.Errorf("api: openapi: %w", err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return openapiDoc{}, fmt.Errorf("api: openapi: %w", err)
	}
	return openapiDoc{yaml: y, json: j}, nil
})

// mergeOpenAPI merges openapi/v1.yaml with the other openapi/*.yaml fragments (sorted by name).
// A path, tag or component defined twice is an error, not a silent override.
func mergeOpenAPI(fsys fs.FS) ([]byte, error) {
	names, err := fs.Glob(fsys, "openapi/*.yaml")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	base, err := readYAMLMap(fsys, "openapi/v1.yaml")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if name == "openapi/v1.yaml" {
			continue
		}
		frag, err := readYAMLMap(fsys, name)
		if err != nil {
			return nil, err
		}
		for key, v := range frag {
			switch key {
			case "paths":
				if err := mergeMap(base, "paths", v, name); err != nil {
					return nil, err
				}
			case "components":
				comps, ok := v.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("api: openapi %s: components is not a map", name)
				}
				bc := ensureMap(base, "components")
				for kind, entries := range comps {
					if err := mergeMap(bc, kind, entries, name+" components."+kind); err != nil {
						return nil, err
					}
				}
			case "tags":
				tags, ok := v.([]any)
				if !ok {
					return nil, fmt.Errorf("api: openapi %s: tags is not a list", name)
				}
				have, _ := base["tags"].([]any)
				for _, t := range tags {
					tm, _ := t.(map[string]any)
					for _, h := range have {
						if hm, _ := h.(map[string]any); hm != nil && tm != nil && hm["name"] == tm["name"] {
							return nil, fmt.Errorf("api: openapi %s: tag %v defined twice", name, tm["name"])
						}
					}
					have = append(have, t)
				}
				base["tags"] = have
			case "openapi", "info":
				// A fragment may carry a header to be a valid document on its own.
			default:
				return nil, fmt.Errorf("api: openapi %s: top-level key %q is not allowed in a fragment (paths, components, tags)", name, key)
			}
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(base); err != nil {
		return nil, fmt.Errorf("api: openapi: %w", err)
	}
	return buf.Bytes(), nil
}

func readYAMLMap(fsys fs.FS, name string) (map[string]any, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("api: openapi %s: %w", path.Base(name), err)
	}
	return m, nil
}

func ensureMap(m map[string]any, key string) map[string]any {
	if v, ok := m[key].(map[string]any); ok {
		return v
	}
	v := map[string]any{}
	m[key] = v
	return v
}

func mergeMap(dst map[string]any, key string, src any, where string) error {
	sm, ok := src.(map[string]any)
	if !ok {
		return fmt.Errorf("api: openapi %s: %s is not a map", where, key)
	}
	dm := ensureMap(dst, key)
	for k, v := range sm {
		if _, dup := dm[k]; dup {
			return fmt.Errorf("api: openapi %s: %s %q is already defined", where, key, k)
		}
		dm[k] = v
	}
	return nil
}

// OpenAPIYAML returns the merged OpenAPI document as YAML. It panics if the embedded files do
// not merge, which the package's tests rule out before any build ships.
func OpenAPIYAML() []byte {
	d, err := openapiMerged()
	if err != nil {
		panic(err)
	}
	return d.yaml
}

// OpenAPIJSON returns the merged OpenAPI document as JSON.
func OpenAPIJSON() ([]byte, error) {
	d, err := openapiMerged()
	return d.json, err
}

func (s *Server) openapiYAML(w http.ResponseWriter, r *http.Request) {
	d, err := openapiMerged()
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(d.yaml)
}

func (s *Server) openapiJSON(w http.ResponseWriter, r *http.Request) {
	d, err := openapiMerged()
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(d.json)
}
