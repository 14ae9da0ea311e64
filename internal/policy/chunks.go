package policy

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// chunkSize is how many findings a worker takes at a time: large enough that handing out work
// costs nothing, small enough that workers finish together.
const chunkSize = 256

// inChunks runs fn over [0, n) in chunks on up to workers goroutines (GOMAXPROCS when
// workers is 0) and waits for all of them. The first error cancels the context the others
// see and is the one returned. Small inputs run on the calling goroutine.
func inChunks(ctx context.Context, n, workers int, fn func(ctx context.Context, lo, hi int) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, (n+chunkSize-1)/chunkSize)
	if workers <= 1 {
		return fn(ctx, 0, n)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range workers {
		wg.Go(func() {
			for {
				lo := int(next.Add(chunkSize)) - chunkSize
				if lo >= n {
					return
				}
				if err := fn(ctx, lo, min(lo+chunkSize, n)); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}
