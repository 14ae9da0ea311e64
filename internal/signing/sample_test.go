package signing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/canonjson"
	"github.com/stellaops/stellaops/internal/signing"
)

// The spec's runnable sample (§2.7) lives in the repository's samples/ tree, signed with the
// public test key next to it.
var (
	sampleEnvelope = filepath.Join("..", "..", "samples", "api", "reports", "report-sample.dsse.json")
	sampleKey      = filepath.Join("..", "..", "samples", "api", "reports", "report-sample.key")
)

const sampleKeyID = "scanner-report-signing"

func loadSampleKey(t *testing.T) *signing.Key {
	t.Helper()
	k, err := signing.LoadKeyFile(context.Background(), sampleKey, sampleKeyID, signing.HS256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSampleEnvelopeIsReproducible re-signs the spec's example report with the sample key and
// expects the committed sample byte for byte (-update rewrites it).
func TestSampleEnvelopeIsReproducible(t *testing.T) {
	env := sign(t, signing.PayloadTypeReport, readFile(t, "testdata", "report-sample.json"), loadSampleKey(t))
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, encode(t, env), "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	golden(t, sampleEnvelope, pretty.Bytes())
}

func TestSampleEnvelopeVerifies(t *testing.T) {
	ctx := context.Background()
	data := readFile(t, sampleEnvelope)
	env, err := signing.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signing.VerifyWith(ctx, env, loadSampleKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyID != sampleKeyID || v.Algorithm != signing.HS256 || v.PayloadType != "application/vnd.stellaops.report+json" {
		t.Errorf("verified as %+v", v)
	}
	// The payload is the canonical form of the spec's report.
	want, err := canonjson.Transform(readFile(t, "testdata", "report-sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.Payload, want) {
		t.Errorf("payload\n got  %s\n want %s", v.Payload, want)
	}

	// The file has exactly the spec's member names.
	var shape struct {
		PayloadType string           `json:"payloadType"`
		Payload     string           `json:"payload"`
		Signatures  []map[string]any `json:"signatures"`
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &shape); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(mapKeys(members)); !slices.Equal(got, []string{"payload", "payloadType", "signatures"}) {
		t.Errorf("envelope members %v", got)
	}
	if len(shape.Signatures) != 1 {
		t.Fatalf("%d signatures", len(shape.Signatures))
	}
	s := shape.Signatures[0]
	if diff := cmp.Diff([]string{"algorithm", "keyId", "signature"}, slices.Sorted(mapKeys(s))); diff != "" {
		t.Errorf("signature members (-want +got):\n%s", diff)
	}
	if s["keyId"] != sampleKeyID || s["algorithm"] != "hs256" {
		t.Errorf("signature %v", s)
	}
}

// Flipping any single bit of any byte of the sample's payload or signature fails: at the
// decoded level (every byte, every bit) and in the file itself (every base64 character).
func TestSampleEnvelopeTampered(t *testing.T) {
	ctx := context.Background()
	key := loadSampleKey(t)
	data := readFile(t, sampleEnvelope)
	orig, err := signing.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"payload", "signature"} {
		b := orig.Payload
		if part == "signature" {
			b = orig.Signatures[0].Sig
		}
		for i := range b {
			for bit := range 8 {
				e := clone(orig)
				if part == "payload" {
					e.Payload[i] ^= 1 << bit
				} else {
					e.Signatures[0].Sig[i] ^= 1 << bit
				}
				if _, err := signing.VerifyWith(ctx, e, key); err == nil {
					t.Fatalf("%s byte %d bit %d flipped: still verifies", part, i, bit)
				}
			}
		}
	}
	text := string(data)
	for _, field := range []string{`"payload": "`, `"signature": "`} {
		start := strings.Index(text, field)
		if start < 0 {
			t.Fatalf("%s not in the sample", field)
		}
		start += len(field)
		end := start + strings.IndexByte(text[start:], '"')
		for i := start; i < end; i++ {
			for bit := range 7 {
				tampered := []byte(text)
				tampered[i] ^= 1 << bit
				e, err := signing.Decode(tampered)
				if err == nil {
					_, err = signing.VerifyWith(ctx, e, key)
				}
				if err == nil {
					t.Fatalf("%s character %d bit %d flipped: still verifies", field, i-start, bit)
				}
			}
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
