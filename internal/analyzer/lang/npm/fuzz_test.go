package npm_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/npm"
)

func FuzzPackageLock(f *testing.F) {
	langtest.Seeds(f, "testdata/syft/*.package-lock.json", "testdata/real-v3/package-lock.json")
	a := npm.New(npm.DefaultConfig())
	f.Fuzz(func(t *testing.T, b []byte) { langtest.Fuzz(t, a, "package-lock.json", b) })
}

func FuzzManifest(f *testing.F) {
	langtest.Seeds(f, "testdata/syft/*.package.json", "testdata/real-v3/node_modules/*/package.json")
	a := npm.New(npm.DefaultConfig())
	f.Fuzz(func(t *testing.T, b []byte) { langtest.Fuzz(t, a, "node_modules/x/package.json", b) })
}

func FuzzYarnLock(f *testing.F) {
	langtest.Seeds(f, "testdata/syft/*.yarn.lock")
	a := npm.New(npm.DefaultConfig())
	f.Fuzz(func(t *testing.T, b []byte) { langtest.Fuzz(t, a, "yarn.lock", b) })
}

func FuzzPnpmLock(f *testing.F) {
	langtest.Seeds(f, "testdata/syft/*.pnpm-lock.yaml")
	a := npm.New(npm.DefaultConfig())
	f.Fuzz(func(t *testing.T, b []byte) { langtest.Fuzz(t, a, "pnpm-lock.yaml", b) })
}
