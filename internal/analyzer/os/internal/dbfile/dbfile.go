// Package dbfile reads the package-database files handed to the OS analyzers. It owns the size
// limit check and the whole-file read; it must not parse anything or touch the filesystem.
package dbfile

import (
	"errors"
	"fmt"
	"io"

	"github.com/stellaops/stellaops/internal/analyzer"
)

// ReadAll returns the whole content of in, refusing files over max bytes (max <= 0 means no
// limit) so that a hostile layer cannot make an analyzer allocate without bound.
func ReadAll(in *analyzer.Input, max int64) ([]byte, error) {
	if in == nil || in.Content == nil {
		return nil, errors.New("no content")
	}
	size := in.Content.Size()
	if max > 0 && size > max {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit", in.Path, size, max)
	}
	data := make([]byte, size)
	n, err := in.Content.ReadAt(data, 0)
	if n == len(data) {
		return data, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("read %s: %w", in.Path, err)
}
