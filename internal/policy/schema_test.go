package policy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/stellaops/stellaops/internal/policy"
)

// clientSchema compiles Schema() the way a client that downloaded it would.
func clientSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(policy.Schema()))
	if err != nil {
		t.Fatal(err)
	}
	if doc.(map[string]any)["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("$schema = %v", doc.(map[string]any)["$schema"])
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("policy.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("policy.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlToJSON decodes YAML with the plain YAML library, independently of the package.
func yamlToJSON(t *testing.T, content string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(content), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The published schema and the package agree: what one accepts the other accepts.
func TestSchemaAgreesWithValidation(t *testing.T) {
	s := clientSchema(t)
	e := newEngine(t)
	var diag, preview struct {
		Policy policy.Source `json:"policy"`
	}
	decodeFile(t, "spec/diagnostics-request.json", &diag)
	decodeFile(t, "spec/preview-request.json", &preview)
	valid := map[string]string{
		"baseline.yaml":    string(readFile(t, "baseline.yaml")),
		"lint.yaml":        string(readFile(t, "lint.yaml")),
		"rego/beside.yaml": string(readFile(t, "rego/beside.yaml")),
		"spec diagnostics": diag.Policy.Content,
		"spec preview":     preview.Policy.Content,
	}
	for name, content := range valid {
		if err := s.Validate(yamlToJSON(t, content)); err != nil {
			t.Errorf("%s: schema rejects a valid policy: %v", name, err)
		}
		if _, err := e.Compile(context.Background(), policy.Source{Content: content}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	head := "version: \"1.0\"\nrules:\n  - name: r\n"
	invalid := map[string]string{
		"spec import":          string(readFile(t, "spec/import.yaml")),
		"many errors":          string(readFile(t, "invalid/many-errors.yaml")),
		"no version":           "rules: []\n",
		"version 2":            "version: \"2.0\"\n",
		"unknown top field":    "version: \"1.0\"\nowner: x\n",
		"missing action":       "version: \"1.0\"\nrules:\n  - name: r\n",
		"missing name":         "version: \"1.0\"\nrules:\n  - action: block\n",
		"level None":           head + "    severity: [None]\n    action: block\n",
		"level lower case":     head + "    severity: [critical]\n    action: block\n",
		"unknown action":       head + "    action: deny\n",
		"action type missing":  head + "    action: {justification: x}\n",
		"requireVex on ignore": head + "    action: {type: ignore, requireVex: {vendors: [a]}}\n",
		"requireVex bad field": head + "    action: {requireVex: {vendor: [a]}}\n",
		"package not a purl":   head + "    packages: [lodash]\n    action: block\n",
		"expires not a date":   head + "    expires: next week\n    action: block\n",
		"quiet not a bool":     head + "    quiet: \"yes\"\n    action: block\n",
		"tags not a list":      head + "    tags: kev\n    action: block\n",
		"empty tag":            head + "    tags: [\"\"]\n    action: block\n",
		"unknown rule field":   head + "    environment: prod\n    action: block\n",
		"weight too high":      "version: \"1.0\"\nscoring:\n  reachabilityWeights: {runtime: 11}\n",
		"negative weight":      "version: \"1.0\"\nscoring:\n  severityWeights: {Critical: -1}\n",
		"scoring level":        "version: \"1.0\"\nscoring:\n  severityWeights: {Severe: 1}\n",
		"rego not a string":    "version: \"1.0\"\nrego: [a]\n",
	}
	for name, content := range invalid {
		if err := s.Validate(yamlToJSON(t, content)); err == nil {
			t.Errorf("%s: schema accepts an invalid policy", name)
		}
		if _, err := e.Compile(context.Background(), policy.Source{Content: content}); err == nil {
			t.Errorf("%s: Compile accepts an invalid policy", name)
		}
	}
}

func TestSchemaIsACopy(t *testing.T) {
	a := policy.Schema()
	a[0] = 'x'
	if policy.Schema()[0] != '{' {
		t.Error("Schema() returns shared bytes")
	}
}
