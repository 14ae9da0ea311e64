// Package buildinfo reports the version, commit and build date of the running binary, from the
// Go build information (module version and VCS stamps). Release builds may override them with
// -ldflags "-X github.com/stellaops/stellaops/internal/buildinfo.version=…".
package buildinfo

import (
	"runtime/debug"
	"sync"
)

// Set by -ldflags -X in release builds; empty otherwise.
var (
	version string
	commit  string
	date    string
)

// Info describes the running build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"goVersion"`
}

// Get returns the build information, read once.
var Get = sync.OnceValue(func() Info {
	info := Info{Version: version, Commit: commit, Date: date}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		info.GoVersion = bi.GoVersion
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.time":
				if info.Date == "" {
					info.Date = s.Value
				}
			}
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	return info
})
