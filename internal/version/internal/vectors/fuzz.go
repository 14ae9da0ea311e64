package vectors

import (
	"errors"
	"testing"

	"github.com/stellaops/stellaops/internal/version/internal/vererr"
)

// Comparable is a parsed version of one scheme.
type Comparable[V any] interface {
	Compare(V) int
	String() string
}

// Fuzz runs the properties every scheme's Parse must have: no panic; failures wrap ErrInvalid;
// Compare is reflexive and antisymmetric; String returns the input; and Parse(String()) compares
// equal to the original.
func Fuzz[V Comparable[V]](f *testing.F, parse func(string) (V, error), seeds ...string) {
	for _, s := range seeds {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, erra := parse(a)
		vb, errb := parse(b)
		for _, err := range []error{erra, errb} {
			if err != nil && !errors.Is(err, vererr.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
		}
		if erra != nil || errb != nil {
			return
		}
		if va.String() != a {
			t.Fatalf("String() = %q, want %q", va.String(), a)
		}
		if c := va.Compare(va); c != 0 {
			t.Fatalf("%q compared with itself = %d", a, c)
		}
		ab, ba := va.Compare(vb), vb.Compare(va)
		if ab != -ba || ab < -1 || ab > 1 {
			t.Fatalf("not antisymmetric: %q vs %q = %d, reversed %d", a, b, ab, ba)
		}
		again, err := parse(va.String())
		if err != nil {
			t.Fatalf("reparse %q: %v", a, err)
		}
		if again.Compare(va) != 0 || again.Compare(vb) != ab {
			t.Fatalf("reparse of %q compares differently", a)
		}
	})
}

// Bench measures Parse of both versions plus one Compare, over the given pairs.
func Bench[V Comparable[V]](b *testing.B, parse func(string) (V, error), pairs [][2]string) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := pairs[i%len(pairs)]
		x, err := parse(p[0])
		if err != nil {
			b.Fatal(err)
		}
		y, err := parse(p[1])
		if err != nil {
			b.Fatal(err)
		}
		_ = x.Compare(y)
	}
}

// BenchCompare measures Compare alone on pre-parsed pairs.
func BenchCompare[V Comparable[V]](b *testing.B, parse func(string) (V, error), pairs [][2]string) {
	xs := make([][2]V, len(pairs))
	for i, p := range pairs {
		x, err := parse(p[0])
		if err != nil {
			b.Fatal(err)
		}
		y, err := parse(p[1])
		if err != nil {
			b.Fatal(err)
		}
		xs[i] = [2]V{x, y}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := xs[i%len(xs)]
		_ = p[0].Compare(p[1])
	}
}
