package vex_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stellaops/stellaops/internal/vex"
)

// The fuzz targets feed arbitrary bytes to each parser with small limits. A parser must return a
// document or an error, never panic, and a document must hold the package's invariants.

var fuzzSeeds = []string{
	"openvex-v0.2.0.json", "openvex-v0.0.1.json", "cdx-vex.json", "cdx-vex-bom.json",
	"cdx-valid-vulnerability-1.6.json", "csaf-example-not-affected.json", "rhsa-2024_4546.csaf.json",
	"mainline-cve-2024-5535.json",
}

func addSeeds(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(readTestdata(f, s))
	}
	f.Add([]byte(`{"@context":"https://openvex.dev/ns","statements":[{"vulnerability":"CVE-1","products":["pkg:npm/a@1"],"subcomponents":["pkg:npm/b"],"status":"fixed"}]}`))
	f.Add([]byte(`{"bomFormat":"CycloneDX","components":[{"bom-ref":"x","purl":"pkg:npm/a"}],"vulnerabilities":[{"id":"CVE-1","analysis":{"state":"resolved"},"affects":[{"ref":"urn:cdx:u/1#x","versions":[{"version":"1"},{"range":"vers:npm/<2"}]}]}]}`))
	f.Add([]byte(`{"document":{"csaf_version":"2.0"},"product_tree":{"product_groups":[{"group_id":"g","product_ids":["a"]}],"relationships":[{"full_product_name":{"product_id":"a"},"product_reference":"a"}]},"vulnerabilities":[{"cve":"CVE-1","product_status":{"fixed":["a"]},"flags":[{"label":"component_not_present","group_ids":["g","g"]}]}]}`))
}

// fuzzConfig is small enough that the limits are reached by fuzzed inputs, not only by seeds.
var fuzzConfig = vex.Config{MaxDocumentBytes: 1 << 20, MaxStatements: 64, MaxClaims: 256}

func checkDocument(t *testing.T, d *vex.Document, err error) {
	if err != nil {
		if !errors.Is(err, vex.ErrMalformed) && !errors.Is(err, vex.ErrFormat) &&
			!errors.Is(err, vex.ErrTooMany) && !errors.Is(err, vex.ErrTooLarge) {
			t.Fatalf("error of no known kind: %v", err)
		}
		return
	}
	if len(d.Claims) > fuzzConfig.MaxClaims {
		t.Fatalf("%d claims over the limit", len(d.Claims))
	}
	for i, c := range d.Claims {
		switch c.Status {
		case vex.StatusNotAffected, vex.StatusAffected, vex.StatusFixed, vex.StatusUnderInvestigation:
		default:
			t.Fatalf("claim %d: status %q", i, c.Status)
		}
		if c.Vulnerability == "" || !vex.ProductMatches(c.Product, c.Product) {
			t.Fatalf("claim %d: vulnerability %q product %q", i, c.Vulnerability, c.Product)
		}
		if !slices.IsSorted(c.Source.ProductRefs) {
			t.Fatalf("claim %d: refs not sorted", i)
		}
	}
	// Consensus and Apply must cope with whatever the parser let through.
	decisions := vex.Consensus(d.Claims, vex.DefaultTrust())
	findings := make([]vex.Finding, 0, len(decisions))
	for _, dec := range decisions {
		if dec.Status != vex.StatusUnknown && dec.Decider == nil {
			t.Fatalf("decision %s %s without decider", dec.Vulnerability, dec.Product)
		}
		findings = append(findings, vex.Finding{ID: dec.Vulnerability, PURL: dec.Product})
	}
	for i, dec := range vex.Apply(findings, d.Claims, vex.DefaultTrust()) {
		if dec.Status == vex.StatusUnknown && len(dec.Claims) == 0 {
			t.Fatalf("finding %d built from a claim matched no claim: %+v", i, findings[i])
		}
	}
}

func FuzzParse(f *testing.F) {
	addSeeds(f)
	// A small gzipped document, for the gunzip path (the gzipped RHSA is too big a seed: the
	// minimiser would spend the whole run on it).
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(readTestdata(f, "openvex-v0.0.1.json"))
	zw.Close()
	f.Add(gz.Bytes())
	p := vex.New(fuzzConfig)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := p.Parse(context.Background(), bytes.NewReader(b), "fuzz")
		checkDocument(t, d, err)
	})
}

func FuzzParseOpenVEX(f *testing.F) {
	addSeeds(f)
	p := vex.New(fuzzConfig)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := p.ParseOpenVEX(context.Background(), bytes.NewReader(b), "fuzz")
		checkDocument(t, d, err)
	})
}

func FuzzParseCycloneDX(f *testing.F) {
	addSeeds(f)
	p := vex.New(fuzzConfig)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := p.ParseCycloneDX(context.Background(), bytes.NewReader(b), "fuzz")
		checkDocument(t, d, err)
	})
}

func FuzzParseCSAF(f *testing.F) {
	addSeeds(f)
	p := vex.New(fuzzConfig)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := p.ParseCSAF(context.Background(), bytes.NewReader(b), "fuzz")
		checkDocument(t, d, err)
	})
}
