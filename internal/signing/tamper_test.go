package signing_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/signing"
)

// Flipping any bit of any byte of the payload, payload type or signature must fail
// verification; for ed25519 and hs256 every position and every bit is tried, for ECDSA (whose
// DER verification is slower) every position with one bit.
func TestTamperEveryByte(t *testing.T) {
	ctx := context.Background()
	for _, alg := range signing.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			k := testKey(t, alg)
			kr, err := signing.NewKeyring(k)
			if err != nil {
				t.Fatal(err)
			}
			orig := sign(t, signing.PayloadTypeReport, []byte(smallReport), k)
			bits := []byte{1, 2, 4, 8, 16, 32, 64, 128}
			if alg == signing.ECDSAP256 {
				bits = []byte{1}
			}
			check := func(what string, i int, e *signing.Envelope) {
				t.Helper()
				if _, err := kr.Verify(ctx, e); !errors.Is(err, signing.ErrBadSignature) || !errors.Is(err, signing.ErrUntrusted) {
					t.Errorf("%s byte %d changed: got %v, want ErrBadSignature", what, i, err)
				}
			}
			for i := range orig.Payload {
				for _, b := range bits {
					e := clone(orig)
					e.Payload[i] ^= b
					check("payload", i, e)
				}
			}
			for i := range orig.PayloadType {
				for _, b := range bits {
					e := clone(orig)
					pt := []byte(e.PayloadType)
					pt[i] ^= b
					e.PayloadType = string(pt)
					check("payloadType", i, e)
				}
			}
			for i := range orig.Signatures[0].Sig {
				for _, b := range bits {
					e := clone(orig)
					e.Signatures[0].Sig[i] ^= b
					check("signature", i, e)
				}
			}
			// Truncated, extended and empty payloads and signatures fail too.
			for _, mut := range []func(e *signing.Envelope){
				func(e *signing.Envelope) { e.Payload = e.Payload[:len(e.Payload)-1] },
				func(e *signing.Envelope) { e.Payload = append(e.Payload, ' ') },
				func(e *signing.Envelope) { e.Payload = nil },
				func(e *signing.Envelope) { e.Signatures[0].Sig = e.Signatures[0].Sig[:len(e.Signatures[0].Sig)-1] },
				func(e *signing.Envelope) { e.Signatures[0].Sig = append(e.Signatures[0].Sig, 0) },
				func(e *signing.Envelope) { e.Signatures[0].Sig = nil },
			} {
				e := clone(orig)
				mut(e)
				check("length", -1, e)
			}
			if _, err := kr.Verify(ctx, orig); err != nil {
				t.Fatalf("the untouched envelope: %v", err)
			}
		})
	}
}

// Every change to a character of the encoded payload or signature is caught: base64 is strict
// (one encoding per byte string), so the change either fails decoding or changes the bytes.
func TestTamperEncodedCharacters(t *testing.T) {
	ctx := context.Background()
	k := testKey(t, signing.Ed25519)
	kr, _ := signing.NewKeyring(k)
	enc := string(encode(t, sign(t, signing.PayloadTypeReport, []byte(smallReport), k)))
	for _, field := range []string{`"payload":"`, `"signature":"`} {
		start := strings.Index(enc, field) + len(field)
		end := start + strings.IndexByte(enc[start:], '"')
		for i := start; i < end; i++ {
			for _, c := range "AQgw+/=-_a9" {
				if byte(c) == enc[i] {
					continue
				}
				tampered := enc[:i] + string(c) + enc[i+1:]
				e, err := signing.Decode([]byte(tampered))
				if err == nil {
					_, err = kr.Verify(ctx, e)
				}
				if err == nil {
					t.Errorf("%s char %d -> %q verified", field, i-start, c)
				}
			}
		}
	}
}

func TestVerifyErrors(t *testing.T) {
	ctx := context.Background()
	hs, ed := testKey(t, signing.HS256), testKey(t, signing.Ed25519)
	kr, _ := signing.NewKeyring(hs, ed.Verifier())
	base := sign(t, "text/plain", []byte("x"), hs)
	for _, tc := range []struct {
		name string
		mut  func(*signing.Envelope)
		want error
		text string
	}{
		{"unknown keyId", func(e *signing.Envelope) { e.Signatures[0].KeyID = "nobody" }, signing.ErrUnknownKey, `unknown signing key "nobody"`},
		{"unknown algorithm", func(e *signing.Envelope) { e.Signatures[0].Algorithm = "rs256" }, signing.ErrUnknownAlgorithm, `"rs256"`},
		{"algorithm mismatch", func(e *signing.Envelope) { e.Signatures[0].Algorithm = signing.Ed25519 }, signing.ErrAlgorithmMismatch, `signature says ed25519, key "test-hs256" is hs256`},
		{"another key's id", func(e *signing.Envelope) {
			e.Signatures[0].KeyID, e.Signatures[0].Algorithm = ed.KeyID(), signing.Ed25519
		}, signing.ErrBadSignature, ""},
		{"no signatures", func(e *signing.Envelope) { e.Signatures = nil }, signing.ErrNoSignatures, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := clone(base)
			tc.mut(e)
			_, err := kr.Verify(ctx, e)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("got %v, want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
	// A signature without keyId or algorithm (standard DSSE) is tried against every key.
	e := clone(base)
	e.Signatures[0].KeyID, e.Signatures[0].Algorithm = "", ""
	if v, err := kr.Verify(ctx, e); err != nil || v.KeyID != hs.KeyID() {
		t.Errorf("anonymous signature: %v, %v", v, err)
	}
	// An empty keyring trusts nothing.
	empty, _ := signing.NewKeyring(nil)
	if _, err := empty.Verify(ctx, base); !errors.Is(err, signing.ErrUnknownKey) {
		t.Errorf("empty keyring: %v", err)
	}
	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := kr.Verify(ctxDone, base); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func clone(e *signing.Envelope) *signing.Envelope {
	c := &signing.Envelope{PayloadType: e.PayloadType, Payload: append([]byte(nil), e.Payload...)}
	for _, s := range e.Signatures {
		s.Sig = append([]byte(nil), s.Sig...)
		c.Signatures = append(c.Signatures, s)
	}
	return c
}
