package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/stellaops/stellaops/internal/advisory"
)

// Entry is one advisory's statement about one indexed package: what the matcher evaluates.
type Entry struct {
	Advisory string
	// Package is the name as the source wrote it (the index key holds the normalised form).
	Package  string
	Ranges   []advisory.Range
	Versions []string
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

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > maxDecodeCount {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil || n > len(r.b) {
		r.err = errCorrupt
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// decodeEntries reads an index value. Counts are checked against the bytes left, so a corrupt
// value cannot make it allocate more than the value's own size suggests.
func decodeEntries(b []byte) ([]Entry, error) {
	r := &reader{b: b}
	n := r.uvarint()
	if r.err != nil || n > len(b) {
		return nil, fmt.Errorf("decode entries: %w", errCorrupt)
	}
	es := make([]Entry, 0, n)
	for range n {
		var e Entry
		e.Advisory, e.Package = r.str(), r.str()
		e.Status, e.Level = advisory.Status(r.str()), advisory.Level(r.str())
		e.LevelSource, e.Source = r.str(), r.str()
		if nv := r.uvarint(); nv > 0 && nv <= len(r.b) {
			e.Versions = make([]string, nv)
			for i := range e.Versions {
				e.Versions[i] = r.str()
			}
		} else if nv > len(r.b) {
			r.err = errCorrupt
		}
		nr := r.uvarint()
		if nr > len(r.b) {
			r.err = errCorrupt
		}
		for range nr {
			if r.err != nil {
				break
			}
			rg := advisory.Range{Type: advisory.RangeType(r.str()), Repo: r.str()}
			ne := r.uvarint()
			if ne > len(r.b) {
				r.err = errCorrupt
				break
			}
			rg.Events = make([]advisory.Event, ne)
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
			e.Ranges = append(e.Ranges, rg)
		}
		if r.err != nil {
			return nil, fmt.Errorf("decode entry %d: %w", len(es), r.err)
		}
		es = append(es, e)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("decode entries: %w: %d trailing bytes", errCorrupt, len(r.b))
	}
	return es, nil
}
