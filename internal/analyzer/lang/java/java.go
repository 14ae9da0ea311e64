// Package java finds Maven artifacts in Java archives (jar, war, ear, par, sar, and Jenkins
// plugins jpi and hpi), reading them with archive/zip from the file handed over by the walker.
// It owns the identification of an archive: one component per pom.properties (a shaded or
// "fat" jar carries many), a fallback from META-INF/MANIFEST.MF and the file name, and the
// recursive reading of nested archives (BOOT-INF/lib, WEB-INF/lib, any archive inside). It must
// not read pom.xml (source analysis is out of scope), look artifacts up by hash on a network,
// or extract archives to disk.
//
// The manifest and properties parsers are our own: both formats are a few lines of text, and
// Go has no standard reader for either.
//
// Decisions:
//   - Nested archives are located as "<outer path>!/<entry path>", the form of Java's jar: URLs
//     ("app.jar!/BOOT-INF/lib/guava-31.1-jre.jar", and "a.war!/WEB-INF/lib/b.jar!/lib/c.jar"
//     deeper down). The part before the first "!/" is always a real path in the image.
//   - When an archive has no pom.properties of its own (nested archives do not count), one
//     component is made from the manifest and the file name: the artifact is the file name
//     without its version ("commons-io-2.11.0.jar" → "commons-io", the version starting at the
//     last "-" followed by a digit); the version is Implementation-Version, else the file
//     name's, else Bundle-Version; the group is guessed, in order, from Implementation-Vendor-Id,
//     Jenkins' Group-Id, or Bundle-SymbolicName (less a trailing ".<artifact>", the Maven bundle
//     plugin's default "groupId.artifactId"; otherwise taken whole). Without a group the name is
//     the artifact alone; without any version nothing is reported. The guess is best effort and
//     can be wrong for bundles named after their packages.
//   - Limits: nested archives are opened to MaxDepth levels; an entry whose declared size
//     exceeds MaxEntrySize is skipped, and reads stop at that size whatever the header says;
//     all decompressed bytes of one outer archive count against MaxTotalBytes and all entries
//     against MaxEntries, and exceeding either (a zip bomb) fails the whole archive. Nested
//     archives that are not valid zip files are skipped; an outer archive that is not valid is
//     an error.
package java

import (
	"context"
	"io/fs"
	"strings"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langfile"
)

// Name is the analyzer's stable identifier.
const Name = "lang/java"

// Config holds the analyzer's limits.
type Config struct {
	// MaxDepth is how many levels of nested archives are opened (1: the archives inside the
	// file, but not the archives inside those).
	MaxDepth int
	// MaxEntrySize bounds one entry read from an archive: a nested archive that must be
	// decompressed, a pom.properties or a manifest.
	MaxEntrySize int64
	// MaxTotalBytes bounds all bytes decompressed while reading one file.
	MaxTotalBytes int64
	// MaxEntries bounds the number of entries of one file, nested archives included.
	MaxEntries int
}

// DefaultConfig returns the limits used by the scanner.
func DefaultConfig() Config {
	return Config{MaxDepth: 3, MaxEntrySize: 256 << 20, MaxTotalBytes: 1 << 30, MaxEntries: 500_000}
}

// Analyzer reads Java archives.
type Analyzer struct{ cfg Config }

var _ analyzer.Analyzer = (*Analyzer)(nil)

// New returns an analyzer with the given configuration.
func New(cfg Config) *Analyzer { return &Analyzer{cfg: cfg} }

// Name implements [analyzer.Analyzer].
func (*Analyzer) Name() string { return Name }

// Version implements [analyzer.Analyzer].
func (*Analyzer) Version() int { return 1 }

// Required implements [analyzer.Analyzer]: the archive extensions, in any letter case.
func (*Analyzer) Required(p string, _ fs.FileInfo) bool { return isArchive(p) }

// isArchive reports whether name ends in one of the Java archive extensions.
func isArchive(name string) bool {
	if len(name) < 5 || name[len(name)-4] != '.' || name[len(name)-5] == '/' {
		return false
	}
	ext := name[len(name)-3:]
	for _, e := range [...]string{"jar", "war", "ear", "par", "sar", "jpi", "hpi"} {
		if strings.EqualFold(ext, e) {
			return true
		}
	}
	return false
}

// Analyze implements [analyzer.Analyzer].
func (a *Analyzer) Analyze(ctx context.Context, in *analyzer.Input) (*analyzer.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in == nil || in.Content == nil {
		return nil, nil
	}
	w := &walk{cfg: a.cfg, budget: a.cfg.MaxTotalBytes}
	cs, err := w.archive(ctx, in.Content, in.Content.Size(), in.Path, 0)
	if err != nil {
		return nil, err
	}
	return langfile.Result(cs), nil
}
