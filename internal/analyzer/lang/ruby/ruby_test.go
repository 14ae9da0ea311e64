package ruby_test

import (
	"context"
	"os"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/ruby"
	"github.com/stellaops/stellaops/internal/inventory"
)

func gem(name, version, loc string, licenses ...string) inventory.Component {
	return inventory.Component{Ecosystem: inventory.EcosystemGem, Name: name, Version: version, Locations: []string{loc}, Licenses: licenses}
}

func TestAnalyzeGemspec(t *testing.T) {
	const spec = "usr/local/lib/ruby/gems/3.1.0/specifications/"
	langtest.Run(t, ruby.New(ruby.DefaultConfig()), []langtest.Case{
		{Name: "bundler", File: "testdata/bundler.gemspec", Path: spec + "bundler-2.1.4.gemspec",
			Want: []inventory.Component{gem("bundler", "2.1.4", spec+"bundler-2.1.4.gemspec", "MIT")}},
		{Name: "frozen version", File: "testdata/formatador.gemspec", Path: spec + "formatador-1.1.0.gemspec",
			Want: []inventory.Component{gem("formatador", "1.1.0", spec+"formatador-1.1.0.gemspec", "MIT")}},
		{Name: "multiple licences", File: "testdata/test-unit.gemspec", Path: spec + "test-unit-3.3.7.gemspec",
			Want: []inventory.Component{gem("test-unit", "3.3.7", spec+"test-unit-3.3.7.gemspec", "BSDL", "PSFL", "Ruby")}},
		{Name: "singular license", File: "testdata/license.gemspec", Path: spec + "async.gemspec",
			Want: []inventory.Component{gem("async", "1.25.0", spec+"async.gemspec", "MIT")}},
		{Name: "licence string and comments", File: "testdata/normal01.gemspec", Path: spec + "async.gemspec",
			Want: []inventory.Component{gem("async", "1.25.0", spec+"async.gemspec", "MIT")}},
		{Name: "other block variable", File: "testdata/malformed00.gemspec", Path: spec + "async.gemspec",
			Want: []inventory.Component{gem("async", "1.25.0", spec+"async.gemspec")}},
		{Name: "default gem", File: "testdata/rss-0.2.9.gemspec", Path: spec + "default/rss-0.2.9.gemspec",
			Want: []inventory.Component{gem("rss", "0.2.9", spec+"default/rss-0.2.9.gemspec", "BSD-2-Clause")}},
		{Name: "yaml", File: "testdata/yaml-0.2.1.gemspec", Path: spec + "default/yaml-0.2.1.gemspec", Golden: "testdata/yaml.golden.json"},
		{Name: "truncated, stub line", File: "testdata/invalid.gemspec", Path: spec + "rss-0.2.9.gemspec",
			Want: []inventory.Component{gem("rss", "0.2.9", spec+"rss-0.2.9.gemspec")}},
		{Name: "version constant", File: "testdata/version_inline.gemspec", Path: spec + "example_inline.gemspec"},
		{Name: "bad spec, literal assignments", File: "testdata/badspec.gemspec", Path: spec + "foo.gemspec",
			Want: []inventory.Component{gem("foo", "1.2.3", spec+"foo.gemspec")}},
		{Name: "empty", File: "testdata/empty.gemspec", Path: spec + "empty.gemspec"},
		{Name: "binary", File: "testdata/binary.gemspec.bin", Path: spec + "x.gemspec", WantErr: true},
		// RubyGems joins extension paths with NUL bytes in the "# stub:" line: still text.
		{Name: "stub line with NULs", File: "testdata/debian-json-2.6.1.gemspec", Path: spec + "default/json-2.6.1.gemspec",
			Want: []inventory.Component{gem("json", "2.6.1", spec+"default/json-2.6.1.gemspec", "Ruby")}},
	})
}

func TestAnalyzeLockfile(t *testing.T) {
	langtest.Run(t, ruby.New(ruby.DefaultConfig()), []langtest.Case{
		{Name: "syft", File: "testdata/syft.Gemfile.lock", Path: "app/Gemfile.lock", Golden: "testdata/syft.golden.json"},
		{Name: "platforms", File: "testdata/osv-scanner-docs.Gemfile.lock", Path: "docs/Gemfile.lock", Golden: "testdata/osv-scanner-docs.golden.json"},
		{Name: "gems.locked with PATH", File: "testdata/gems.locked", Path: "app/gems.locked", Golden: "testdata/gems-locked.golden.json"},
		{Name: "not a lockfile", File: "testdata/bundler.gemspec", Path: "app/Gemfile.lock", WantErr: true},
	})
}

func TestRequired(t *testing.T) {
	langtest.RunRequired(t, ruby.New(ruby.DefaultConfig()), []langtest.RequiredCase{
		{Path: "usr/local/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec", Want: true},
		{Path: "usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec", Want: true},
		{Path: "specifications/x.gemspec", Want: true},
		{Path: "app/myapp.gemspec", Want: false},
		{Path: "usr/local/lib/ruby/gems/3.1.0/gems/rake-13.0.6/rake.gemspec", Want: false},
		{Path: "app/Gemfile.lock", Want: true},
		{Path: "app/gems.locked", Want: true},
		{Path: "app/Gemfile", Want: false},
	})
}

func TestLimits(t *testing.T) {
	b, err := os.ReadFile("testdata/syft.Gemfile.lock")
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]ruby.Config{"size": {MaxFileSize: 10, MaxPackages: 100}, "count": {MaxFileSize: 1 << 20, MaxPackages: 2}} {
		if _, err := ruby.New(cfg).Analyze(context.Background(), analyzertest.Input(t, "Gemfile.lock", b, 0o644)); err == nil {
			t.Errorf("%s limit: Analyze() succeeded", name)
		}
	}
}
