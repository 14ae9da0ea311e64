// Package bomindex encodes and decodes bom-index@1, the little-endian binary sidecar that says,
// for each component of an image, which of its layers contain it. Schedulers and notifiers read it
// to find the images a new advisory affects without loading whole SBOMs.
//
// Layout (all integers little-endian; strings are uint32 length + UTF-8 bytes; bitmaps are
// uint32 length + the portable Roaring serialisation):
//
//	magic "BOMIDX1" | uint16 version = 1 | uint16 flags (bit 0: entrypoint bitmaps present)
//	string image digest | int64 generatedAt (µs since the Unix epoch)
//	uint32 layer count | uint32 component count | uint32 entrypoint count
//	layers: string digest, base first
//	components: string key (purl), sorted; then its layer bitmap
//	if flags&1: entrypoints: string path, sorted; then one entrypoint bitmap per component
//
// Encoding the same index twice gives the same bytes. The package does no I/O of its own.
package bomindex

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// Magic opens every bom-index file.
const Magic = "BOMIDX1"

// Version is the format version this package writes.
const Version = 1

const flagEntrypoints = 1

// Limits on decoded input, so a hostile file cannot make the decoder allocate without bound.
const (
	maxString = 64 << 10
	maxCount  = 1 << 22
	maxBitmap = 1 << 20
)

// ErrFormat is wrapped by every decoding error.
var ErrFormat = errors.New("bom-index: malformed")

// Component is one component and the layers (indexes into Index.Layers) that contain it.
type Component struct {
	Key         string
	Layers      []uint32
	Entrypoints []uint32 // indexes into Index.Entrypoints
}

// Index is a decoded bom-index.
type Index struct {
	ImageDigest string
	GeneratedAt time.Time
	Layers      []string
	Components  []Component
	Entrypoints []string
}

// Encode writes idx. Components and entrypoints are sorted first; keys must be unique.
func Encode(w io.Writer, idx *Index) error {
	comps := slices.Clone(idx.Components)
	slices.SortFunc(comps, func(a, b Component) int { return strings.Compare(a.Key, b.Key) })
	for i := 1; i < len(comps); i++ {
		if comps[i].Key == comps[i-1].Key {
			return fmt.Errorf("bom-index: duplicate component %q", comps[i].Key)
		}
	}
	eps := slices.Clone(idx.Entrypoints)
	if !slices.IsSorted(eps) {
		return errors.New("bom-index: entrypoints must be sorted (bitmaps index into them)")
	}
	var flags uint16
	if len(eps) > 0 {
		flags |= flagEntrypoints
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(Magic)
	le := binary.LittleEndian
	var b8 [8]byte
	le.PutUint16(b8[:], Version)
	le.PutUint16(b8[2:], flags)
	bw.Write(b8[:4])
	writeString(bw, idx.ImageDigest)
	le.PutUint64(b8[:], uint64(idx.GeneratedAt.UnixMicro()))
	bw.Write(b8[:])
	for _, n := range []int{len(idx.Layers), len(comps), len(eps)} {
		le.PutUint32(b8[:], uint32(n))
		bw.Write(b8[:4])
	}
	for _, l := range idx.Layers {
		writeString(bw, l)
	}
	for _, c := range comps {
		writeString(bw, c.Key)
		if err := writeBitmap(bw, c.Layers, len(idx.Layers)); err != nil {
			return fmt.Errorf("bom-index: component %q: %w", c.Key, err)
		}
	}
	if flags&flagEntrypoints != 0 {
		for _, e := range eps {
			writeString(bw, e)
		}
		for _, c := range comps {
			if err := writeBitmap(bw, c.Entrypoints, len(eps)); err != nil {
				return fmt.Errorf("bom-index: component %q: %w", c.Key, err)
			}
		}
	}
	return bw.Flush()
}

func writeString(w *bufio.Writer, s string) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(len(s)))
	w.Write(b[:])
	w.WriteString(s)
}

func writeBitmap(w *bufio.Writer, members []uint32, bound int) error {
	bm := roaring.New()
	for _, m := range members {
		if int(m) >= bound {
			return fmt.Errorf("index %d out of range (%d)", m, bound)
		}
		bm.Add(m)
	}
	bm.RunOptimize()
	var buf bytes.Buffer
	if _, err := bm.WriteTo(&buf); err != nil {
		return err
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(buf.Len()))
	w.Write(b[:])
	w.Write(buf.Bytes())
	return nil
}
