package vex_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/vex"
)

func TestProductMatches(t *testing.T) {
	for _, tc := range []struct {
		claim, component string
		want             bool
	}{
		{"pkg:npm/lodash@4.17.21", "pkg:npm/lodash@4.17.21", true},
		{"pkg:npm/lodash@4.17.21", "pkg:npm/lodash@4.17.20", false},
		{"pkg:npm/lodash", "pkg:npm/lodash@4.17.20", true},                 // versionless: every version
		{"pkg:npm/lodash@4.17.21", "pkg:npm/lodash", false},                // a versioned claim needs the version
		{"pkg:NPM/lodash@4.17.21", "pkg:npm/lodash@4.17.21", true},         // type case is normalised
		{"pkg:pypi/Django_Rest@1.0", "pkg:pypi/django-rest@1.0", true},     // PyPI name normalisation
		{"pkg:npm/%40babel/core@7.0.0", "pkg:npm/@babel/core@7.0.0", true}, // percent-encoding
		{"pkg:npm/lodash@4.17.21", "pkg:npm/underscore@4.17.21", false},
		{"pkg:npm/a/lodash@1", "pkg:npm/b/lodash@1", false},
		{"pkg:npm/lodash@1", "pkg:pypi/lodash@1", false},
		// Qualifiers count only when both sides have them.
		{"pkg:deb/debian/curl@7.88.1-10?arch=amd64", "pkg:deb/debian/curl@7.88.1-10?arch=amd64&distro=debian-12", true},
		{"pkg:deb/debian/curl@7.88.1-10?arch=amd64", "pkg:deb/debian/curl@7.88.1-10?arch=arm64", false},
		{"pkg:deb/debian/curl@7.88.1-10?distro=debian-12", "pkg:deb/debian/curl@7.88.1-10", true},
		{"pkg:maven/g/a@1?classifier=sources&type=jar", "pkg:maven/g/a@1?type=jar", true},
		{"pkg:maven/g/a@1?classifier=sources&type=jar", "pkg:maven/g/a@1?classifier=javadoc", false},
		// Subpath: likewise.
		{"pkg:golang/example.com/mod@v1.0.0#sub/a", "pkg:golang/example.com/mod@v1.0.0", true},
		{"pkg:golang/example.com/mod@v1.0.0#sub/a", "pkg:golang/example.com/mod@v1.0.0#sub/b", false},
		// Invalid purls match nothing.
		{"not a purl", "pkg:npm/lodash@1", false},
		{"pkg:npm/lodash@1", "", false},
	} {
		if got := vex.ProductMatches(tc.claim, tc.component); got != tc.want {
			t.Errorf("ProductMatches(%q, %q) = %v, want %v", tc.claim, tc.component, got, tc.want)
		}
	}
}
