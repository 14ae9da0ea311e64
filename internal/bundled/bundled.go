// Package bundled embeds the real advisory data StellaOps ships with, so that a fresh install
// (stellaops-cli scan run, stellaops serve --dev) can scan offline before any feed is fetched:
// the OSV all.zip files of five ecosystems from the project corpora (see osv/PROVENANCE.md for
// sources, commits and licences; CC-BY-4.0 data is attributed there and in the README).
//
// It only exposes the files; internal/advisory reads them.
package bundled

import (
	"embed"
	"io/fs"
	"time"
)

//go:embed osv
var osvFS embed.FS

// OSVSources lists the bundled feeds: source name ("osv:Go") and the path of its all.zip in OSV().
var OSVSources = []struct{ Name, Path string }{
	{"osv:AlmaLinux", "AlmaLinux/all.zip"},
	{"osv:Go", "Go/all.zip"},
	{"osv:PSF-CPython", "PSF-CPython/all.zip"},
	{"osv:PyPI", "PyPI/all.zip"},
	{"osv:crates.io", "crates.io/all.zip"},
}

// OSV returns the bundled OSV data, one directory per ecosystem.
func OSV() fs.FS {
	sub, err := fs.Sub(osvFS, "osv")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// CollectedAt is when the bundled data was collected; snapshots built from it carry this time,
// so results are reproducible wherever they are computed.
var CollectedAt = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
