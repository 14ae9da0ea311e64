// Package list is the registry of analyzers: it assembles every analyzer the scanner runs, with
// its default configuration. It owns no logic; the layer walker and the CLIs take their analyzer
// set from here so that the layer cache fingerprint covers exactly what runs.
package list

import (
	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/lang/cargo"
	"github.com/stellaops/stellaops/internal/analyzer/lang/dotnet"
	"github.com/stellaops/stellaops/internal/analyzer/lang/gobinary"
	"github.com/stellaops/stellaops/internal/analyzer/lang/java"
	"github.com/stellaops/stellaops/internal/analyzer/lang/npm"
	"github.com/stellaops/stellaops/internal/analyzer/lang/php"
	"github.com/stellaops/stellaops/internal/analyzer/lang/python"
	"github.com/stellaops/stellaops/internal/analyzer/lang/ruby"
	"github.com/stellaops/stellaops/internal/analyzer/os/apk"
	"github.com/stellaops/stellaops/internal/analyzer/os/dpkg"
	"github.com/stellaops/stellaops/internal/analyzer/os/rpm"
	"github.com/stellaops/stellaops/internal/analyzer/osrelease"
)

// Default returns a new slice of every analyzer with its default configuration: the release-file
// detector, the OS package databases, then the language ecosystems.
func Default() []analyzer.Analyzer {
	return []analyzer.Analyzer{
		osrelease.New(osrelease.DefaultConfig()),
		dpkg.New(dpkg.DefaultConfig()),
		apk.New(apk.DefaultConfig()),
		rpm.New(rpm.DefaultConfig()),
		gobinary.New(gobinary.DefaultConfig()),
		cargo.New(cargo.DefaultConfig()),
		npm.New(npm.DefaultConfig()),
		python.New(python.DefaultConfig()),
		java.New(java.DefaultConfig()),
		ruby.New(ruby.DefaultConfig()),
		dotnet.New(dotnet.DefaultConfig()),
		php.New(php.DefaultConfig()),
	}
}
