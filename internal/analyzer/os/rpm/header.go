package rpm

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// rpm header tag types (rpm lib/rpmtag.h).
const (
	tagTypeString      = 6
	tagTypeStringArray = 8
	tagTypeI18NString  = 9
	tagTypeMax         = 9
)

// checkHeader validates an rpm header blob before go-rpmdb decodes it. The blob opens with two
// big-endian counts, il index entries of 16 bytes (tag, type, offset, count) and dl bytes of data.
// go-rpmdb allocates from both counts before checking them, and walks string arrays by their
// count without stopping at the end of the data: a count of a few billion keeps it busy for hours.
// So every entry must have a known type, an offset inside the data, and, for string arrays, as
// many NUL-terminated strings as it claims. The cost is one pass over each entry's strings.
func checkHeader(blob []byte) error {
	if len(blob) < 8 {
		return fmt.Errorf("package header of %d bytes is too short", len(blob))
	}
	be := binary.BigEndian
	il := int64(int32(be.Uint32(blob[0:4])))
	dl := int64(int32(be.Uint32(blob[4:8])))
	if il < 1 || dl < 0 || 8+16*il+dl > int64(len(blob)) {
		return fmt.Errorf("package header declares %d index entries and %d data bytes, more than its %d bytes", il, dl, len(blob))
	}
	data := blob[8+16*il : 8+16*il+dl]
	for i := range il {
		e := blob[8+16*i : 8+16*i+16]
		typ, off, count := be.Uint32(e[4:8]), int64(int32(be.Uint32(e[8:12]))), int64(be.Uint32(e[12:16]))
		switch {
		case typ > tagTypeMax:
			return fmt.Errorf("package header entry %d has type %d", i, typ)
		case off < 0 || off > dl:
			return fmt.Errorf("package header entry %d has offset %d outside %d data bytes", i, off, dl)
		case typ != tagTypeString && typ != tagTypeStringArray && typ != tagTypeI18NString:
			continue
		case count > dl-off:
			return fmt.Errorf("package header entry %d claims %d strings in %d bytes", i, count, dl-off)
		}
		p := data[off:]
		for range count {
			j := bytes.IndexByte(p, 0)
			if j < 0 {
				return fmt.Errorf("package header entry %d: fewer than %d NUL-terminated strings", i, count)
			}
			p = p[j+1:]
		}
	}
	return nil
}
