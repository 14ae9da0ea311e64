package vex_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/vex"
)

func TestParseDetectsFormat(t *testing.T) {
	for file, want := range map[string]vex.Format{
		"openvex-v0.2.0.json":              vex.FormatOpenVEX,
		"openvex-v0.0.1.json":              vex.FormatOpenVEX,
		"cdx-vex.json":                     vex.FormatCycloneDX,
		"cdx-vex-bom.json":                 vex.FormatCycloneDX,
		"cdx-valid-vulnerability-1.6.json": vex.FormatCycloneDX,
		"csaf-example-not-affected.json":   vex.FormatCSAF,
		"rhsa-2024_4546.csaf.json":         vex.FormatCSAF,
		"rhsa-2024_6220.csaf.json.gz":      vex.FormatCSAF,
		"mainline-cve-2024-5535.json":      vex.FormatCSAF,
	} {
		if got := parseFile(t, file).Format; got != want {
			t.Errorf("%s: format %q, want %q", file, got, want)
		}
	}
}

// TestParseDeterministic parses every sample twice and compares the JSON; the digest is over the
// document bytes, so the gzipped and plain forms of one document share it.
func TestParseDeterministic(t *testing.T) {
	for _, file := range []string{"openvex-v0.2.0.json", "cdx-vex.json", "rhsa-2024_6220.csaf.json.gz", "mainline-cve-2024-5535.json"} {
		a, _ := json.Marshal(parseFile(t, file))
		b, _ := json.Marshal(parseFile(t, file))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two parses differ", file)
		}
	}
	plain := readTestdata(t, "rhsa-2024_4546.csaf.json")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	d1 := parseFile(t, "rhsa-2024_4546.csaf.json")
	d2, err := vex.Parse(context.Background(), &gz, "x.gz")
	if err != nil {
		t.Fatal(err)
	}
	if d1.Digest != d2.Digest || d1.Digest != "sha256:fac41f6beb849eefceb6626193fed5522346d34beacf4e4e3558df6e45507c12" {
		t.Errorf("digests %s %s", d1.Digest, d2.Digest)
	}
}

func TestParseLimits(t *testing.T) {
	ctx := context.Background()
	file := readTestdata(t, "rhsa-2024_6220.csaf.json.gz") // 342 claims, 1 vulnerability
	for name, tc := range map[string]struct {
		cfg  vex.Config
		want error
		msg  string
	}{
		"bytes":  {vex.Config{MaxDocumentBytes: 10_000}, vex.ErrTooLarge, "more than 10000 bytes"},
		"claims": {vex.Config{MaxClaims: 200}, vex.ErrTooMany, "more than 200 claims"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := vex.New(tc.cfg).Parse(ctx, bytes.NewReader(file), "rhsa-2024_6220.csaf.json.gz")
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "rhsa-2024_6220") {
				t.Errorf("err = %v, want %v with %q", err, tc.want, tc.msg)
			}
		})
	}
	// Statements: an OpenVEX document with 11 statements against a limit of 10.
	var stmts []string
	for i := range 11 {
		stmts = append(stmts, fmt.Sprintf(`{"vulnerability":"CVE-2024-%04d","products":["pkg:npm/a@1"],"status":"fixed"}`, i))
	}
	doc := `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[` + strings.Join(stmts, ",") + `]}`
	_, err := vex.New(vex.Config{MaxStatements: 10}).Parse(ctx, strings.NewReader(doc), "many.json")
	if !errors.Is(err, vex.ErrTooMany) || !strings.Contains(err.Error(), "11 statements, limit 10") {
		t.Errorf("statements: %v", err)
	}
	if _, err := vex.New(vex.Config{MaxStatements: 11}).Parse(ctx, strings.NewReader(doc), "many.json"); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	// A gzip bomb stops at the limit of decompressed bytes.
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(bytes.Repeat([]byte(" "), 1<<20))
	zw.Close()
	if _, err := vex.New(vex.Config{MaxDocumentBytes: 1 << 16}).Parse(ctx, &bomb, "bomb.gz"); !errors.Is(err, vex.ErrTooLarge) {
		t.Errorf("gzip bomb: %v", err)
	}
}

func TestParseMalformed(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		want error
		msg  string
	}{
		"empty":       {"", vex.ErrMalformed, "invalid JSON"},
		"truncated":   {`{"@context": "https://openvex.dev/ns", "statements": [`, vex.ErrMalformed, "invalid JSON"},
		"array":       {`[1,2]`, vex.ErrMalformed, "the top level is a JSON array, not an object"},
		"unknown":     {`{"hello": "world"}`, vex.ErrFormat, "no OpenVEX @context"},
		"bad gzip":    {"\x1f\x8b\x08\x00garbage", vex.ErrMalformed, "gzip"},
		"syntax":      {`{"bomFormat": "CycloneDX",}`, vex.ErrMalformed, "invalid JSON at byte"},
		"csaf string": {`{"document": {"csaf_version": "2.0"}, "vulnerabilities": "x"}`, vex.ErrMalformed, `field "vulnerabilities"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := vex.Parse(context.Background(), strings.NewReader(tc.in), "doc-"+name)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "doc-"+name) {
				t.Errorf("err = %v, want %v containing %q and the document name", err, tc.want, tc.msg)
			}
		})
	}
}

func TestParseByteOrderMarkAndContextArray(t *testing.T) {
	// An unrelated top-level "document" string must not hide the OpenVEX @context either.
	doc := "\xef\xbb\xbf" + `{"@context":["https://openvex.dev/ns/v0.2.0"],"document":"x","author":"A","statements":[{"vulnerability":"CVE-1","products":["pkg:npm/a@1"],"status":"fixed"}]}`
	d, err := vex.Parse(context.Background(), strings.NewReader(doc), "bom.json")
	if err != nil || len(d.Claims) != 1 {
		t.Fatalf("%v %+v", err, d)
	}
}

func TestParseCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := vex.Parse(ctx, bytes.NewReader(readTestdata(t, "cdx-vex.json")), "cdx-vex.json")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

// TestParseMergesDuplicates: one statement naming the same purl twice gives one claim with both
// references.
func TestParseMergesDuplicates(t *testing.T) {
	doc := `{"@context":"https://openvex.dev/ns","statements":[{"vulnerability":"CVE-1","products":["pkg:NPM/a@1","pkg:npm/a@1"],"status":"fixed"}]}`
	d, err := vex.Parse(context.Background(), strings.NewReader(doc), "dup.json")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"pkg:NPM/a@1", "pkg:npm/a@1"}, d.Claims[0].Source.ProductRefs); len(d.Claims) != 1 || diff != "" {
		t.Errorf("%d claims; refs (-want +got):\n%s", len(d.Claims), diff)
	}
}
