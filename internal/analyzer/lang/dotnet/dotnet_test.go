package dotnet_test

import (
	"context"
	"os"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/dotnet"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
	"github.com/stellaops/stellaops/internal/inventory"
)

func TestAnalyze(t *testing.T) {
	const loc = "app/MyApp.deps.json"
	langtest.Run(t, dotnet.New(dotnet.DefaultConfig()), []langtest.Case{
		{Name: "library with project references", File: "testdata/TestLibrary.deps.json", Path: "app/TestLibrary.deps.json", Golden: "testdata/TestLibrary.golden.json"},
		{
			Name: "reference assemblies skipped", File: "testdata/MyApp.deps.json", Path: loc,
			Want: []inventory.Component{{
				Ecosystem: inventory.EcosystemNuGet, Name: "Newtonsoft.Json", Version: "13.0.3", Locations: []string{loc}, Direct: true,
				Hashes: []inventory.Hash{{Algorithm: "SHA-512", Value: "1eb0b9057765d3420ff73795fb467ce3c4163c0a02afd3f76c311982e23e8242dc04a00ec62c7fb4b1000070be52f0cd3efe1ad9dd7c94e45e1cc39a80f6becd"}},
			}},
		},
		{Name: "self-contained runtime pack", File: "testdata/dotnetapp-self-contained.deps.json", Path: "app/dotnetapp.deps.json", Golden: "testdata/self-contained.golden.json"},
		{Name: "trivy happy", File: "testdata/happy.deps.json", Path: "app/ExampleApp1.deps.json", Golden: "testdata/happy.golden.json"},
		{Name: "without runtime target", File: "testdata/without-runtime.deps.json", Path: "app/x.deps.json", Golden: "testdata/without-runtime.golden.json"},
		{Name: "no libraries", File: "testdata/no-libraries.deps.json", Path: "app/x.deps.json"},
		{Name: "invalid", File: "testdata/invalid.deps.json", Path: "app/x.deps.json", WantErr: true},
	})
}

func TestRequired(t *testing.T) {
	langtest.RunRequired(t, dotnet.New(dotnet.DefaultConfig()), []langtest.RequiredCase{
		{Path: "app/MyApp.deps.json", Want: true},
		{Path: "usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.0/Microsoft.NETCore.App.deps.json", Want: true},
		{Path: "app/.deps.json", Want: false},
		{Path: "app/MyApp.runtimeconfig.json", Want: false},
		{Path: "app/deps.json.bak", Want: false},
		{Path: "app/packages.lock.json", Want: false},
	})
}

func TestLimits(t *testing.T) {
	b, err := os.ReadFile("testdata/TestLibrary.deps.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]dotnet.Config{"size": {MaxFileSize: 10, MaxPackages: 100}, "count": {MaxFileSize: 1 << 20, MaxPackages: 2}} {
		if _, err := dotnet.New(cfg).Analyze(context.Background(), analyzertest.Input(t, "x.deps.json", b, 0o644)); err == nil {
			t.Errorf("%s limit: Analyze() succeeded", name)
		}
	}
}

func FuzzDepsJSON(f *testing.F) {
	langtest.Seeds(f, "testdata/*.deps.json")
	a := dotnet.New(dotnet.DefaultConfig())
	f.Fuzz(func(t *testing.T, b []byte) { langtest.Fuzz(t, a, "app/x.deps.json", b) })
}
