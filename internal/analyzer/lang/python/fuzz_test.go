package python_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/python"
)

func fuzzPath(f *testing.F, path string, seeds ...string) {
	langtest.Seeds(f, seeds...)
	a := python.New(python.DefaultConfig())
	f.Fuzz(func(t *testing.T, b []byte) { langtest.Fuzz(t, a, path, b) })
}

func FuzzMetadata(f *testing.F) {
	fuzzPath(f, "site-packages/x-1.dist-info/METADATA", "testdata/site-packages/*/METADATA", "testdata/syft/*PKG-INFO")
}

func FuzzRequirements(f *testing.F) {
	fuzzPath(f, "requirements.txt", "testdata/syft/requirements.txt")
}

func FuzzPoetry(f *testing.F) { fuzzPath(f, "poetry.lock", "testdata/syft/*.poetry.lock") }

func FuzzUV(f *testing.F) { fuzzPath(f, "uv.lock", "testdata/syft/*.uv.lock") }

func FuzzPipfileLock(f *testing.F) { fuzzPath(f, "Pipfile.lock", "testdata/syft/Pipfile.lock") }
