package signing_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/signing"
)

// FuzzDecodeEnvelope holds the hardened decoder to four properties on arbitrary input: it never
// panics; every rejection wraps ErrMalformedEnvelope; what it accepts is valid JSON whose
// payloadType and payload encoding/json reads the same way (no parser differential for an
// attacker to exploit); and an accepted envelope re-encodes to bytes that decode back to it and
// re-encode identically. Verification of whatever decodes must not panic either.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"payloadType":"t","payload":"aGk=","signatures":[{"keyid":"k","sig":"AQID"}]}`,
		`{"payloadType":"application\/json","payload":"","signatures":[{"keyId":"test-hs256","algorithm":"hs256","signature":"AQID"},{"sig":""}]}`,
		`{"x":[{"y":"}"},1e5,true,null],"payloadType":"t","payload":"aGk=","signatures":[{"ext":{},"sig":"AQID"}]}`,
		`{"payloadType":"t","payload":"aGk=","payload":"","signatures":[]}`,
		`{"payloadType":"\ud800","payload":"-_8=","signatures":[{"keyId":"a","keyid":"b","sig":"AQ"}]}`,
	} {
		f.Add([]byte(s))
	}
	for _, p := range []string{
		filepath.Join("..", "..", "samples", "api", "reports", "report-sample.dsse.json"),
		filepath.Join("testdata", "golden", "hs256.dsse.json"),
		filepath.Join("testdata", "golden", "ed25519.dsse.json"),
		filepath.Join("testdata", "golden", "ecdsa-p256.dsse.json"),
	} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	var keys []signing.Verifier
	for _, alg := range signing.Algorithms() {
		k, err := fixedKey(alg)
		if err != nil {
			f.Fatal(err)
		}
		keys = append(keys, k.Verifier())
	}
	kr, err := signing.NewKeyring(nil, keys...)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := signing.Decode(data)
		if err != nil {
			if !errors.Is(err, signing.ErrMalformedEnvelope) {
				t.Fatalf("rejection without ErrMalformedEnvelope: %v", err)
			}
			return
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(data, &members); err != nil {
			t.Fatalf("accepted what encoding/json rejects: %v", err)
		}
		var pt, payload string
		if json.Unmarshal(members["payloadType"], &pt) != nil || json.Unmarshal(members["payload"], &payload) != nil {
			t.Fatalf("encoding/json cannot read the accepted members")
		}
		if b, err := base64.StdEncoding.DecodeString(payload); pt != e.PayloadType || err != nil || !bytes.Equal(b, e.Payload) {
			t.Fatalf("encoding/json reads a different envelope: %q %q", pt, payload)
		}

		enc, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := signing.Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v\n%s", err, enc)
		}
		if diff := cmp.Diff(e, back); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
		if enc2, _ := back.Encode(); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
		if v, err := kr.Verify(ctx, e); err == nil && !bytes.Equal(v.Payload, e.Payload) {
			t.Fatal("verified payload differs from the envelope's")
		}
	})
}
