package php_test

import (
	"context"
	"os"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/php"
	"github.com/stellaops/stellaops/internal/inventory"
)

func pkg(name, version, loc string, licenses ...string) inventory.Component {
	return inventory.Component{Ecosystem: inventory.EcosystemComposer, Name: name, Version: version, Locations: []string{loc}, Licenses: licenses}
}

func TestAnalyze(t *testing.T) {
	const installed = "var/www/vendor/composer/installed.json"
	langtest.Run(t, php.New(php.DefaultConfig()), []langtest.Case{
		{Name: "syft lockfile", File: "testdata/syft.composer.lock", Path: "app/composer.lock", Golden: "testdata/syft.golden.json"},
		{Name: "trivy lockfile with dev packages", File: "testdata/trivy.composer.lock", Path: "app/composer.lock", Golden: "testdata/trivy.golden.json"},
		{Name: "osv-scanner lockfile", File: "testdata/osv-scanner-insecure.composer.lock", Path: "composer.lock", Golden: "testdata/osv-scanner.golden.json"},
		{
			Name: "installed v2", File: "testdata/v2.installed.json", Path: installed,
			Want: []inventory.Component{pkg("pear/log", "1.13.3", installed, "MIT"), pkg("pear/pear_exception", "v1.0.2", installed, "BSD-2-Clause")},
		},
		{
			Name: "installed v1", File: "testdata/v1-derived.installed.json", Path: installed,
			Want: []inventory.Component{pkg("pear/log", "1.13.3", installed, "MIT"), pkg("pear/pear_exception", "v1.0.2", installed, "BSD-2-Clause")},
		},
		{Name: "installed v2 vendor", File: "testdata/v2-vendor.installed.json", Path: "vendor/composer/installed.json", Golden: "testdata/v2-vendor.golden.json"},
		{Name: "truncated", File: "testdata/sad.composer.lock", Path: "app/composer.lock", WantErr: true},
	})
}

func TestRequired(t *testing.T) {
	langtest.RunRequired(t, php.New(php.DefaultConfig()), []langtest.RequiredCase{
		{Path: "app/composer.lock", Want: true},
		{Path: "composer.lock", Want: true},
		{Path: "app/vendor/guzzle/guzzle/composer.lock", Want: false},
		{Path: "vendor/x/y/composer.lock", Want: false},
		{Path: "app/vendor/composer/installed.json", Want: true},
		{Path: "vendor/composer/installed.json", Want: true},
		{Path: "app/installed.json", Want: false},
		{Path: "app/composer.json", Want: false},
		{Path: "app/vendor/composer/installed.php", Want: false},
	})
}

func TestLimits(t *testing.T) {
	b, err := os.ReadFile("testdata/trivy.composer.lock")
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]php.Config{"size": {MaxFileSize: 10, MaxPackages: 100}, "count": {MaxFileSize: 1 << 20, MaxPackages: 1}} {
		if _, err := php.New(cfg).Analyze(context.Background(), analyzertest.Input(t, "composer.lock", b, 0o644)); err == nil {
			t.Errorf("%s limit: Analyze() succeeded", name)
		}
	}
}

func FuzzComposerLock(f *testing.F) {
	langtest.Seeds(f, "testdata/*.composer.lock")
	a := php.New(php.DefaultConfig())
	f.Fuzz(func(t *testing.T, b []byte) { langtest.Fuzz(t, a, "composer.lock", b) })
}

func FuzzInstalled(f *testing.F) {
	langtest.Seeds(f, "testdata/*.installed.json")
	a := php.New(php.DefaultConfig())
	f.Fuzz(func(t *testing.T, b []byte) { langtest.Fuzz(t, a, "vendor/composer/installed.json", b) })
}
