package signing_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/stellaops/stellaops/internal/signing"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, alg := range signing.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			k := testKey(t, alg)
			env := sign(t, signing.PayloadTypeReport, []byte(smallReport), k)
			if got := string(env.Payload); got != `{"imageDigest":"sha256:deadbeef","reportId":"report-1","verdict":"pass"}` {
				t.Errorf("payload not canonical: %s", got)
			}
			if s := env.Signatures[0]; s.KeyID != k.KeyID() || s.Algorithm != alg {
				t.Errorf("signature names %q/%q", s.KeyID, s.Algorithm)
			}
			decoded, err := signing.Decode(encode(t, env))
			if err != nil {
				t.Fatal(err)
			}
			kr, err := signing.NewKeyring(k)
			if err != nil {
				t.Fatal(err)
			}
			v, err := kr.Verify(ctx, decoded)
			if err != nil {
				t.Fatal(err)
			}
			if v.KeyID != k.KeyID() || v.Algorithm != alg || v.Retired || !bytes.Equal(v.Payload, env.Payload) || v.PayloadType != signing.PayloadTypeReport {
				t.Errorf("verification %+v", v)
			}
			// An offline verifier holding only the exported public key (or the secret) agrees.
			var offline signing.Verifier = k
			if alg != signing.HS256 {
				pemBytes, err := signing.ExportPublicKey(k)
				if err != nil {
					t.Fatal(err)
				}
				if offline, err = signing.ParsePublicKeyPEM("", pemBytes); err != nil {
					t.Fatal(err)
				}
			}
			if v, err := signing.VerifyWith(ctx, decoded, offline); err != nil || v.KeyID != offline.KeyID() {
				t.Errorf("VerifyWith: %v, %v", v, err)
			}
		})
	}
}

func TestSignCanonicalisesJSON(t *testing.T) {
	k := testKey(t, signing.Ed25519)
	a := encode(t, sign(t, "application/json", []byte(`{"b":[1.0, 2e0],"a":"\u00e9"}`), k))
	b := encode(t, sign(t, "application/json", []byte("{\n  \"a\": \"é\",\n  \"b\": [1, 2]\n}"), k))
	if !bytes.Equal(a, b) {
		t.Errorf("equal JSON content signed differently:\n%s\n%s", a, b)
	}
	raw := sign(t, "text/plain", []byte(" {\"b\":1} "), k)
	if string(raw.Payload) != " {\"b\":1} " {
		t.Errorf("non-JSON payload was changed: %q", raw.Payload)
	}
	if _, err := signing.Sign(context.Background(), "application/vnd.x+json; charset=utf-8", []byte("{"), k); err == nil {
		t.Error("invalid JSON under a JSON type was signed")
	}
	if _, err := signing.Sign(context.Background(), "", []byte("x"), k); err == nil {
		t.Error("empty payload type was signed")
	}
	if _, err := signing.Sign(context.Background(), "text/plain", []byte("x")); !errors.Is(err, signing.ErrNoActiveKey) {
		t.Errorf("no signers: %v", err)
	}
	for typ, want := range map[string]bool{
		"application/json": true, "application/vnd.in-toto+json": true, "Application/JSON; charset=utf-8": true,
		"text/plain": false, "application/jsonl": false, "application/x-json-stream": false, "": false,
	} {
		if got := signing.IsJSONType(typ); got != want {
			t.Errorf("IsJSONType(%q) = %v", typ, got)
		}
	}
}

// The golden envelopes were written by an earlier run of this test: matching them proves that
// the same payload and key give byte-identical envelopes across processes and releases,
// ECDSA included (RFC 6979).
func TestGoldenEnvelopes(t *testing.T) {
	for _, alg := range signing.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			k := testKey(t, alg)
			first := encode(t, sign(t, signing.PayloadTypeReport, []byte(smallReport), k))
			second := encode(t, sign(t, signing.PayloadTypeReport, []byte(smallReport), k))
			if !bytes.Equal(first, second) {
				t.Fatalf("two signatures in one process differ:\n%s\n%s", first, second)
			}
			golden(t, filepath.Join("testdata", "golden", string(alg)+".dsse.json"), append(first, '\n'))
		})
	}
}

