// Package target turns what a user points at — an image archive, an OCI layout, a registry
// reference, a root filesystem directory or an SBOM file — into an inventory. It only decides
// which of internal/image + internal/indexer or internal/sbom handles the input; it parses
// nothing itself beyond the first bytes needed to tell a tar from an SBOM.
package target

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"

	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/indexer"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/sbom"
)

// Options say how to read targets.
type Options struct {
	Indexer *indexer.Indexer
	Decoder *sbom.Decoder
	Image   image.Options
	// SBOMFormat forces the input to be read as an SBOM of this format (the spec's
	// X-Stella-Sbom-Type / --sbom-type). Empty means detect.
	SBOMFormat sbom.Format
}

// Result is a target's inventory and, for images and directories, how it was built.
type Result struct {
	Inventory *inventory.Inventory
	// Index is nil for SBOM inputs.
	Index *indexer.Result
}

// Inventory reads target. Local files are sniffed: a tar (plain or gzipped) is an image archive,
// anything else an SBOM; local directories are OCI layouts or unpacked docker archives when they
// look like one, root filesystems otherwise; anything else is a registry reference.
func Inventory(ctx context.Context, target string, opts Options) (*Result, error) {
	fi, statErr := os.Stat(target)
	switch {
	case opts.SBOMFormat != sbom.FormatAuto:
		return decodeFile(ctx, target, opts)
	case statErr == nil && fi.IsDir():
		img, err := image.Open(ctx, target, opts.Image)
		if errors.Is(err, image.ErrNotImage) {
			res, err := opts.Indexer.IndexRootfs(ctx, target)
			if err != nil {
				return nil, err
			}
			return &Result{Inventory: res.Inventory, Index: res}, nil
		}
		if err != nil {
			return nil, err
		}
		return indexImage(ctx, img, opts)
	case statErr == nil:
		isTar, err := LooksLikeTar(target)
		if err != nil {
			return nil, err
		}
		if !isTar {
			return decodeFile(ctx, target, opts)
		}
	}
	img, err := image.Open(ctx, target, opts.Image)
	if err != nil {
		return nil, err
	}
	return indexImage(ctx, img, opts)
}

func indexImage(ctx context.Context, img *image.Image, opts Options) (*Result, error) {
	defer img.Close()
	res, err := opts.Indexer.IndexImage(ctx, img)
	if err != nil {
		return nil, err
	}
	return &Result{Inventory: res.Inventory, Index: res}, nil
}

func decodeFile(ctx context.Context, file string, opts Options) (*Result, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// A plain file goes to the decoder as the *os.File, whose size sizes the read buffer.
	var r io.Reader = f
	var magic [2]byte
	if n, _ := f.ReadAt(magic[:], 0); n == 2 && magic == [2]byte{0x1f, 0x8b} {
		zr, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		defer zr.Close()
		r = zr
	}
	inv, err := opts.Decoder.Decode(ctx, r, opts.SBOMFormat)
	if err != nil {
		return nil, err
	}
	if inv.Target.Name == "" {
		inv.Target.Name = file
	}
	return &Result{Inventory: inv}, nil
}

func isGzip(br *bufio.Reader) bool {
	b, _ := br.Peek(2)
	return bytes.Equal(b, []byte{0x1f, 0x8b})
}

// LooksLikeTar reports whether file is a tar archive, possibly gzipped: the ustar magic sits at
// offset 257 of the first header. (A gzipped SBOM is not a tar.)
func LooksLikeTar(file string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if isGzip(br) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return false, nil
		}
		defer zr.Close()
		r = zr
	}
	hdr := make([]byte, 512)
	n, _ := io.ReadFull(r, hdr)
	return n >= 263 && bytes.Equal(hdr[257:262], []byte("ustar")), nil
}
