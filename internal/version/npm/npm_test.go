package npm_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stellaops/stellaops/internal/version/internal/vectors"
	"github.com/stellaops/stellaops/internal/version/internal/vererr"
	"github.com/stellaops/stellaops/internal/version/npm"
)

// OutOfScope lists the node-semver fixture files we do not run: they test operations that are not
// version comparison or range matching.
var OutOfScope = map[string]string{
	"increments.js":              "semver.inc (computing the next version), not comparison",
	"truncations.js":             "semver.truncate (dropping components), not comparison",
	"comparator-intersection.js": "Comparator.intersects (do two comparators overlap), not matching a version",
	"range-intersection.js":      "Range.intersects (do two ranges overlap), not matching a version",
}

// options is node-semver's parseOptions: falsy → {}, a non-object → {loose: true}, an object →
// its loose and includePrerelease properties (a RegExp is an object without them).
func options(row []any, i int) npm.Options {
	if i >= len(row) || !truthy(row[i]) {
		return npm.Options{}
	}
	switch o := row[i].(type) {
	case map[string]any:
		return npm.Options{Loose: truthy(o["loose"]), IncludePrerelease: truthy(o["includePrerelease"])}
	case jsRegexp:
		return npm.Options{}
	}
	return npm.Options{Loose: true}
}

func str(t *testing.T, v any) string {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%v is not a string", v)
	}
	return s
}

func TestComparisons(t *testing.T) {
	rows := readFixture(t, "comparisons.js")
	for _, r := range rows {
		opt := options(r, 2)
		a, err := npm.ParseOptions(str(t, r[0]), opt)
		if err != nil {
			t.Fatal(err)
		}
		b, err := npm.ParseOptions(str(t, r[1]), opt)
		if err != nil {
			t.Fatal(err)
		}
		if a.Compare(b) != 1 || b.Compare(a) != -1 || a.Compare(a) != 0 {
			t.Errorf("%v: want %s > %s", r, a, b)
		}
	}
	if len(rows) != 31 {
		t.Errorf("%d rows, want 31", len(rows))
	}
}

func TestEquality(t *testing.T) {
	rows := readFixture(t, "equality.js")
	for _, r := range rows {
		opt := options(r, 2)
		a, err := npm.ParseOptions(str(t, r[0]), opt)
		if err != nil {
			t.Fatal(err)
		}
		b, err := npm.ParseOptions(str(t, r[1]), opt)
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		if a.Compare(b) != 0 {
			t.Errorf("%v: want equal", r)
		}
	}
	if len(rows) != 37 {
		t.Errorf("%d rows, want 37", len(rows))
	}
}

func TestValidVersions(t *testing.T) {
	rows := readFixture(t, "valid-versions.js")
	for _, r := range rows {
		v, err := npm.Parse(str(t, r[0]))
		if err != nil {
			t.Errorf("%v: %v", r, err)
			continue
		}
		pre := ""
		for i, id := range r[4].([]any) {
			if i > 0 {
				pre += "."
			}
			pre += fmt.Sprint(id)
		}
		want := fmt.Sprintf("%v.%v.%v", r[1], r[2], r[3])
		if pre != "" {
			want += "-" + pre
		}
		if v.Canonical() != want {
			t.Errorf("%v: canonical %q, want %q", r, v.Canonical(), want)
		}
	}
	if len(rows) != 22 {
		t.Errorf("%d rows, want 22", len(rows))
	}
}

func TestInvalidVersions(t *testing.T) {
	rows := readFixture(t, "invalid-versions.js")
	strings, others := 0, 0
	for _, r := range rows {
		s, ok := r[0].(string)
		if !ok {
			// A RegExp or an object with toString: a Go string API cannot be handed one.
			others++
			continue
		}
		strings++
		if _, err := npm.ParseOptions(s, options(r, 2)); !errors.Is(err, vererr.ErrInvalid) {
			t.Errorf("%v: error = %v, want ErrInvalid", r[1], err)
		}
	}
	if strings != 7 || others != 3 {
		t.Errorf("%d string rows, %d others; want 7, 3", strings, others)
	}
}

// contains reports whether node-semver's satisfies(version, range, options) holds; a version or
// range that does not parse is not satisfied, as in node-semver.
func contains(t *testing.T, r []any) (rng npm.Range, v npm.Version, ok bool) {
	t.Helper()
	opt := options(r, 2)
	rng, err := npm.ParseRangeOptions(str(t, r[0]), opt)
	if err != nil {
		t.Fatalf("%v: %v", r, err)
	}
	s, isString := r[1].(string)
	if !isString {
		return rng, v, false
	}
	v, err = npm.ParseOptions(s, opt)
	if err != nil {
		return rng, v, false
	}
	return rng, v, rng.Contains(v)
}

func TestRangeInclude(t *testing.T) {
	rows := readFixture(t, "range-include.js")
	for _, r := range rows {
		if _, _, ok := contains(t, r); !ok {
			t.Errorf("%q should include %q (%v)", r[0], r[1], r[2:])
		}
	}
	if len(rows) != 126 {
		t.Errorf("%d rows, want 126", len(rows))
	}
}

func TestRangeExclude(t *testing.T) {
	rows := readFixture(t, "range-exclude.js")
	for _, r := range rows {
		if _, _, ok := contains(t, r); ok {
			t.Errorf("%q should exclude %q (%v)", r[0], r[1], r[2:])
		}
	}
	if len(rows) != 98 {
		t.Errorf("%d rows, want 98", len(rows))
	}
}

