package policy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/policy"
)

// specNow is the generatedAt of the spec's diagnostics example.
var specNow = time.Date(2025, 10, 19, 3, 25, 14, 112_000_000, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// newEngine is the default engine on a fixed clock.
func newEngine(t testing.TB) *policy.Engine {
	t.Helper()
	cfg := policy.DefaultConfig()
	cfg.Now = fixedClock(specNow)
	return policy.New(cfg)
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeFile(t testing.TB, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(readFile(t, name), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// compile compiles a YAML policy from testdata or fails the test.
func compile(t testing.TB, e *policy.Engine, name string) *policy.Policy {
	t.Helper()
	format := policy.FormatYAML
	if filepath.Ext(name) == ".rego" {
		format = policy.FormatRego
	}
	p, err := e.Compile(context.Background(), policy.Source{Format: format, Content: string(readFile(t, name))})
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return p
}

func compileString(t testing.TB, e *policy.Engine, format policy.Format, content string) *policy.Policy {
	t.Helper()
	p, err := e.Compile(context.Background(), policy.Source{Format: format, Content: content})
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, content)
	}
	return p
}

// assertJSON compares got's JSON encoding with want's semantically (key order and number
// spelling aside: 5.0 and 5 are the same number).
func assertJSON(t *testing.T, got any, want []byte) {
	t.Helper()
	gb, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(gb, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(w, g); d != "" {
		t.Errorf("JSON mismatch (-want +got):\n%s\ngot: %s", d, gb)
	}
}

func evaluate(t testing.TB, p *policy.Policy, in policy.Input) policy.Result {
	t.Helper()
	res, err := p.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
