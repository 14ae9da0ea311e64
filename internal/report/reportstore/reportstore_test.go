package reportstore_test

import (
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/report/reportstore"
)

func TestNormaliseDigest(t *testing.T) {
	for in, want := range map[string]string{
		"sha256:ABCdef01":                    "sha256:abcdef01",
		"sha512:00":                          "sha512:00",
		"sha3_256:ff":                        "sha3_256:ff",
		"SHA256:ab":                          "",
		"sha256:":                            "",
		":ab":                                "",
		"sha256:xyz":                         "",
		"sha256":                             "",
		"sha256:ab:cd":                       "",
		"sha256:" + strings.Repeat("a", 300): "",
	} {
		got, err := reportstore.NormaliseDigest(in)
		if (err == nil) != (want != "") || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
}

// FuzzNormaliseDigest: a digest either is refused or normalises to a fixed point that is
// lower-case "<algorithm>:<hex>".
func FuzzNormaliseDigest(f *testing.F) {
	for _, s := range []string{"sha256:ABCdef01", "sha256:", "a:b:c", "sha3_256:FF", "\xff:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := reportstore.NormaliseDigest(s)
		if err != nil {
			return
		}
		again, err := reportstore.NormaliseDigest(d)
		if err != nil || again != d || d != strings.ToLower(d) || !strings.EqualFold(d, s) {
			t.Fatalf("%q normalised to %q, then %q (%v)", s, d, again, err)
		}
	})
}
