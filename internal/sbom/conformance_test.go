package sbom_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/sbom"
)

// tolerated lists specification test files whose expected verdict we deliberately do not give,
// with the reason. It is empty: every valid-* file is accepted and every invalid-* rejected.
var tolerated = map[string]string{}

// TestCycloneDXConformance runs the CycloneDX specification's own 1.6 test files: every valid-*
// must decode, every invalid-* must be rejected as invalid.
func TestCycloneDXConformance(t *testing.T) {
	files, err := filepath.Glob("testdata/cyclonedx-spec-1.6/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	var valid, invalid, accepted, rejected int
	for _, f := range files {
		name := filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = decoder.Decode(context.Background(), bytes.NewReader(data), sbom.FormatAuto)
		wantValid := strings.HasPrefix(name, "valid-")
		if wantValid {
			valid++
		} else {
			invalid++
		}
		switch {
		case wantValid && err == nil:
			accepted++
		case !wantValid && err != nil:
			rejected++
			if !errors.Is(err, sbom.ErrInvalid) {
				t.Errorf("%s: rejected with %v, which is not ErrInvalid", name, err)
			}
		case tolerated[name] != "":
			t.Logf("%s: tolerated: %s", name, tolerated[name])
		case wantValid:
			t.Errorf("%s: valid document rejected: %v", name, err)
		default:
			t.Errorf("%s: invalid document accepted", name)
		}
	}
	t.Logf("valid accepted: %d/%d; invalid rejected: %d/%d", accepted, valid, rejected, invalid)
	if valid != 45 || invalid != 25 {
		t.Errorf("found %d valid and %d invalid files, want 45 and 25", valid, invalid)
	}
}

// TestSchemaTolerance: osv-scalibr's empty subject ({"type": "", "name": ""}) is not in the
// schema's enum, but says nothing; it is ignored rather than failing the document.
func TestSchemaTolerance(t *testing.T) {
	doc := decode(t, "corpus/osv-scanner/alpine-zlib-16.cdx.json")
	if n := len(doc.Inventory.Components); n != 1 {
		t.Fatalf("%d components, want 1", n)
	}
	c := doc.Inventory.Components[0]
	if c.Source.Name != "zlib" || c.Distro.String() != "alpine-3.22.0" || len(c.Locations) != 1 || c.Locations[0] != "lib/apk/db/installed" {
		t.Errorf("zlib = %+v", c)
	}
}
