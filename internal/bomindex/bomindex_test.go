package bomindex_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/bomindex"
)

func sample() *bomindex.Index {
	return &bomindex.Index{
		ImageDigest: "sha256:af341ccd2df8b0e2d67cf8dd32e087bfda4e5756ebd1c76bbf3efa0dc246590e",
		GeneratedAt: time.Date(2026, 11, 22, 10, 0, 0, 123456000, time.UTC),
		Layers:      []string{"sha256:531743b7098cb2aaf615641007a129173f63ed86ca32fe7b5a246a1c47286028", "sha256:" + string(bytes.Repeat([]byte("ab"), 32))},
		Components: []bomindex.Component{
			{Key: "pkg:apk/alpine/musl@1.1.22-r3?arch=x86_64&distro=alpine-3.10.4", Layers: []uint32{0, 1}},
			{Key: "pkg:apk/alpine/busybox@1.30.1-r3?arch=x86_64&distro=alpine-3.10.4", Layers: []uint32{0}},
			{Key: "pkg:golang/stdlib@v1.26.8", Layers: []uint32{1}},
		},
	}
}

func TestRoundTripAndDeterminism(t *testing.T) {
	var a, b bytes.Buffer
	if err := bomindex.Encode(&a, sample()); err != nil {
		t.Fatal(err)
	}
	// Same content, components in another order: same bytes.
	s := sample()
	s.Components[0], s.Components[2] = s.Components[2], s.Components[0]
	if err := bomindex.Encode(&b, s); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("encoding depends on input order")
	}
	if got := a.Bytes()[:7]; string(got) != "BOMIDX1" {
		t.Fatalf("magic = %q", got)
	}
	got, err := bomindex.Decode(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	want.Components[0], want.Components[1] = want.Components[1], want.Components[0] // sorted by key
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestEntrypoints(t *testing.T) {
	idx := sample()
	idx.Entrypoints = []string{"/bin/sh", "/usr/local/bin/app"}
	idx.Components[2].Entrypoints = []uint32{1}
	var buf bytes.Buffer
	if err := bomindex.Encode(&buf, idx); err != nil {
		t.Fatal(err)
	}
	got, err := bomindex.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(got.Components[2].Entrypoints, []uint32{1}) || len(got.Entrypoints) != 2 {
		t.Errorf("entrypoints = %v / %v", got.Entrypoints, got.Components[2].Entrypoints)
	}
}

func TestEncodeRejects(t *testing.T) {
	idx := sample()
	idx.Components[0].Layers = []uint32{7}
	if err := bomindex.Encode(&bytes.Buffer{}, idx); err == nil {
		t.Error("out-of-range layer accepted")
	}
	idx = sample()
	idx.Components[1].Key = idx.Components[0].Key
	if err := bomindex.Encode(&bytes.Buffer{}, idx); err == nil {
		t.Error("duplicate key accepted")
	}
}

func TestDecodeRejectsDamage(t *testing.T) {
	var buf bytes.Buffer
	if err := bomindex.Encode(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for n := range len(good) {
		if _, err := bomindex.Decode(bytes.NewReader(good[:n])); !errors.Is(err, bomindex.ErrFormat) {
			t.Fatalf("truncated at %d: err = %v", n, err)
		}
	}
	bad := bytes.Clone(good)
	bad[7] = 9 // version
	if _, err := bomindex.Decode(bytes.NewReader(bad)); !errors.Is(err, bomindex.ErrFormat) {
		t.Errorf("version 9: err = %v", err)
	}
	if _, err := bomindex.Decode(bytes.NewReader(append(bytes.Clone(good), 0))); !errors.Is(err, bomindex.ErrFormat) {
		t.Errorf("trailing byte: err = %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	bomindex.Encode(&buf, sample())
	f.Add(buf.Bytes())
	f.Add([]byte("BOMIDX1\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := bomindex.Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to the same bytes.
		var out bytes.Buffer
		if err := bomindex.Encode(&out, idx); err != nil {
			t.Fatalf("decoded index does not re-encode: %v", err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("re-encoding differs")
		}
	})
}
