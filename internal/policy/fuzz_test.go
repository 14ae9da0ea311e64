package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/policy"
)

// FuzzParsePolicy feeds arbitrary text to the YAML policy parser. Whatever the input, it must
// not panic, Diagnose and Compile must agree on whether it is valid, every error must carry a
// path, and a valid policy written back as JSON must compile to the same digest (the canonical
// form survives a round trip).
func FuzzParsePolicy(f *testing.F) {
	for _, name := range []string{"baseline.yaml", "lint.yaml", "rego/beside.yaml", "invalid/many-errors.yaml", "spec/import.yaml"} {
		f.Add(string(readFile(f, name)))
	}
	f.Add("version: \"1.0\"\nrules:\n  - name: Block Critical\n    severity: [Critical]\n    action: block\n")
	f.Add("version: \"1.0\"\nrules:\n  - name: Quiet Dev\n    environments: [dev]\n    action:\n      type: ignore\n      justification: dev waiver\n")
	f.Add("version: \"1.0\"\nrules:\n  - &a {name: x, action: warn}\n  - *a\n")
	f.Add("version: \"1.0\"\ndescription: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n")
	f.Add("{\"version\": \"1.0\", \"rules\": [{\"name\": \"a\", \"packages\": [\"pkg:npm/*\"], \"action\": {\"requireVex\": {}}}]}")
	cfg := policy.DefaultConfig()
	cfg.Now = fixedClock(specNow)
	e := policy.New(cfg)
	ctx := context.Background()
	finding := []policy.Finding{{ID: "f", Severity: "Critical", Source: "NVD", Package: "pkg:npm/x@1", Environment: "dev", Tags: []string{"kev"}}}
	f.Fuzz(func(t *testing.T, content string) {
		d, err := e.Diagnose(ctx, policy.Source{Content: content})
		if err != nil {
			t.Fatalf("Diagnose failed: %v", err)
		}
		for _, is := range d.Issues {
			if !strings.HasPrefix(is.Path, "$") || is.Code == "" || is.Message == "" {
				t.Fatalf("malformed issue %+v", is)
			}
		}
		p, err := e.Compile(ctx, policy.Source{Content: content})
		if (err == nil) != (d.ErrorCount == 0) {
			t.Fatalf("Compile err %v but diagnostics has %d errors", err, d.ErrorCount)
		}
		if err != nil {
			var ve *policy.ValidationErrors
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("Compile error is not a validation error: %v", err)
			}
			return
		}
		b, err := json.Marshal(p.Document())
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.Compile(ctx, policy.Source{Content: string(b)})
		if err != nil {
			t.Fatalf("document written back as JSON does not compile: %v\n%s", err, b)
		}
		if again.Digest() != p.Digest() {
			t.Fatalf("digest changed on round trip:\n%s", b)
		}
		if _, err := p.Evaluate(ctx, policy.Input{Findings: finding}); err != nil && !errors.Is(err, policy.ErrTimeBudget) {
			t.Fatalf("Evaluate: %v", err)
		}
	})
}
