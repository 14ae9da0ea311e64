package bomindex

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// decoder reads bom-index fields and remembers the first error, so Decode reads straight through.
type decoder struct {
	r   *bufio.Reader
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.fail("truncated (%v)", err)
		return nil
	}
	return b
}

func (d *decoder) u32() uint32 {
	b := d.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (d *decoder) count(what string) int {
	n := d.u32()
	if n > maxCount {
		d.fail("%s count %d over limit", what, n)
		return 0
	}
	return int(n)
}

func (d *decoder) str(what string) string {
	n := d.u32()
	if n > maxString {
		d.fail("%s of %d bytes over limit", what, n)
		return ""
	}
	return string(d.bytes(int(n)))
}

func (d *decoder) bitmap(bound int) []uint32 {
	n := d.u32()
	if n > maxBitmap {
		d.fail("bitmap of %d bytes over limit", n)
		return nil
	}
	b := d.bytes(int(n))
	if d.err != nil {
		return nil
	}
	bm := roaring.New()
	if _, err := bm.FromBuffer(b); err != nil {
		d.fail("bitmap: %v", err)
		return nil
	}
	// One set, one encoding: a bitmap must be stored exactly as Encode writes it, so equal
	// indexes are equal bytes (and digests of them can be compared).
	canon := roaring.BitmapOf(bm.ToArray()...)
	canon.RunOptimize()
	var cb bytes.Buffer
	if _, err := canon.WriteTo(&cb); err != nil || !bytes.Equal(cb.Bytes(), b) {
		d.fail("bitmap not in canonical form")
		return nil
	}
	if bm.GetCardinality() > uint64(bound) {
		d.fail("bitmap has more members than the %d it indexes", bound)
		return nil
	}
	out := bm.ToArray()
	if len(out) > 0 && int(out[len(out)-1]) >= bound {
		d.fail("bitmap member %d out of range (%d)", out[len(out)-1], bound)
		return nil
	}
	return out
}

// Decode reads a bom-index. It refuses unknown versions, truncated or oversized fields, unsorted
// or duplicate component keys, and bitmap members out of range.
func Decode(r io.Reader) (*Index, error) {
	d := &decoder{r: bufio.NewReader(r)}
	if string(d.bytes(len(Magic))) != Magic {
		d.fail("bad magic")
		return nil, d.err
	}
	hdr := d.bytes(4)
	if d.err != nil {
		return nil, d.err
	}
	if v := binary.LittleEndian.Uint16(hdr); v != Version {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrFormat, v)
	}
	flags := binary.LittleEndian.Uint16(hdr[2:])
	idx := &Index{ImageDigest: d.str("image digest")}
	if ts := d.bytes(8); ts != nil {
		idx.GeneratedAt = time.UnixMicro(int64(binary.LittleEndian.Uint64(ts))).UTC()
	}
	nl, nc, ne := d.count("layer"), d.count("component"), d.count("entrypoint")
	// One encoding per index: only known flag bits, and the entrypoint flag exactly when there
	// are entrypoints (as Encode writes it).
	switch {
	case flags&^flagEntrypoints != 0:
		d.fail("unknown flags %#x", flags&^flagEntrypoints)
	case flags&flagEntrypoints == 0 && ne != 0:
		d.fail("entrypoints counted but flag not set")
	case flags&flagEntrypoints != 0 && ne == 0:
		d.fail("entrypoint flag set but no entrypoints")
	}
	for range nl {
		if d.err != nil {
			break
		}
		idx.Layers = append(idx.Layers, d.str("layer"))
	}
	for i := range nc {
		if d.err != nil {
			break
		}
		c := Component{Key: d.str("component key")}
		if i > 0 && strings.Compare(idx.Components[i-1].Key, c.Key) >= 0 {
			d.fail("component keys not strictly sorted at %q", c.Key)
		}
		c.Layers = d.bitmap(nl)
		idx.Components = append(idx.Components, c)
	}
	if flags&flagEntrypoints != 0 {
		for range ne {
			if d.err != nil {
				break
			}
			idx.Entrypoints = append(idx.Entrypoints, d.str("entrypoint"))
		}
		for i := range idx.Components {
			if d.err != nil {
				break
			}
			idx.Components[i].Entrypoints = d.bitmap(ne)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if _, err := d.r.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing bytes", ErrFormat)
	}
	return idx, nil
}
