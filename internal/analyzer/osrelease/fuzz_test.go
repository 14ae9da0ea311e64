package osrelease_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stellaops/stellaops/internal/analyzer/osrelease"
	"github.com/stellaops/stellaops/internal/inventory"
)

// FuzzParse feeds arbitrary bytes to every release-file parser and checks that what comes out
// is a well-formed distro: an os-release style ID and printable, trimmed fields.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
		"NAME=\"Ubuntu\"\r\nVERSION=\"20.04 LTS (Focal Fossa)\"\r\nID=ubuntu\r\nUBUNTU_CODENAME=focal\r\n",
		"ID='x'\nVERSION_ID=\"a\\\"b\nVERSION=\"8 (jessie)\"\n", "3.10.4\n", "trixie/sid\n",
		"CentOS Linux release 7.9.2009 (Core)\n", "Amazon Linux release 2 (Karoo)",
	} {
		f.Add([]byte(s))
	}
	paths := []string{osrelease.PathOSRelease, osrelease.PathAlpine, osrelease.PathDebian, osrelease.PathRedHat}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range paths {
			d, ok := osrelease.Parse(p, data)
			if ok != (d.ID != "") {
				t.Fatalf("%s: ok %v for %+v", p, ok, d)
			}
			if strings.ContainsFunc(d.ID, func(r rune) bool {
				return !unicode.IsLower(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-", r)
			}) {
				t.Fatalf("%s: ID %q", p, d.ID)
			}
			for _, s := range []string{d.ID, d.VersionID, d.Codename, d.PrettyName} {
				if strings.TrimSpace(s) != s || strings.ContainsFunc(s, unicode.IsControl) || !utf8Valid(s) {
					t.Fatalf("%s: field %q of %+v", p, s, d)
				}
			}
			r := osrelease.Resolve(map[string]inventory.Distro{p: d})
			if r != d {
				t.Fatalf("%s: Resolve of one file changed %+v into %+v", p, d, r)
			}
		}
	})
}

func utf8Valid(s string) bool {
	return strings.ToValidUTF8(s, "\uFFFD") == s && !strings.ContainsRune(s, '\uFFFD')
}
