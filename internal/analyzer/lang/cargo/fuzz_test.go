package cargo_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/lang/cargo"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
)

func FuzzLockfile(f *testing.F) {
	langtest.Seeds(f, "testdata/*.Cargo.lock")
	a := cargo.New(cargo.DefaultConfig())
	f.Fuzz(func(t *testing.T, b []byte) {
		langtest.Fuzz(t, a, "Cargo.lock", b)
	})
}

func FuzzAuditData(f *testing.F) {
	for _, s := range []string{
		`{"packages":[{"name":"a","version":"1.0.0","source":"crates.io","root":true}]}`,
		`{"packages":[{"name":"cc","version":"1","kind":"build"},{"name":"x","dependencies":[0]}]}`,
	} {
		var b bytes.Buffer
		zw := zlib.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		f.Add(b.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = cargo.ParseAuditData(context.Background(), bytes.NewReader(b), "bin/x", 1<<20, 1000)
	})
}
