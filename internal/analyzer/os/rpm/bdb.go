package rpm

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
)

// Berkeley DB hash database layout, as go-rpmdb reads it (libdb src/dbinc/db_page.h).
const (
	bdbMetaSize       = 512 // go-rpmdb reads this much of page 0
	bdbPageHeaderSize = 26
	bdbHashOffSize    = 12 // HOFFPAGE item: type, 3 unused bytes, page number, length

	bdbPageHashUnsorted = 2
	bdbItemHashOff      = 3 // H_OFFPAGE: the value lives on a chain of overflow pages
	bdbPageOverflow     = 7
	bdbPageHashMeta     = 8
	bdbPageHash         = 13
)

// checkBDB walks the hash pages and overflow chains of a Berkeley DB file the way go-rpmdb
// will, and fails where go-rpmdb would index out of range (on its own goroutine, which would end
// the process), loop forever (a chain through a page that is not an overflow page, or a cycle),
// or allocate from a bogus header (see checkHeader). The walk is bounded by the number of pages:
// every overflow page may be visited once.
func checkBDB(ctx context.Context, r *io.SectionReader) error {
	size := r.Size()
	if size < bdbMetaSize {
		return fmt.Errorf("%d bytes, less than the %d-byte metadata page: %w", size, bdbMetaSize, errTruncated)
	}
	meta := make([]byte, bdbMetaSize)
	if _, err := r.ReadAt(meta, 0); err != nil {
		return fmt.Errorf("read metadata: %w", err)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if binary.LittleEndian.Uint32(meta[12:16]) != bdbHashMagic {
		order = binary.BigEndian
	}
	pageSize := int64(order.Uint32(meta[20:24]))
	lastPage := int64(order.Uint32(meta[32:36]))
	switch {
	case meta[24] != 0:
		return fmt.Errorf("encrypted database (algorithm %d)", meta[24])
	case meta[25] != bdbPageHashMeta:
		return fmt.Errorf("page 0 has type %d, not hash metadata", meta[25])
	case pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0:
		return fmt.Errorf("page size %d", pageSize)
	case (lastPage+1)*pageSize > size:
		return fmt.Errorf("%d pages of %d bytes declared, %d bytes present: %w", lastPage+1, pageSize, size, errTruncated)
	}
	w := bdbWalker{r: r, order: order, pageSize: pageSize, lastPage: lastPage, budget: lastPage,
		page: make([]byte, pageSize), ovf: make([]byte, pageSize)}
	for pg := int64(1); pg <= lastPage; pg++ {
		if pg%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := w.hashPage(pg); err != nil {
			return fmt.Errorf("page %d: %w", pg, err)
		}
	}
	return nil
}

// bdbWalker holds the state of one checkBDB run.
type bdbWalker struct {
	r                  *io.SectionReader
	order              binary.ByteOrder
	pageSize, lastPage int64
	budget             int64 // overflow page visits left
	page, ovf          []byte
	blob               []byte // the value being reassembled, reused between chains
}

// hashPage checks one page; pages other than hash pages are skipped, as go-rpmdb skips them.
func (w *bdbWalker) hashPage(pg int64) error {
	if _, err := w.r.ReadAt(w.page, pg*w.pageSize); err != nil {
		return err
	}
	if t := w.page[25]; t != bdbPageHash && t != bdbPageHashUnsorted {
		return nil
	}
	entries := int64(w.order.Uint16(w.page[20:22]))
	if entries%2 != 0 || bdbPageHeaderSize+2*entries > w.pageSize {
		return fmt.Errorf("%d index entries do not fit", entries)
	}
	// Entries alternate key, value; only values (odd entries) hold package headers.
	for e := int64(1); e < entries; e += 2 {
		off := int64(w.order.Uint16(w.page[bdbPageHeaderSize+2*e:]))
		if off >= w.pageSize {
			return fmt.Errorf("entry %d at offset %d", e, off)
		}
		if w.page[off] != bdbItemHashOff {
			continue
		}
		if off+bdbHashOffSize > w.pageSize {
			return fmt.Errorf("entry %d at offset %d", e, off)
		}
		if err := w.chain(int64(w.order.Uint32(w.page[off+4:]))); err != nil {
			return fmt.Errorf("entry %d: %w", e, err)
		}
	}
	return nil
}

// chain follows the overflow pages of one value, checking each page and the header it holds.
func (w *bdbWalker) chain(first int64) error {
	w.blob = w.blob[:0]
	for pg := first; pg != 0; {
		if pg > w.lastPage {
			return fmt.Errorf("overflow page %d beyond the last page %d", pg, w.lastPage)
		}
		if w.budget--; w.budget < 0 {
			return fmt.Errorf("overflow pages are shared or chained in a loop (at page %d)", pg)
		}
		if _, err := w.r.ReadAt(w.ovf, pg*w.pageSize); err != nil {
			return err
		}
		if w.ovf[25] != bdbPageOverflow {
			return fmt.Errorf("page %d in an overflow chain has type %d", pg, w.ovf[25])
		}
		next := int64(w.order.Uint32(w.ovf[16:20]))
		data := w.ovf[bdbPageHeaderSize:]
		if next == 0 {
			used := int64(w.order.Uint16(w.ovf[22:24]))
			if bdbPageHeaderSize+used > w.pageSize {
				return fmt.Errorf("overflow page %d holds %d bytes", pg, used)
			}
			data = data[:used]
		}
		w.blob = append(w.blob, data...)
		pg = next
	}
	return checkHeader(w.blob)
}
