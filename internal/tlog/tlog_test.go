package tlog_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/tlog"
	"github.com/stellaops/stellaops/internal/tlog/tlogtest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden files")

// testKey is the fixed key of these tests (deterministic signatures, so goldens are stable).
func testKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("stellaops tlog unit test key"))
	return ed25519.NewKeyFromSeed(seed[:])
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)

// newLog returns a log on an in-memory store with a fake clock at t0.
func newLog(t testing.TB) (*tlog.Log, *tlogtest.Clock) {
	t.Helper()
	clk := tlogtest.NewClock(t0)
	cfg := tlog.DefaultConfig()
	cfg.Origin = "test.stellaops.example/tlog"
	cfg.Now = clk.Now
	l, err := tlog.New(tlogtest.NewMemStore(), testKey(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, clk
}

// ctLeaves are the leaf inputs of the Certificate Transparency test vectors (RFC 6962 era,
// reused by every CT implementation): "", 00, 10, 2021, 3031, 40414243, 50…57, 60…6f.
var ctLeaves = [][]byte{
	{},
	{0x00},
	{0x10},
	{0x20, 0x21},
	{0x30, 0x31},
	{0x40, 0x41, 0x42, 0x43},
	{0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57},
	{0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f},
}

// appendAll appends bodies one at a time.
func appendAll(t testing.TB, l *tlog.Log, bodies [][]byte) {
	t.Helper()
	for _, b := range bodies {
		if _, err := l.Append(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

// golden compares got with testdata/name, or rewrites it under -update.
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
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}