func TestOutside(t *testing.T) {
	for _, tc := range []struct {
		file string
		gt   bool
		want bool
		rows int
	}{
		{"version-gt-range.js", true, true, 56},
		{"version-lt-range.js", false, true, 58},
		{"version-not-gt-range.js", true, false, 80},
		{"version-not-lt-range.js", false, false, 83},
	} {
		rows := readFixture(t, tc.file)
		for _, r := range rows {
			opt := options(r, 2)
			rng, err := npm.ParseRangeOptions(str(t, r[0]), opt)
			if err != nil {
				t.Fatalf("%s %v: %v", tc.file, r, err)
			}
			v, err := npm.ParseOptions(str(t, r[1]), opt)
			if err != nil {
				t.Fatalf("%s %v: %v", tc.file, r, err)
			}
			got := rng.LessThan(v)
			if tc.gt {
				got = rng.GreaterThan(v)
			}
			if got != tc.want {
				t.Errorf("%s: %q vs %q = %v", tc.file, r[0], r[1], got)
			}
		}
		if len(rows) != tc.rows {
			t.Errorf("%s: %d rows, want %d", tc.file, len(rows), tc.rows)
		}
	}
}

func TestRangeParse(t *testing.T) {
	rows := readFixture(t, "range-parse.js")
	for _, r := range rows {
		rng, err := npm.ParseRangeOptions(str(t, r[0]), options(r, 2))
		if r[1] == nil {
			if err == nil {
				t.Errorf("%q (%v): parsed as %q, want invalid", r[0], r[2:], rng)
			} else if !errors.Is(err, vererr.ErrInvalid) {
				t.Errorf("%q: error %v does not wrap ErrInvalid", r[0], err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q (%v): %v", r[0], r[2:], err)
			continue
		}
		if got := rng.String(); got != r[1] {
			t.Errorf("%q (%v) = %q, want %q", r[0], r[2:], got, r[1])
		}
	}
	if len(rows) != 133 {
		t.Errorf("%d rows, want 133", len(rows))
	}
}

func TestSemverVectors(t *testing.T) {
	cmp := func(a, b string) (int, error) {
		x, err := npm.Parse(a)
		if err != nil {
			return 0, err
		}
		y, err := npm.Parse(b)
		if err != nil {
			return 0, err
		}
		return x.Compare(y), nil
	}
	exceptions := map[string]string{
		"999999999999999999999999999991 < 999999999999999999999999999999": "not an npm version: one component, and above 2^53-1 (node-semver-fixtures/invalid-versions.js: too big)",
		"999999999999999999999999999991.999999999999999999999999999991.999999999999999999999999999991 < 999999999999999999999999999999.999999999999999999999999999991.999999999999999999999999999991": "not an npm version: numbers above 2^53-1 (node-semver-fixtures/invalid-versions.js: too big)",
		"1.1.3.4.5 = 1.1.3.4.5": "not an npm version (five numeric components): node-semver rejects it, loose or strict",
	}
	if got := vectors.Run(t, "osv-scalibr-semantic/semver-versions.txt", cmp, exceptions); got != 83 {
		t.Errorf("passed %d lines, want 83", got)
	}
}

func FuzzParse(f *testing.F) {
	vectors.Fuzz(f, npm.Parse, "1.2.3-alpha.1+build", "v1.2.3", " =1.2.3", "1.2.3-a.b.c.10.d.5")
}

// FuzzRange checks that ParseRange never panics and that Contains is total.
func FuzzRange(f *testing.F) {
	for _, s := range []string{"^1.2.3", "~1.2", "1.x || >=2.0.0 <2.1.0", "1.2.3 - 2.3.4", ">=1.0.0-0", "*"} {
		f.Add(s, "1.2.3")
	}
	f.Fuzz(func(t *testing.T, expr, ver string) {
		for _, opt := range []npm.Options{{}, {Loose: true}, {IncludePrerelease: true}} {
			r, err := npm.ParseRangeOptions(expr, opt)
			if err != nil {
				if !errors.Is(err, vererr.ErrInvalid) {
					t.Fatalf("error does not wrap ErrInvalid: %v", err)
				}
				continue
			}
			if v, err := npm.ParseOptions(ver, opt); err == nil {
				_ = r.Contains(v)
				_ = r.GreaterThan(v)
			}
			// The canonical form must parse to the same canonical form.
			if r2, err := npm.ParseRangeOptions(r.String(), opt); err == nil && r2.String() != r.String() {
				t.Fatalf("%q canonical %q reparses as %q", expr, r.String(), r2.String())
			}
		}
	})
}

var pairs = [][2]string{{"1.2.3-alpha.1", "1.2.3"}, {"4.17.20", "4.17.21"}, {"0.10.0", "0.9.0"}}

func BenchmarkParseCompare(b *testing.B) { vectors.Bench(b, npm.Parse, pairs) }

func BenchmarkRangeContains(b *testing.B) {
	r, err := npm.ParseRange("<4.17.21 || >=5.0.0 <5.1.0")
	if err != nil {
		b.Fatal(err)
	}
	v, _ := npm.Parse("4.17.20")
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Contains(v)
	}
}
