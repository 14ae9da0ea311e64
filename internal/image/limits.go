package image

import (
	"errors"
	"fmt"
)

// ErrHostile is wrapped by every refusal of an archive that tries to escape its root, hide
// special files, or exhaust resources. Callers test for it with errors.Is and report the message,
// which names the entry and the rule.
var ErrHostile = errors.New("hostile archive refused")

// hostile builds an ErrHostile error with a precise reason.
func hostile(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrHostile, fmt.Sprintf(format, args...))
}

// Limits bound what one image or root filesystem may cost. Every value is a ceiling; zero means
// the default from DefaultLimits (use a negative value to disable a check).
type Limits struct {
	// MaxEntrySize refuses any single file larger than this (uncompressed bytes).
	MaxEntrySize int64 `json:"maxEntrySize"`
	// MaxLayerSize refuses a layer whose uncompressed tar is larger than this.
	MaxLayerSize int64 `json:"maxLayerSize"`
	// MaxImageSize refuses an image whose layers together exceed this, uncompressed.
	MaxImageSize int64 `json:"maxImageSize"`
	// MaxEntries refuses a layer with more tar entries than this.
	MaxEntries int `json:"maxEntries"`
	// MaxRatio refuses a compressed layer that expands more than this many times, once it has
	// expanded past RatioFloor bytes (a decompression bomb; real layers expand 2–10×).
	MaxRatio int64 `json:"maxRatio"`
	// RatioFloor is the uncompressed size below which the ratio is not checked.
	RatioFloor int64 `json:"ratioFloor"`
	// MaxSymlinkDepth is the number of symlinks followed when resolving one path (Linux: 40).
	MaxSymlinkDepth int `json:"maxSymlinkDepth"`
	// MaxAnalyzedFileSize is the largest file handed to analyzers; bigger wanted files are skipped
	// with a diagnostic (not refused: an image may legitimately hold large files).
	MaxAnalyzedFileSize int64 `json:"maxAnalyzedFileSize"`
	// MemoryBuffer is the size up to which a wanted file is held in memory; larger ones are
	// spooled to the scan's temporary directory.
	MemoryBuffer int64 `json:"memoryBuffer"`
	// AllowSpecialFiles skips device nodes and FIFOs instead of refusing the layer.
	AllowSpecialFiles bool `json:"allowSpecialFiles"`
	// AllowHostileSymlinks keeps symlinks that climb above the root, loop, or chain deeper than
	// MaxSymlinkDepth (resolving them still fails) instead of refusing the image.
	AllowHostileSymlinks bool `json:"allowHostileSymlinks"`
}

// DefaultLimits are generous for real images (multi-GB ML images pass) and still stop bombs.
func DefaultLimits() Limits {
	return Limits{
		MaxEntrySize:        8 << 30,
		MaxLayerSize:        32 << 30,
		MaxImageSize:        64 << 30,
		MaxEntries:          2_000_000,
		MaxRatio:            200,
		RatioFloor:          512 << 20,
		MaxSymlinkDepth:     40,
		MaxAnalyzedFileSize: 512 << 20,
		MemoryBuffer:        32 << 20,
	}
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	fill := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&l.MaxEntrySize, d.MaxEntrySize)
	fill(&l.MaxLayerSize, d.MaxLayerSize)
	fill(&l.MaxImageSize, d.MaxImageSize)
	fill(&l.MaxRatio, d.MaxRatio)
	fill(&l.RatioFloor, d.RatioFloor)
	fill(&l.MaxAnalyzedFileSize, d.MaxAnalyzedFileSize)
	fill(&l.MemoryBuffer, d.MemoryBuffer)
	if l.MaxEntries == 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxSymlinkDepth == 0 {
		l.MaxSymlinkDepth = d.MaxSymlinkDepth
	}
	return l
}

// Normalized returns the limits with defaults applied, for callers that record them.
func (l Limits) Normalized() Limits { return l.withDefaults() }

// exceeds reports whether v is over a ceiling; a negative ceiling disables the check.
func exceeds(v, ceiling int64) bool { return ceiling >= 0 && v > ceiling }
