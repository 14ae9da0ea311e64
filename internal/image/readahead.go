package image

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// countingReader counts bytes read from a compressed blob, for the expansion-ratio check that runs
// on the decompressing goroutine.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

const (
	chunkSize   = 1 << 20
	chunksAhead = 4
)

// readahead decompresses on its own goroutine into a few recycled 1 MiB chunks, so inflating
// the next megabyte overlaps with parsing the current one. Close always stops the goroutine.
type readahead struct {
	full   chan []byte
	free   chan []byte
	done   chan struct{}
	wg     sync.WaitGroup
	err    error // written by the producer before it closes full
	cur    []byte
	spent  []byte
	closed sync.Once
	stop   func()
}

func newReadahead(ctx context.Context, src io.Reader, guard func(int64) error, stop func()) *readahead {
	ra := &readahead{
		full: make(chan []byte, chunksAhead),
		free: make(chan []byte, chunksAhead+1),
		done: make(chan struct{}),
		stop: stop,
	}
	ra.wg.Add(1)
	go ra.produce(ctx, src, guard)
	return ra
}

func (ra *readahead) produce(ctx context.Context, src io.Reader, guard func(int64) error) {
	defer ra.wg.Done()
	defer close(ra.full)
	var out int64
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		default:
			buf = make([]byte, chunkSize)
		}
		n, err := io.ReadFull(src, buf[:chunkSize])
		out += int64(n)
		if gerr := guard(out); gerr != nil {
			ra.err = gerr
			return
		}
		if n > 0 {
			select {
			case ra.full <- buf[:n]:
			case <-ra.done:
				return
			case <-ctx.Done():
				ra.err = ctx.Err()
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			ra.err = err
			return
		}
	}
}

func (ra *readahead) Read(p []byte) (int, error) {
	if len(ra.cur) == 0 {
		if ra.spent != nil {
			select {
			case ra.free <- ra.spent[:cap(ra.spent)]:
			default:
			}
			ra.spent = nil
		}
		buf, ok := <-ra.full
		if !ok {
			return 0, ra.err // safe: the producer wrote err before closing full
		}
		ra.cur, ra.spent = buf, buf
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// skip advances n bytes without copying them, handing each skipped slice to see (the digest).
func (ra *readahead) skip(n int64, see func([]byte)) (int64, error) {
	var done int64
	for done < n {
		if len(ra.cur) == 0 {
			if _, err := ra.Read(nil); err != nil {
				return done, err
			}
			continue
		}
		k := int(min(int64(len(ra.cur)), n-done))
		see(ra.cur[:k])
		ra.cur = ra.cur[k:]
		done += int64(k)
	}
	return done, nil
}

// WriteTo lets io.Copy drain without an intermediate buffer.
func (ra *readahead) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(ra.cur) == 0 {
			if _, err := ra.Read(nil); err != nil {
				if errors.Is(err, io.EOF) {
					return total, nil
				}
				return total, err
			}
		}
		n, err := w.Write(ra.cur)
		total += int64(n)
		ra.cur = ra.cur[n:]
		if err != nil {
			return total, err
		}
	}
}

// Close stops the producer and waits for it.
func (ra *readahead) Close() {
	ra.closed.Do(func() {
		close(ra.done)
		for range ra.full { //nolint:revive // drain so the producer can exit
		}
		ra.wg.Wait()
		if ra.stop != nil {
			ra.stop()
		}
	})
}
