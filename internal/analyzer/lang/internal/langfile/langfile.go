// Package langfile holds the few helpers every language analyzer needs: executable sniffing for
// the binary analyzers and the final sorting of a result. It must not know any package format; parsers stay in their own
// analyzer packages.
package langfile

import (
	"io"
	"io/fs"
	"slices"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/inventory"
)

// IsExecutable reports whether info describes a file with any execute bit set and at least
// minSize bytes. A nil info (no metadata) is not executable.
func IsExecutable(info fs.FileInfo, minSize int64) bool {
	if info == nil {
		return false
	}
	m := info.Mode()
	return m&fs.ModeType == 0 && m.Perm()&0o111 != 0 && info.Size() >= minSize
}

// Format is an executable container format recognised by its magic number.
type Format int

// Executable formats. MachOFat is a universal binary holding several Mach-O images.
const (
	FormatUnknown Format = iota
	FormatELF
	FormatPE
	FormatMachO
	FormatMachOFat
)

// Sniff reads the first bytes of r and names its executable format. Java class files share the
// fat Mach-O magic (0xcafebabe); a fat header is accepted only when its architecture count is
// small, as class-file versions are never below 45.
func Sniff(r io.ReaderAt) Format {
	var b [8]byte
	if n, _ := r.ReadAt(b[:], 0); n < len(b) {
		return FormatUnknown
	}
	switch {
	case b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F':
		return FormatELF
	case b[0] == 'M' && b[1] == 'Z':
		return FormatPE
	case (b[0] == 0xfe && b[1] == 0xed && b[2] == 0xfa && (b[3] == 0xce || b[3] == 0xcf)) ||
		((b[0] == 0xce || b[0] == 0xcf) && b[1] == 0xfa && b[2] == 0xed && b[3] == 0xfe):
		return FormatMachO
	case b[0] == 0xca && b[1] == 0xfe && b[2] == 0xba && b[3] == 0xbe:
		if b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] > 0 && b[7] < 20 {
			return FormatMachOFat
		}
	}
	return FormatUnknown
}

// Result sorts and de-duplicates components and wraps them in a result; it returns nil when
// there are none, which the walker reads as "nothing here".
func Result(cs []inventory.Component) *analyzer.Result {
	if len(cs) == 0 {
		return nil
	}
	cs = inventory.Dedupe(cs)
	return &analyzer.Result{Components: slices.Clip(cs)}
}
