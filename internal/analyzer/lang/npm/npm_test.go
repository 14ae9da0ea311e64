package npm_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/npm"
	"github.com/stellaops/stellaops/internal/inventory"
)

func pkg(name, version, loc string, licenses ...string) inventory.Component {
	return inventory.Component{
		Ecosystem: inventory.EcosystemNPM, Name: name, Version: version, Locations: []string{loc}, Licenses: licenses,
	}
}

func TestAnalyze(t *testing.T) {
	const lock = "app/package-lock.json"
	const yarn = "app/yarn.lock"
	const pnpm = "app/pnpm-lock.yaml"
	langtest.Run(t, npm.New(npm.DefaultConfig()), []langtest.Case{
		// package-lock.json
		{Name: "real v3 install", File: "testdata/real-v3/package-lock.json", Path: lock, Golden: "testdata/real-v3.golden.json"},
		{Name: "v1", File: "testdata/syft/v1.package-lock.json", Path: lock, Golden: "testdata/v1.golden.json"},
		{Name: "v1 nested", File: "testdata/syft/v1-nested.package-lock.json", Path: lock, Golden: "testdata/v1-nested.golden.json"},
		{Name: "v1 alias", File: "testdata/syft/v1-alias.package-lock.json", Path: lock, Golden: "testdata/v1-alias.golden.json"},
		{Name: "v2", File: "testdata/syft/v2.package-lock.json", Path: lock, Golden: "testdata/v2.golden.json"},
		{Name: "v2 alias", File: "testdata/syft/v2-alias.package-lock.json", Path: lock, Golden: "testdata/v2-alias.golden.json"},
		{Name: "v2 array licence", File: "testdata/syft/v2-array-license.package-lock.json", Path: lock, Golden: "testdata/v2-array-license.golden.json"},
		{Name: "v3", File: "testdata/syft/v3.package-lock.json", Path: lock, Golden: "testdata/v3.golden.json"},
		{Name: "corrupt lockfile", File: "testdata/syft/corrupt.package-lock.json", Path: lock, WantErr: true},
		// installed package.json
		{
			Name: "installed", File: "testdata/real-v3/node_modules/semver/package.json", Path: "app/node_modules/semver/package.json",
			Want: []inventory.Component{pkg("semver", "7.6.0", "app/node_modules/semver/package.json", "ISC")},
		},
		{
			Name: "installed alias folder", File: "testdata/real-v3/node_modules/lodash-old/package.json", Path: "app/node_modules/lodash-old/package.json",
			Want: []inventory.Component{pkg("lodash", "4.17.20", "app/node_modules/lodash-old/package.json", "MIT")},
		},
		{
			Name: "installed scoped", File: "testdata/real-v3/node_modules/@isaacs/string-locale-compare/package.json",
			Path: "node_modules/@isaacs/string-locale-compare/package.json",
			Want: []inventory.Component{pkg("@isaacs/string-locale-compare", "1.1.0", "node_modules/@isaacs/string-locale-compare/package.json", "ISC")},
		},
		{
			Name: "licence objects", File: "testdata/syft/license-objects.package.json", Path: "node_modules/npm/package.json",
			Want: []inventory.Component{pkg("npm", "6.14.6", "node_modules/npm/package.json", "Apache-2.0", "MIT")},
		},
		{
			Name: "licence object", File: "testdata/syft/license-object.package.json", Path: "node_modules/npm/package.json",
			Want: []inventory.Component{pkg("npm", "6.14.6", "node_modules/npm/package.json", "ISC")},
		},
		{
			Name: "licences array of strings", File: "testdata/syft/malformed-license.package.json", Path: "node_modules/npm/package.json",
			Want: []inventory.Component{pkg("npm", "6.14.6", "node_modules/npm/package.json", "MIT")},
		},
		{Name: "workspace member installed", File: "testdata/real-v3/util.package.json.txt", Path: "node_modules/@fixture/util/package.json",
			Want: []inventory.Component{pkg("@fixture/util", "0.1.0", "node_modules/@fixture/util/package.json")}},
		{Name: "partial manifest", File: "testdata/syft/partial.package.json", Path: "node_modules/x/package.json", Golden: "testdata/partial.golden.json"},
		{Name: "corrupt manifest", File: "testdata/syft/corrupt.package.json", Path: "node_modules/npm/package.json", WantErr: true},
		// yarn and pnpm
		{Name: "yarn classic", File: "testdata/syft/v1.yarn.lock", Path: yarn, Golden: "testdata/yarn-v1.golden.json"},
		{Name: "yarn classic duplicates", File: "testdata/syft/dups.yarn.lock", Path: yarn, Golden: "testdata/yarn-dups.golden.json"},
		{Name: "yarn berry", File: "testdata/syft/berry.yarn.lock", Path: yarn, Golden: "testdata/yarn-berry.golden.json"},
		{Name: "yarn not a lockfile", File: "testdata/real-v3/package.json.txt", Path: yarn, WantErr: true},
		{Name: "pnpm v5", File: "testdata/syft/v5.pnpm-lock.yaml", Path: pnpm, Golden: "testdata/pnpm-v5.golden.json"},
		{Name: "pnpm v5 peer suffix", File: "testdata/syft/v5-peer.pnpm-lock.yaml", Path: pnpm, Golden: "testdata/pnpm-v5-peer.golden.json"},
		{Name: "pnpm v6", File: "testdata/syft/v6.pnpm-lock.yaml", Path: pnpm, Golden: "testdata/pnpm-v6.golden.json"},
		{Name: "pnpm v9", File: "testdata/syft/v9.pnpm-lock.yaml", Path: pnpm, Golden: "testdata/pnpm-v9.golden.json"},
		{Name: "pnpm multi-document", File: "testdata/syft/multi-doc.pnpm-lock.yaml", Path: pnpm, Golden: "testdata/pnpm-multi-doc.golden.json"},
		{Name: "pnpm corrupt", File: "testdata/syft/corrupt.pnpm-lock.yaml", Path: pnpm, WantErr: true},
	})
}

