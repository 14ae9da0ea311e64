package ruby_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/ruby"
)

func FuzzGemspec(f *testing.F) {
	langtest.Seeds(f, "testdata/*.gemspec")
	a := ruby.New(ruby.DefaultConfig())
	f.Fuzz(func(t *testing.T, b []byte) { langtest.Fuzz(t, a, "specifications/x.gemspec", b) })
}

func FuzzLockfile(f *testing.F) {
	langtest.Seeds(f, "testdata/*.Gemfile.lock", "testdata/gems.locked")
	a := ruby.New(ruby.DefaultConfig())
	f.Fuzz(func(t *testing.T, b []byte) { langtest.Fuzz(t, a, "Gemfile.lock", b) })
}
