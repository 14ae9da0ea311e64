package api

import (
	"strings"
	"testing"
	"testing/fstest"

	"go.yaml.in/yaml/v3"
)

func TestMergeOpenAPIFragments(t *testing.T) {
	base := "openapi: 3.0.3\ninfo: {title: t, version: '1'}\ntags: [{name: platform}]\npaths:\n  /healthz: {get: {responses: {'200': {description: ok}}}}\ncomponents:\n  schemas:\n    Problem: {type: object}\n"
	frag := "tags: [{name: scans}]\npaths:\n  /scan: {post: {responses: {'200': {description: ok}}}}\ncomponents:\n  schemas:\n    Scan: {type: object}\n"
	fsys := fstest.MapFS{"openapi/v1.yaml": {Data: []byte(base)}, "openapi/scans.yaml": {Data: []byte(frag)}}
	y, err := mergeOpenAPI(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]any `yaml:"paths"`
		Tags       []struct{ Name string }
		Components struct{ Schemas map[string]any }
	}
	if err := yaml.Unmarshal(y, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Paths) != 2 || len(doc.Tags) != 2 || len(doc.Components.Schemas) != 2 {
		t.Fatalf("merged %s", y)
	}
	for name, bad := range map[string]string{
		"duplicate path":   "paths:\n  /healthz: {get: {}}\n",
		"duplicate schema": "components:\n  schemas:\n    Problem: {type: string}\n",
		"duplicate tag":    "tags: [{name: platform}]\n",
		"servers":          "servers: [{url: x}]\n",
	} {
		fsys["openapi/scans.yaml"] = &fstest.MapFile{Data: []byte(bad)}
		if _, err := mergeOpenAPI(fsys); err == nil || !strings.Contains(err.Error(), "scans.yaml") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