func TestRequired(t *testing.T) {
	langtest.RunRequired(t, npm.New(npm.DefaultConfig()), []langtest.RequiredCase{
		{Path: "app/package-lock.json", Want: true},
		{Path: "package-lock.json", Want: true},
		{Path: "app/npm-shrinkwrap.json", Want: true},
		{Path: "app/yarn.lock", Want: true},
		{Path: "app/pnpm-lock.yaml", Want: true},
		{Path: "app/node_modules/.package-lock.json", Want: false},
		{Path: "app/node_modules/foo/package-lock.json", Want: false},
		{Path: "app/node_modules/foo/yarn.lock", Want: false},
		{Path: "app/package.json", Want: false},
		{Path: "package.json", Want: false},
		{Path: "node_modules/foo/package.json", Want: true},
		{Path: "usr/lib/node_modules/npm/package.json", Want: true},
		{Path: "app/node_modules/@scope/foo/package.json", Want: true},
		{Path: "app/node_modules/a/node_modules/@s/b/package.json", Want: true},
		{Path: "app/node_modules/foo/lib/package.json", Want: false},
		{Path: "app/node_modules/@scope/package.json", Want: false},
		{Path: "app/node_modules/@scope/foo/esm/package.json", Want: false},
		{Path: "app/node_modules/.bin/package.json", Want: false},
		{Path: "app/my_node_modules/foo/package.json", Want: false},
		{Path: "app/node_modules/package.json", Want: false},
	})
}

func TestLimits(t *testing.T) {
	b, err := os.ReadFile("testdata/syft/v1-nested.package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, cfg := range map[string]npm.Config{
		"size":     {MaxLockfileSize: 100, MaxManifestSize: 100, MaxPackages: 1000, MaxDepth: 10},
		"packages": {MaxLockfileSize: 1 << 20, MaxManifestSize: 100, MaxPackages: 2, MaxDepth: 10},
		"depth":    {MaxLockfileSize: 1 << 20, MaxManifestSize: 100, MaxPackages: 1000, MaxDepth: 0},
	} {
		if _, err := npm.New(cfg).Analyze(ctx, analyzertest.Input(t, "package-lock.json", b, 0o644)); err == nil {
			t.Errorf("%s limit: Analyze() succeeded", name)
		}
	}
	deep := `{"lockfileVersion":1,` + strings.Repeat(`"dependencies":{"a":{"version":"1.0.0",`, 300) +
		`"x":1` + strings.Repeat("}}", 300) + "}"
	_, err = npm.New(npm.DefaultConfig()).Analyze(ctx, analyzertest.Input(t, "package-lock.json", []byte(deep), 0o644))
	if err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("deep v1 tree: Analyze() error = %v, want the depth limit", err)
	}
}
