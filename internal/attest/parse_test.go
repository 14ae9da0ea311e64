package attest_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/attest"
)

const (
	sha = `"sha256":"a2078ca3251cf1edd26e5faf9c4c823dfeb991ef56541d7aafc15d4460307bd0"`
	// minimal is a valid scan-result statement; the cases below break one thing each.
	minimal = `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"img","digest":{` + sha + `}}],` +
		`"predicateType":"https://stellaops.org/attestations/scan-result/v1","predicate":{"summary":{"High":1}}}`
)

func TestParseMinimal(t *testing.T) {
	st, err := attest.Parse([]byte(minimal), attest.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_type":"https://in-toto.io/Statement/v1","predicate":{"summary":{"High":1}},` +
		`"predicateType":"https://stellaops.org/attestations/scan-result/v1","subject":[{"digest":{` + sha + `},"name":"img"}]}`
	if string(st.Bytes()) != want {
		t.Errorf("canonical form:\n%s\nwant\n%s", st.Bytes(), want)
	}
}

// TestParseIgnoresUnknownMembers: the in-toto specification tells consumers to ignore members
// it does not define; the canonical form leaves them out.
func TestParseIgnoresUnknownMembers(t *testing.T) {
	in := strings.Replace(minimal, `{"name":"img",`, `{"name":"img","x-vendor":{"a":[1,2]},`, 1)
	in = strings.Replace(in, `{"_type"`, `{"comment":"built by hand","_type"`, 1)
	st, err := attest.Parse([]byte(in), attest.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := attest.Parse([]byte(minimal), attest.DefaultConfig())
	if !bytes.Equal(st.Bytes(), plain.Bytes()) {
		t.Errorf("unknown members kept:\n%s", st.Bytes())
	}
}

func TestParseRejects(t *testing.T) {
	r := func(old, new string) string {
		if !strings.Contains(minimal, old) {
			t.Fatalf("test case does not apply: %q", old)
		}
		return strings.Replace(minimal, old, new, 1)
	}
	small := attest.DefaultConfig()
	small.MaxSubjects, small.MaxDepth, small.MaxBytes = 2, 6, len(minimal)+200
	subj := `{"name":"img","digest":{` + sha + `}}`
	cases := map[string]string{
		"not JSON":             `{"_type":`,
		"trailing data":        minimal + `{}`,
		"array":                `[` + minimal + `]`,
		"legacy v0.1":          r(`Statement/v1`, `Statement/v0.1`),
		"other statement type": r(`https://in-toto.io/Statement/v1`, `https://example.com/Statement/v1`),
		"no _type":             r(`"_type":"https://in-toto.io/Statement/v1",`, ``),
		"protobuf name type":   r(`"_type"`, `"type"`),
		"protobuf name pt":     r(`"predicateType"`, `"predicate_type"`),
		"duplicate member":     r(`"predicateType":`, `"predicateType":"https://spdx.dev/Document","predicateType":`),
		"duplicate in pred":    r(`{"High":1}`, `{"High":1,"High":2}`),
		"unknown predicate":    r(`https://stellaops.org/attestations/scan-result/v1`, `https://example.com/whatever/v1`),
		"no predicate":         r(`,"predicate":{"summary":{"High":1}}`, ``),
		"predicate not object": r(`{"summary":{"High":1}}`, `"text"`),
		"empty scan result":    r(`{"summary":{"High":1}}`, `{}`),
		"no subjects":          r(subj, ``),
		"subject no digest":    r(`"digest":{`+sha+`}`, `"digest":{}`),
		"upper-case digest":    r(`a2078ca3`, `A2078CA3`),
		"short digest":         r(`bd0"`, `bd"`),
		"non-hex digest":       r(`bd0"`, `bdz"`),
		"unknown algorithm":    r(`"sha256"`, `"blake3"`),
		"only sha1":            r(sha, `"sha1":"8843d7f92416211de9ebb963ff4ce28125932878"`),
		"digest not string":    r(sha, `"sha256":1`),
		"too many subjects":    r(subj, subj+`,`+subj+`,`+subj),
		"too deep":             r(`{"High":1}`, `{"High":[[[[[1]]]]]}`),
		"too big":              r(`{"High":1}`, `{"High":1,"pad":"`+strings.Repeat("x", 300)+`"}`),
		"bad number":           r(`{"High":1}`, `{"High":1e400}`),
		"invalid UTF-8":        r(`"img"`, "\"im\xffg\""),
	}
	for name, in := range cases {
		if _, err := attest.Parse([]byte(in), small); !errors.Is(err, attest.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	for name, pred := range map[string][2]string{
		"CycloneDX without specVersion": {attest.PredicateCycloneDX, `{"bomFormat":"CycloneDX"}`},
		"SPDX 3":                        {attest.PredicateSPDX, `{"spdxVersion":"SPDX-3.0"}`},
		"SLSA without runDetails":       {attest.PredicateSLSAProvenance, `{"buildDefinition":{"buildType":"x","externalParameters":{"a":1}}}`},
		"SLSA bad timestamp":            {attest.PredicateSLSAProvenance, `{"buildDefinition":{"buildType":"x","externalParameters":{"a":1}},"runDetails":{"builder":{"id":"b"},"metadata":{"startedOn":"yesterday"}}}`},
	} {
		in := r(`"https://stellaops.org/attestations/scan-result/v1","predicate":{"summary":{"High":1}}`, `"`+pred[0]+`","predicate":`+pred[1])
		if _, err := attest.Parse([]byte(in), attest.DefaultConfig()); !errors.Is(err, attest.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// A zero Config means the defaults.
	if _, err := attest.Parse([]byte(minimal), attest.Config{}); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	// The limits are limits, not off by one.
	if _, err := attest.Parse([]byte(r(subj, subj+`,`+subj)), small); err != nil {
		t.Errorf("at MaxSubjects: %v", err)
	}
	if _, err := attest.Parse([]byte(r(`{"High":1}`, `{"High":[[1]]}`)), small); err != nil {
		t.Errorf("at MaxDepth: %v", err)
	}
}
