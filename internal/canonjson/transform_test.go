package canonjson

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"
)

// Inputs whose canonical form is checked against gowebpki/jcs, the reference implementation.
var differentialSeeds = []string{
	`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`,
	`{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`,
	`[-0, 0, -0.0, 1e-7, 1e21, 123456789012345678, 9007199254740993, 1.5e300, -1.25e-300, 5e-324]`,
	`{"b":{"d":[1,{"z":1,"a":2}],"c":"x"},"a":[]," ":{}}`,
	` { "a" : "\b\f\n\r\t\u0001\u001f\u007f\u2028<>&" } `,
	`"just a string"`, `true`, `null`, `12`, `{}`, `[]`, `[{}]`,
	`[40.5, 0.45, -0.5, 0.000001, 0.0000001, 0.0000015, 123456789012345.6, 12345678901234.5, 1.10, 100.25, 0.1, 9007199254740.993]`,
}

func TestTransformMatchesReference(t *testing.T) {
	for _, in := range differentialSeeds {
		want, err := jcs.Transform([]byte(in))
		if err != nil {
			t.Fatalf("reference rejects %s: %v", in, err)
		}
		got, err := Transform([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s\n got  %s\n want %s", in, got, want)
		}
	}
}

func TestTransformRejects(t *testing.T) {
	for _, in := range []string{
		``, `{`, `{"a"}`, `{"a":1,}`, `[1,]`, `[1 2]`, `01`, `1.`, `.5`, `1e`, `-`, `+1`, `tru`, `nul`, `"abc`,
		`"\x"`, `"\u12"`, "\"a\x01\"", `"\ud800"`, `"\udc00\ud800"`, "\"\xff\"", `{"a":1,"a":2}`, `{"a":1} x`,
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	} {
		if got, err := Transform([]byte(in)); err == nil || !errors.Is(err, errSyntax) {
			t.Errorf("%q: got %s, %v; want a syntax error", in, got, err)
		}
	}
}

// FuzzTransform holds the transform to gowebpki/jcs: whatever it accepts must come out the
// same as the reference's; what only the reference accepts must be outside I-JSON (duplicate
// names, lone surrogates, invalid UTF-8) or nested past maxDepth.
func FuzzTransform(f *testing.F) {
	for _, s := range differentialSeeds {
		f.Add([]byte(s))
	}
	if ents, err := os.ReadDir(filepath.Join("testdata", "jcs")); err == nil {
		for _, e := range ents {
			if b, err := os.ReadFile(filepath.Join("testdata", "jcs", e.Name())); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Transform(in)
		want, refErr := jcs.Transform(in)
		switch {
		case err == nil && refErr != nil:
			if json.Valid(in) {
				t.Fatalf("accepted %q (-> %s), reference: %v", in, got, refErr)
			}
		case err == nil && string(got) != string(want):
			t.Fatalf("%q:\n got  %s\n want %s", in, got, want)
		case err != nil && refErr == nil && json.Valid(in):
			msg := err.Error()
			if !strings.Contains(msg, "duplicate") && !strings.Contains(msg, "surrogate") &&
				!strings.Contains(msg, "UTF-8") && !strings.Contains(msg, "nested") {
				t.Fatalf("rejected valid %q: %v (reference gives %s)", in, err, want)
			}
		}
		if err == nil {
			// Canonical output is a fixed point.
			again, err := Transform(got)
			if err != nil || string(again) != string(got) {
				t.Fatalf("not idempotent: %s -> %s (%v)", got, again, err)
			}
		}
	})
}

// BenchmarkTransform compares the transform with the reference on a real OSV record
// (internal/advisory/testdata/osv/PYSEC-2019-241.json).
func BenchmarkTransform(b *testing.B) {
	in, err := os.ReadFile(filepath.Join("..", "advisory", "testdata", "osv", "PYSEC-2019-241.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("canonjson", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			if _, err := Transform(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gowebpki-jcs", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			if _, err := jcs.Transform(in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
