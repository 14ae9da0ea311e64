package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// ErrDiffIDMismatch means a layer's uncompressed content does not hash to the diff ID its
// config claims. Such a layer is never cached: trusting it would let one image poison the
// inventory of every other image that shares the claimed layer.
var ErrDiffIDMismatch = errors.New("layer content does not match its diff ID")

// LayerReader streams one layer's uncompressed tar.
type LayerReader struct {
	ra     *readahead
	pos    int64
	h      hash.Hash
	want   string
	closer io.Closer
}

// Read implements io.Reader.
func (l *LayerReader) Read(p []byte) (int, error) {
	n, err := l.ra.Read(p)
	l.h.Write(p[:n])
	l.pos += int64(n)
	return n, err
}

// Seek supports forward skips only (whence io.SeekCurrent, offset >= 0), which is what
// archive/tar uses to pass over file data nobody reads: the bytes are hashed where they lie
// instead of being copied out first.
func (l *LayerReader) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || offset < 0 {
		return l.pos, errors.New("layer stream: only forward seeks are supported")
	}
	n, err := l.ra.skip(offset, func(b []byte) { l.h.Write(b) })
	l.pos += n
	if errors.Is(err, io.EOF) {
		err = nil // archive/tar's following read reports the truncation
	}
	return l.pos, err
}

// Finish reads whatever the tar reader left (end-of-archive padding) and checks the diff ID. Call
// it after a successful walk, before trusting what was read.
func (l *LayerReader) Finish() error {
	if _, err := io.Copy(io.Discard, l); err != nil {
		return err
	}
	if l.want == "" {
		return nil
	}
	got := "sha256:" + hex.EncodeToString(l.h.Sum(nil))
	if got != l.want {
		return fmt.Errorf("%w: config says %s, content is %s", ErrDiffIDMismatch, l.want, got)
	}
	return nil
}

// Close stops the decompressor and releases the blob.
func (l *LayerReader) Close() error {
	l.ra.Close()
	return l.closer.Close()
}

// OpenLayer streams layer i (base = 0) uncompressed. The blob's compression (gzip, zstd or none)
// is detected from its first bytes. Decompression runs one step ahead in its own goroutine so it
// overlaps with the caller's parsing; Close stops it. Expansion beyond the limits (size, ratio) is
// refused as hostile.
func (img *Image) OpenLayer(ctx context.Context, i int) (*LayerReader, error) {
	if i < 0 || i >= len(img.Layers) {
		return nil, fmt.Errorf("layer %d out of range (image has %d)", i, len(img.Layers))
	}
	raw, err := img.blobs[i](ctx)
	if err != nil {
		return nil, fmt.Errorf("open layer %s: %w", img.Layers[i].DiffID, err)
	}
	cr := &countingReader{r: raw}
	br := bufio.NewReaderSize(cr, 256<<10)
	magic, _ := br.Peek(4)
	var src io.Reader = br
	var stop func()
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("open layer %s: gzip: %w", img.Layers[i].DiffID, err)
		}
		src, stop = zr, func() { zr.Close() }
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(128<<20))
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("open layer %s: zstd: %w", img.Layers[i].DiffID, err)
		}
		src, stop = zr, zr.Close
	default:
		cr = nil // uncompressed: no ratio to check
	}
	lim := img.limits
	guard := func(out int64) error {
		if exceeds(out, lim.MaxLayerSize) {
			return hostile("layer %s expands beyond %d bytes", img.Layers[i].DiffID, lim.MaxLayerSize)
		}
		if cr != nil && out > lim.RatioFloor && lim.MaxRatio > 0 && out > lim.MaxRatio*cr.n.Load() {
			return hostile("layer %s expands more than %d times (decompression bomb)", img.Layers[i].DiffID, lim.MaxRatio)
		}
		return nil
	}
	want := img.Layers[i].DiffID
	if !strings.HasPrefix(want, "sha256:") {
		want = ""
	}
	ra := newReadahead(ctx, src, guard, stop)
	return &LayerReader{ra: ra, h: sha256.New(), want: want, closer: raw}, nil
}
