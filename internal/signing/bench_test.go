package signing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stellaops/stellaops/internal/canonjson"
	"github.com/stellaops/stellaops/internal/signing"
)

// report1MB is the spec's sample report with its verdict repeated (distinct finding ids) until
// the JSON passes 1 MiB.
func report1MB(b *testing.B) []byte {
	b.Helper()
	var r map[string]any
	if err := json.Unmarshal(readFile(b, "testdata", "report-sample.json"), &r); err != nil {
		b.Fatal(err)
	}
	v := r["verdicts"].([]any)[0].(map[string]any)
	var vs []any
	for i := 0; ; i++ {
		c := map[string]any{}
		for k, x := range v {
			c[k] = x
		}
		c["findingId"] = fmt.Sprintf("finding-%d", i)
		vs = append(vs, c)
		if i%256 == 0 {
			r["verdicts"] = vs
			if out, _ := json.MarshalIndent(r, "", "  "); len(out) >= 1<<20 {
				return out
			}
		}
	}
}

// BenchmarkReport1MB measures signing and verifying a 1 MiB report, in parts: sign is
// canonicalise + PAE + signature + encode; verify is decode + PAE + check. canonicalise is the
// RFC 8785 pass alone, which for JSON dominates and is the same for every algorithm.
func BenchmarkReport1MB(b *testing.B) {
	ctx := context.Background()
	report := report1MB(b)
	b.Run("canonicalise", func(b *testing.B) {
		b.SetBytes(int64(len(report)))
		for b.Loop() {
			if _, err := canonjson.Transform(report); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, alg := range signing.Algorithms() {
		k := testKey(b, alg)
		kr, _ := signing.NewKeyring(k)
		env, err := signing.Sign(ctx, signing.PayloadTypeReport, report, k)
		if err != nil {
			b.Fatal(err)
		}
		enc, _ := env.Encode()
		signOnce := func(b *testing.B) []byte {
			e, err := kr.Sign(ctx, signing.PayloadTypeReport, report)
			if err != nil {
				b.Fatal(err)
			}
			out, _ := e.Encode()
			return out
		}
		verifyOnce := func(b *testing.B, enc []byte) {
			e, err := signing.Decode(enc)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := kr.Verify(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(string(alg)+"/sign+verify", func(b *testing.B) {
			b.SetBytes(int64(len(report)))
			for b.Loop() {
				verifyOnce(b, signOnce(b))
			}
		})
		b.Run(string(alg)+"/sign", func(b *testing.B) {
			b.SetBytes(int64(len(report)))
			for b.Loop() {
				signOnce(b)
			}
		})
		b.Run(string(alg)+"/verify", func(b *testing.B) {
			b.SetBytes(int64(len(report)))
			for b.Loop() {
				verifyOnce(b, enc)
			}
		})
		// The same work on a payload that is already canonical bytes of a non-JSON type: the
		// envelope and signature cost without the RFC 8785 pass.
		canon := env.Payload
		b.Run(string(alg)+"/sign+verify-precanonical", func(b *testing.B) {
			b.SetBytes(int64(len(canon)))
			for b.Loop() {
				e, err := signing.Sign(ctx, "application/octet-stream", canon, k)
				if err != nil {
					b.Fatal(err)
				}
				out, _ := e.Encode()
				verifyOnce(b, out)
			}
		})
		if !bytes.Equal(signOnce(b), signOnce(b)) {
			b.Fatal("1 MiB envelope is not deterministic")
		}
	}
}
