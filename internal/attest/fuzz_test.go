package attest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stellaops/stellaops/internal/attest"
)

// FuzzParse feeds hostile statements to Parse. It must not panic, must fail only with
// ErrInvalid, and what it accepts must be a fixed point: parsing the canonical bytes again
// accepts them and gives the same bytes and digest.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	for _, name := range []string{"slsa.statement.golden.json", "spdx.statement.golden.json", "cyclonedx.statement.golden.json"} {
		f.Add(read(f, name))
	}
	var env struct{ Payload string }
	if err := json.Unmarshal(read(f, "grype-alpine.cdx.att.json"), &env); err != nil {
		f.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bytes.Replace(payload, []byte("Statement/v0.1"), []byte("Statement/v1"), 1))
	cfg := attest.DefaultConfig()
	cfg.MaxBytes = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := attest.Parse(data, cfg)
		if err != nil {
			if !errors.Is(err, attest.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		again, err := attest.Parse(st.Bytes(), cfg)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, st.Bytes())
		}
		if !bytes.Equal(again.Bytes(), st.Bytes()) || again.Digest() != st.Digest() {
			t.Fatalf("canonical form is not a fixed point:\n%s\n%s", st.Bytes(), again.Bytes())
		}
		if len(st.Subjects()) == 0 {
			t.Fatal("accepted a statement without subjects")
		}
	})
}
