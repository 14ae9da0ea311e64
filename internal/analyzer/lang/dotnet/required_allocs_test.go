package dotnet_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/lang/dotnet"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
)

func TestRequiredAllocs(t *testing.T) {
	langtest.RequiredAllocs(t, dotnet.New(dotnet.DefaultConfig()),
		"usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", "app/node_modules/@scope/pkg/package.json",
		"app/requirements/base.txt", "app/BOOT-INF/lib/x.jar", "usr/bin/app", "app/Cargo.lock", "app/x.deps.json",
		"usr/local/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec", "app/vendor/composer/installed.json",
		"usr/share/doc/libc6/changelog.Debian.gz")
}
