package rpm

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
)

// NDB layout, as go-rpmdb reads it (rpm lib/backend/ndb/rpmpkg.c): a 32-byte header, then
// SlotNPages pages of 4 KiB holding 16-byte slots (the header takes the first two), each slot
// pointing at a blob of 16-byte blocks: a 16-byte blob header, then the package header.
const (
	ndbHeaderSize    = 32
	ndbSlotSize      = 16
	ndbSlotPageSize  = 4096
	ndbMaxSlotPages  = 2048 // go-rpmdb's own limit
	ndbBlockSize     = 16
	ndbBlobHeadSize  = 16
	ndbSlotMagic     = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobMagic     = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbSupportedVers = 0
)

// checkNDB checks every slot and blob header the way go-rpmdb will read them, and fails where
// go-rpmdb would print to stdout, allocate a blob length taken from the file, or report an error
// and then block its goroutine forever.
func checkNDB(ctx context.Context, r *io.SectionReader) error {
	size := r.Size()
	var hdr [ndbHeaderSize]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	le := binary.LittleEndian
	version, slotPages := le.Uint32(hdr[4:8]), int64(le.Uint32(hdr[12:16]))
	switch {
	case version != ndbSupportedVers:
		return fmt.Errorf("NDB version %d", version)
	case slotPages == 0 || slotPages > ndbMaxSlotPages:
		return fmt.Errorf("%d slot pages", slotPages)
	case slotPages*ndbSlotPageSize > size:
		return fmt.Errorf("%d slot pages declared, %d bytes present: %w", slotPages, size, errTruncated)
	}
	slots := make([]byte, slotPages*ndbSlotPageSize)
	if _, err := r.ReadAt(slots, 0); err != nil {
		return fmt.Errorf("read slots: %w", err)
	}
	var head [ndbBlobHeadSize]byte
	var blob []byte // reused between packages
	for off := int64(ndbHeaderSize); off < int64(len(slots)); off += ndbSlotSize {
		if (off/ndbSlotSize)%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		s := slots[off : off+ndbSlotSize]
		if le.Uint32(s[0:4]) != ndbSlotMagic {
			return fmt.Errorf("slot at offset %d: bad magic", off)
		}
		pkg := le.Uint32(s[4:8])
		if pkg == 0 {
			continue // free slot
		}
		at := int64(le.Uint32(s[8:12])) * ndbBlockSize
		if at+ndbBlobHeadSize > size {
			return fmt.Errorf("package %d: blob at offset %d: %w", pkg, at, errTruncated)
		}
		if _, err := r.ReadAt(head[:], at); err != nil {
			return fmt.Errorf("package %d: read blob: %w", pkg, err)
		}
		blobLen := int64(le.Uint32(head[12:16]))
		switch {
		case le.Uint32(head[0:4]) != ndbBlobMagic:
			return fmt.Errorf("package %d: blob at offset %d: bad magic", pkg, at)
		case le.Uint32(head[4:8]) != pkg:
			return fmt.Errorf("package %d: blob at offset %d belongs to package %d", pkg, at, le.Uint32(head[4:8]))
		case at+ndbBlobHeadSize+blobLen > size:
			return fmt.Errorf("package %d: blob of %d bytes at offset %d: %w", pkg, blobLen, at, errTruncated)
		}
		blob = append(blob[:0], make([]byte, blobLen)...)
		if _, err := r.ReadAt(blob, at+ndbBlobHeadSize); err != nil {
			return fmt.Errorf("package %d: read blob: %w", pkg, err)
		}
		if err := checkHeader(blob); err != nil {
			return fmt.Errorf("package %d: %w", pkg, err)
		}
	}
	return nil
}
