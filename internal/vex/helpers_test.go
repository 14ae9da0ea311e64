package vex_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/vex"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseFile parses a testdata file with format detection.
func parseFile(t testing.TB, name string) *vex.Document {
	t.Helper()
	d, err := vex.Parse(context.Background(), bytes.NewReader(readTestdata(t, name)), name)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return d
}

// txtarFiles splits a txtar archive into its files ("-- name --" lines; the leading comment is
// dropped).
func txtarFiles(t testing.TB, name string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var cur string
	for _, line := range strings.SplitAfter(string(readTestdata(t, name)), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			cur = strings.TrimSuffix(strings.TrimPrefix(trimmed, "-- "), " --")
			out[cur] = []byte{}
			continue
		}
		if cur != "" {
			out[cur] = append(out[cur], line...)
		}
	}
	return out
}

// findClaim returns the claims about vuln and product (normalised purl).
func findClaims(d *vex.Document, vuln, product string) []vex.Claim {
	var out []vex.Claim
	for _, c := range d.Claims {
		if c.Vulnerability == vuln && c.Product == product {
			out = append(out, c)
		}
	}
	return out
}

func oneClaim(t testing.TB, d *vex.Document, vuln, product string) vex.Claim {
	t.Helper()
	cs := findClaims(d, vuln, product)
	if len(cs) != 1 {
		t.Fatalf("%s: %d claims for (%s, %s), want 1; claims: %+v", d.Name, len(cs), vuln, product, d.Claims)
	}
	return cs[0]
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts.UTC()
}