// TestCrossProcessDeterminism re-executes the test binary, which signs in a fresh process
// (new heap, new map seeds, new randomness) and writes the envelopes to a file.
func TestCrossProcessDeterminism(t *testing.T) {
	if out := os.Getenv("STELLAOPS_SIGNING_TEST_CHILD_OUT"); out != "" {
		var buf bytes.Buffer
		for _, alg := range signing.Algorithms() {
			buf.Write(encode(t, sign(t, signing.PayloadTypeReport, []byte(smallReport), testKey(t, alg))))
			buf.WriteByte('\n')
		}
		if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	out := filepath.Join(t.TempDir(), "child.txt")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrossProcessDeterminism$", "-test.count=1")
	cmd.Env = append(os.Environ(), "STELLAOPS_SIGNING_TEST_CHILD_OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, b)
	}
	child := strings.Split(strings.TrimSuffix(string(readFile(t, out)), "\n"), "\n")
	for i, alg := range signing.Algorithms() {
		mine := string(encode(t, sign(t, signing.PayloadTypeReport, []byte(smallReport), testKey(t, alg))))
		if i >= len(child) || child[i] != mine {
			t.Errorf("%s: child process signed differently:\n child %v\n mine  %s", alg, child, mine)
		}
	}
}

func TestMultipleSignatures(t *testing.T) {
	ctx := context.Background()
	hs, ed, ec := testKey(t, signing.HS256), testKey(t, signing.Ed25519), testKey(t, signing.ECDSAP256)
	env := sign(t, signing.PayloadTypeInToto, []byte(`{"_type":"https://in-toto.io/Statement/v1"}`), hs, ed, ec)
	if len(env.Signatures) != 3 {
		t.Fatalf("%d signatures", len(env.Signatures))
	}
	// Trusting only the middle key is enough; the others are reported, not fatal.
	v, err := signing.VerifyWith(ctx, env, ed.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyID != ed.KeyID() {
		t.Errorf("verified by %q", v.KeyID)
	}
	for i, want := range []error{signing.ErrUnknownKey, nil, signing.ErrUnknownKey} {
		r := v.Signatures[i]
		if !errors.Is(r.Err, want) || r.Verified != (want == nil) {
			t.Errorf("signature %d: %+v, want %v", i, r, want)
		}
	}
	// One forged signature among valid ones does not fail the envelope but is reported.
	env.Signatures[0].Sig[0] ^= 1
	kr, _ := signing.NewKeyring(hs, ed.Verifier(), ec.Verifier())
	v, err = kr.Verify(ctx, env)
	if err != nil || !errors.Is(v.Signatures[0].Err, signing.ErrBadSignature) || !v.Signatures[1].Verified || !v.Signatures[2].Verified {
		t.Errorf("got %+v, %v", v, err)
	}
	// No trusted key at all: the error names every signature's problem.
	_, err = signing.VerifyWith(ctx, env, testKeyWithID(t, "other"))
	if !errors.Is(err, signing.ErrUntrusted) || !errors.Is(err, signing.ErrUnknownKey) || !strings.Contains(err.Error(), `signatures[2] (keyId "test-ecdsa-p256")`) {
		t.Errorf("got %v", err)
	}
}

func testKeyWithID(t *testing.T, id string) *signing.Key {
	k, err := signing.NewHMACKey(id, seed(id))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Envelopes go both ways between this package and go-securesystemslib's dsse, on the standard
// keyid/sig shape.
func TestInteropWithSecureSystemsLib(t *testing.T) {
	ctx := context.Background()
	ed := testKey(t, signing.Ed25519)
	ours := sign(t, signing.PayloadTypeInToto, []byte(`{"_type":"https://in-toto.io/Statement/v1"}`), ed)
	ev, err := dsse.NewEnvelopeVerifier(signing.DSSEVerifier(ed.Verifier()))
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := ev.Verify(ctx, ours.DSSE())
	if err != nil || len(accepted) != 1 || accepted[0].KeyID != ed.KeyID() {
		t.Fatalf("dsse.EnvelopeVerifier on our envelope: %v, %v", accepted, err)
	}

	es, err := dsse.NewEnvelopeSigner(signing.DSSESigner(ed))
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := es.SignPayload(ctx, "text/plain", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	back, err := signing.FromDSSE(theirs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signing.VerifyWith(ctx, back, ed.Verifier()); err != nil {
		t.Errorf("our Verify on a dsse.EnvelopeSigner envelope: %v", err)
	}
}

// OpenSSL signed the PAE of testdata/openssl/payload.json with its own Ed25519 and ECDSA code
// (testdata/openssl/gen.sh); our dsse.PAE and verifiers must agree with it.
func TestOpenSSLSignatures(t *testing.T) {
	ctx := context.Background()
	payload := readFile(t, "testdata", "openssl", "payload.json")
	for _, alg := range []signing.Algorithm{signing.Ed25519, signing.ECDSAP256} {
		t.Run(string(alg), func(t *testing.T) {
			env := &signing.Envelope{
				PayloadType: signing.PayloadTypeInToto,
				Payload:     payload,
				Signatures:  []signing.Signature{{Sig: readFile(t, "testdata", "openssl", string(alg)+".sig")}},
			}
			if !bytes.Equal(env.PAE(), readFile(t, "testdata", "openssl", "pae.bin")) {
				t.Fatal("PAE differs from the one OpenSSL signed")
			}
			pub, err := signing.ParsePublicKeyPEM("openssl-"+string(alg), readFile(t, "testdata", "openssl", string(alg)+".pub.pem"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := signing.VerifyWith(ctx, env, pub); err != nil {
				t.Errorf("OpenSSL's signature: %v", err)
			}
			// And OpenSSL's private key signs what its public key verifies.
			k, err := signing.LoadKeyFile(ctx, filepath.Join("testdata", "openssl", string(alg)+".pem"), "openssl-"+string(alg), "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := signing.VerifyWith(ctx, sign(t, "text/plain", []byte("x"), k), pub); err != nil {
				t.Error(err)
			}
		})
	}
}
