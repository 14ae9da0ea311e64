package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/stellaops/stellaops/internal/indexer"
)

// Progress shows indexing progress on a terminal: one line with the layer being read and the
// bytes read so far. On anything but a terminal it shows nothing.
type Progress struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	bytes map[int]int64
	total int64
}

// NewProgress returns a display writing to w, or a silent one when w is not a terminal.
func NewProgress(w io.Writer) *Progress {
	if !IsTerminal(w) {
		return &Progress{}
	}
	return &Progress{
		bytes: map[int]int64{},
		bar: progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetSpinnerChangeInterval(0), // render on updates only: no ticker goroutine
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(20),
		),
	}
}

// Indexer receives indexer progress events; it is safe for concurrent use.
func (p *Progress) Indexer(ev indexer.Progress) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total += ev.Bytes - p.bytes[ev.Layer]
	p.bytes[ev.Layer] = ev.Bytes
	state := ev.State
	if state == "reading" {
		state = "analyzing" // the layer is being read and analysed in one pass
	}
	id := ev.DiffID
	if len(id) > 19 {
		id = id[7:19]
	}
	p.bar.Describe(fmt.Sprintf("layer %d/%d %s %s", ev.Layer+1, ev.Layers, id, state))
	_ = p.bar.Set64(p.total)
}

// Done clears the display.
func (p *Progress) Done() {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.bar.Finish()
}

// Counts shows running totals of a long job on a terminal, one line: the job's name, then each
// kind of work done with its count, and the elapsed time. On anything but a terminal it shows
// nothing (the job's record, printed at the end, has the totals).
type Counts struct {
	mu     sync.Mutex
	bar    *progressbar.ProgressBar
	name   string
	order  []string
	counts map[string]int
}

// NewCounts returns a display for the job called name writing to w, or a silent one.
func NewCounts(w io.Writer, name string) *Counts {
	c := &Counts{name: name, counts: map[string]int{}}
	if IsTerminal(w) {
		c.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetSpinnerChangeInterval(0), // render on updates only: no ticker goroutine
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetWidth(10),
		)
	}
	return c
}

// Add counts n more of what; safe for concurrent use.
func (c *Counts) Add(what string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.counts[what]; !ok {
		c.order = append(c.order, what)
	}
	c.counts[what] += n
	if c.bar == nil {
		return
	}
	desc := c.name
	for _, k := range c.order {
		desc += fmt.Sprintf(" · %s %d", k, c.counts[k])
	}
	c.bar.Describe(desc)
	_ = c.bar.Add(n)
}

// Snapshot returns the counts so far.
func (c *Counts) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// Done clears the display.
func (c *Counts) Done() {
	if c.bar == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.bar.Finish()
}
