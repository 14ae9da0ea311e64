package attest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/stellaops/stellaops/internal/attest"
	"github.com/stellaops/stellaops/internal/canonjson"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

const imageDigest = "sha256:a2078ca3251cf1edd26e5faf9c4c823dfeb991ef56541d7aafc15d4460307bd0"

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func subject(t testing.TB, name, digest string) attest.Subject {
	t.Helper()
	s, err := attest.NewSubject(name, digest)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

// reformat rewrites a JSON document with other whitespace and member order, as another tool
// would: the statement built from it must not change.
func reformat(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(v, "", "\t") // encoding/json sorts map keys
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBuilders(t *testing.T) {
	img := subject(t, "registry.example/postgres:11.15-stretch", imageDigest)
	tests := []struct {
		name      string
		golden    string
		input     string
		build     func([]byte, ...attest.Subject) (*attest.Statement, error)
		predicate string
	}{
		{"CycloneDX", "cyclonedx.statement.golden.json", "trivy-centos-7.cdx.json", attest.SBOM, attest.PredicateCycloneDX},
		{"SPDX", "spdx.statement.golden.json", "trivy-centos-7.spdx.json", attest.SBOM, attest.PredicateSPDX},
		{"ScanResult", "scan-result.statement.golden.json", "scan-result.postgres-stretch.json", attest.ScanResult, attest.PredicateScanResult},
		{"SLSA", "slsa.statement.golden.json", "slsa-provenance.json", func(b []byte, s ...attest.Subject) (*attest.Statement, error) {
			return attest.New(attest.PredicateSLSAProvenance, b, s...)
		}, attest.PredicateSLSAProvenance},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := read(t, tc.input)
			st, err := tc.build(in, img)
			if err != nil {
				t.Fatal(err)
			}
			if st.PredicateType() != tc.predicate {
				t.Errorf("predicate type %s, want %s", st.PredicateType(), tc.predicate)
			}
			golden(t, tc.golden, st.Bytes())
			// Canonical: what canonjson would make of it, and the same from a reformatted input.
			if canon, err := canonjson.Transform(st.Bytes()); err != nil || !bytes.Equal(canon, st.Bytes()) {
				t.Errorf("Bytes are not canonical JSON (%v)", err)
			}
			again, err := tc.build(reformat(t, in), img)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), st.Bytes()) || again.Digest() != st.Digest() {
				t.Error("the same document formatted differently gives a different statement")
			}
			// What we build, we parse back to the very same bytes.
			parsed, err := attest.ParsePayload(attest.PayloadType, st.Bytes(), attest.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(parsed.Bytes(), st.Bytes()) {
				t.Error("parsing the statement changes its bytes")
			}
			if !parsed.Covers(imageDigest) || parsed.Covers("sha256:"+strings.Repeat("0", 64)) {
				t.Error("Covers does not match the subject digest")
			}
			want := []attest.Subject{img}
			if diff := cmp.Diff(want, parsed.Subjects()); diff != "" {
				t.Errorf("subjects (-want +got):\n%s", diff)
			}
			canonIn, err := canonjson.Transform(in)
			if err != nil {
				t.Fatal(err)
			}
			pred, err := parsed.Predicate()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pred, canonIn) {
				t.Error("the predicate is not the canonical form of the input document")
			}
		})
	}
}

func TestProvenanceTyped(t *testing.T) {
	var p slsa.Provenance
	if err := protojson.Unmarshal(read(t, "slsa-provenance.json"), &p); err != nil {
		t.Fatal(err)
	}
	img := subject(t, "registry.example/stellaops:0.4.0", imageDigest)
	st, err := attest.Provenance(&p, img)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := attest.New(attest.PredicateSLSAProvenance, read(t, "slsa-provenance.json"), img)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st.Bytes(), fromJSON.Bytes()) {
		t.Errorf("typed and JSON provenance differ:\n%s\n%s", st.Bytes(), fromJSON.Bytes())
	}
	got, err := st.Provenance()
	if err != nil {
		t.Fatal(err)
	}
	if got.GetRunDetails().GetBuilder().GetId() != "https://github.com/actions/runner/github-hosted" ||
		len(got.GetBuildDefinition().GetResolvedDependencies()) != 2 ||
		!got.GetRunDetails().GetMetadata().GetFinishedOn().AsTime().Equal(time.Date(2026, 11, 20, 9, 21, 47, 0, time.UTC)) {
		t.Errorf("provenance does not read back: %v", got)
	}
	p.RunDetails.Builder.Id = ""
	if _, err := attest.Provenance(&p, img); !errors.Is(err, attest.ErrInvalid) {
		t.Errorf("provenance without builder id: %v, want ErrInvalid", err)
	}
	sbom, err := attest.SBOM(read(t, "trivy-centos-7.cdx.json"), img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sbom.Provenance(); !errors.Is(err, attest.ErrInvalid) {
		t.Errorf("Provenance of an SBOM statement: %v", err)
	}
}

