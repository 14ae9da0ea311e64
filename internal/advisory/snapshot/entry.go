package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/stellaops/stellaops/internal/advisory"
)

// Entry is one advisory's statement about one indexed package: what the matcher evaluates.
type Entry struct {
	Advisory string
	// Package is the name as the source wrote it (the index key holds the normalised form).
	Package string
	Ranges  []advisory.Range
	// Versions lists exact affected versions when building. Entries read from a snapshot keep the
	// list encoded (PyPI lists run to hundreds of versions, and matching only asks whether one is
	// there): use HasVersion and VersionList.
	Versions []string
	versions string
	Status   advisory.Status
	// Level and LevelSource are the package-level severity a distro gave, if any.
	Level       advisory.Level
	LevelSource string
	Source      string
}

// The index values are a compact binary list of entries, not JSON: a scan of 5,000 components
// decodes one value per component, and this format decodes about ten times faster.
//
//	entries := uvarint(n) entry*
//	entry   := str(advisory) str(package) str(status) str(level) str(levelSource) str(source)
//	           uvarint(len(versions)) str* uvarint(len(ranges)) range*
//	range   := str(type) str(repo) uvarint(len(events)) event*
//	event   := byte(kind 1 introduced | 2 fixed | 3 last_affected | 4 limit) str(version)
//	str     := uvarint(len) bytes

const maxDecodeCount = 1 << 20

var errCorrupt = errors.New("snapshot index entry corrupt")

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodeEntries(es []Entry) []byte {
	b := binary.AppendUvarint(nil, uint64(len(es)))
	for _, e := range es {
		for _, s := range []string{e.Advisory, e.Package, string(e.Status), string(e.Level), e.LevelSource, e.Source} {
			b = appendStr(b, s)
		}
		b = binary.AppendUvarint(b, uint64(len(e.Versions)))
		for _, v := range e.Versions {
			b = appendStr(b, v)
		}
		b = binary.AppendUvarint(b, uint64(len(e.Ranges)))
		for _, r := range e.Ranges {
			b = appendStr(b, string(r.Type))
			b = appendStr(b, r.Repo)
			b = binary.AppendUvarint(b, uint64(len(r.Events)))
			for _, ev := range r.Events {
				kind, v := eventKind(ev)
				b = append(b, kind)
				b = appendStr(b, v)
			}
		}
	}
	return b
}

func eventKind(e advisory.Event) (byte, string) {
	switch {
	case e.Introduced != "":
		return 1, e.Introduced
	case e.Fixed != "":
		return 2, e.Fixed
	case e.LastAffected != "":
		return 3, e.LastAffected
	}
	return 4, e.Limit
}

// reader walks an encoded value held as one string: every string it returns is a substring,
// so decoding a value costs one allocation however many fields it has.
type reader struct {
	s   string
	err error
}

func (r *reader) uvarint() int {
	if r.err != nil {
		return 0
	}
	var v uint64
	for i := 0; i < len(r.s) && i < binary.MaxVarintLen64; i++ {
		c := r.s[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if v > maxDecodeCount {
				break
			}
			r.s = r.s[i+1:]
			return int(v)
		}
	}
	r.err = errCorrupt
	return 0
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil || n > len(r.s) {
		r.err = errCorrupt
		return ""
	}
	out := r.s[:n]
	r.s = r.s[n:]
	return out
}

func (r *reader) skipStr() { r.str() }

func (r *reader) byte() byte {
	if r.err != nil || len(r.s) == 0 {
		r.err = errCorrupt
		return 0
	}
	c := r.s[0]
	r.s = r.s[1:]
	return c
}

// HasVersion reports whether v is one of the entry's exact affected versions.
func (e *Entry) HasVersion(v string) bool {
	if e.versions == "" {
		return slices.Contains(e.Versions, v)
	}
	r := &reader{s: e.versions}
	for range r.uvarint() {
		if r.str() == v {
			return true
		}
		if r.err != nil {
			return false
		}
	}
	return false
}

// HasAnyVersion reports whether the entry lists exact versions at all.
func (e *Entry) HasAnyVersion() bool { return e.versions != "" || len(e.Versions) > 0 }

// VersionList returns the exact affected versions.
func (e *Entry) VersionList() []string {
	if e.versions == "" {
		return e.Versions
	}
	r := &reader{s: e.versions}
	n := r.uvarint()
	out := make([]string, 0, n)
	for range n {
		v := r.str()
		if r.err != nil {
			break
		}
		out = append(out, v)
	}
	return out
}

// scratch holds buffers a Reader reuses from one lookup to the next.
type scratch struct {
	es     []Entry
	ranges []advisory.Range
	events []advisory.Event
}

// decodeEntries reads an index value. Counts are checked against the bytes left, so a corrupt
// value cannot make it allocate more than the value's own size suggests.
func decodeEntries(b []byte) ([]Entry, error) { return decodeInto(b, &scratch{}) }

// decodeInto decodes into sc's buffers, which the result shares until the next call.
func decodeInto(b []byte, sc *scratch) ([]Entry, error) {
	r := &reader{s: string(b)}
	n := r.uvarint()
	if r.err != nil || n > len(b) {
		return nil, fmt.Errorf("decode entries: %w", errCorrupt)
	}
	es := sc.es[:0]
	ranges, events := sc.ranges[:0], sc.events[:0]
	defer func() { sc.es, sc.ranges, sc.events = es, ranges, events }()
	for range n {
		var e Entry
		e.Advisory, e.Package = r.str(), r.str()
		e.Status, e.Level = advisory.Status(r.str()), advisory.Level(r.str())
		e.LevelSource, e.Source = r.str(), r.str()
		start := r.s
		if nv := r.uvarint(); nv > len(r.s) {
			r.err = errCorrupt
		} else {
			for range nv {
				r.skipStr()
			}
			if nv > 0 && r.err == nil {
				e.versions = start[:len(start)-len(r.s)]
			}
		}
		nr := r.uvarint()
		if nr > len(r.s) {
			r.err = errCorrupt
		}
		rstart := len(ranges)
		for range nr {
			if r.err != nil {
				break
			}
			rg := advisory.Range{Type: advisory.RangeType(r.str()), Repo: r.str()}
			ne := r.uvarint()
			if ne > len(r.s) {
				r.err = errCorrupt
				break
			}
			estart := len(events)
			events = slices.Grow(events, ne)[:estart+ne]
			rg.Events = events[estart : estart+ne : estart+ne]
			clear(rg.Events)
			for i := range rg.Events {
				switch kind, v := r.byte(), r.str(); kind {
				case 1:
					rg.Events[i].Introduced = v
				case 2:
					rg.Events[i].Fixed = v
				case 3:
					rg.Events[i].LastAffected = v
				case 4:
					rg.Events[i].Limit = v
				default:
					r.err = errCorrupt
				}
			}
			ranges = append(ranges, rg)
		}
		if len(ranges) > rstart {
			e.Ranges = ranges[rstart:len(ranges):len(ranges)]
		}
		if r.err != nil {
			return nil, fmt.Errorf("decode entry %d: %w", len(es), r.err)
		}
		es = append(es, e)
	}
	if len(r.s) != 0 {
		return nil, fmt.Errorf("decode entries: %w: %d trailing bytes", errCorrupt, len(r.s))
	}
	return es, nil
}