// TestRealAttestation parses the payload of a DSSE envelope Grype ships: an in-toto v0.1
// statement, which we refuse, and which passes once it says v1.
func TestRealAttestation(t *testing.T) {
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.Unmarshal(read(t, "grype-alpine.cdx.att.json"), &env); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	_, err = attest.ParsePayload(env.PayloadType, payload, attest.DefaultConfig())
	if !errors.Is(err, attest.ErrInvalid) || !strings.Contains(err.Error(), "v0.1") {
		t.Fatalf("in-toto v0.1 statement: %v, want a refusal naming v0.1", err)
	}
	v1 := bytes.Replace(payload, []byte(`"https://in-toto.io/Statement/v0.1"`), []byte(`"`+attest.StatementType+`"`), 1)
	st, err := attest.ParsePayload(env.PayloadType, v1, attest.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if st.PredicateType() != attest.PredicateCycloneDX || !st.Covers("sha256:4edbd2beb5f78b1014028f4fbb99f3237d9561100b6881aabbf5acce2c4f9454") {
		t.Errorf("statement %s about %v", st.PredicateType(), st.Subjects())
	}
	if _, err := attest.ParsePayload("application/json", v1, attest.DefaultConfig()); !errors.Is(err, attest.ErrInvalid) {
		t.Errorf("wrong payload type: %v", err)
	}
}

func TestNewSubject(t *testing.T) {
	for _, bad := range []string{
		"a2078ca3251cf1edd26e5faf9c4c823dfeb991ef56541d7aafc15d4460307bd0", // no algorithm
		"sha256:A2078CA3251CF1EDD26E5FAF9C4C823DFEB991EF56541D7AAFC15D4460307BD0",
		"sha256:a2078ca3251cf1edd26e5faf9c4c823dfeb991ef56541d7aafc15d4460307bd",
		"sha256:",
		"sha1:8843d7f92416211de9ebb963ff4ce28125932878", // too weak alone
		"md5:d41d8cd98f00b204e9800998ecf8427e",
		"blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", // not in-toto
	} {
		if _, err := attest.NewSubject("x", bad); !errors.Is(err, attest.ErrInvalid) {
			t.Errorf("NewSubject(%q): %v, want ErrInvalid", bad, err)
		}
	}
	s, err := attest.NewSubject("x", "sha512:"+strings.Repeat("ab", 64))
	if err != nil || s.Digest["sha512"] != strings.Repeat("ab", 64) {
		t.Errorf("sha512 subject: %+v, %v", s, err)
	}
}

func TestBuilderRejects(t *testing.T) {
	img := subject(t, "img", imageDigest)
	if _, err := attest.SBOM(read(t, "trivy-centos-7.cdx.json")); !errors.Is(err, attest.ErrInvalid) {
		t.Errorf("no subjects: %v", err)
	}
	for name, doc := range map[string]string{
		"XML":            `<bom/>`,
		"array":          `[]`,
		"neither format": `{"components":[]}`,
		"SPDX 3":         `{"spdxVersion":"SPDX-3.0"}`,
		"bad bomFormat":  `{"bomFormat":"SWID","specVersion":"1.5"}`,
	} {
		if _, err := attest.SBOM([]byte(doc), img); !errors.Is(err, attest.ErrInvalid) {
			t.Errorf("SBOM %s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := attest.ScanResult([]byte(`{}`), img); !errors.Is(err, attest.ErrInvalid) {
		t.Errorf("empty scan result: %v", err)
	}
	if _, err := attest.New("https://example.com/custom/v1", []byte(`{"a":1}`), img); !errors.Is(err, attest.ErrInvalid) {
		t.Errorf("unknown predicate type: %v", err)
	}
	if _, err := attest.New(attest.PredicateSLSAProvenance, []byte(`{"buildDefinition":{"buildType":"x"}}`), img); !errors.Is(err, attest.ErrInvalid) {
		t.Errorf("SLSA without externalParameters and runDetails: %v", err)
	}
}
