package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// JobPager lists job records a page at a time, newest first, by keyset: each page starts
// after the last record of the previous one, so paging through a long history costs one index
// range per page and a run recorded meanwhile neither shifts nor repeats records. Both
// backends implement it (it is separate from Jobs so that Jobs stays as the CLI uses it).
type JobPager interface {
	// ListJobsBefore returns up to limit jobs of kind (all kinds when empty) that sort after
	// cursor in the order of ListJobs (started_at descending, then id descending); the zero
	// cursor starts at the newest.
	ListJobsBefore(ctx context.Context, kind string, cursor JobCursor, limit int) ([]Job, error)
}

// JobCursor is the position after a job in ListJobs order: its start time and id.
type JobCursor struct {
	StartedAt time.Time
	ID        string
}

// CursorAfter returns the cursor that continues after j.
func CursorAfter(j Job) JobCursor { return JobCursor{StartedAt: Timestamp(j.StartedAt), ID: j.ID} }

// IsZero reports whether c is the start of the list.
func (c JobCursor) IsZero() bool { return c.ID == "" && c.StartedAt.IsZero() }

// maxCursorID bounds the id inside a cursor: ids are UUIDs, and a cursor comes from outside.
const maxCursorID = 128

// String encodes c as an opaque, URL-safe token ("" for the zero cursor).
func (c JobCursor) String() string {
	if c.IsZero() {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(Timestamp(c.StartedAt).UnixMicro(), 10) + "/" + c.ID))
}

// ErrBadCursor is returned by ParseJobCursor for a token String did not make.
var ErrBadCursor = errors.New("malformed job cursor")

// ParseJobCursor decodes a token of JobCursor.String; "" is the zero cursor.
func ParseJobCursor(s string) (JobCursor, error) {
	if s == "" {
		return JobCursor{}, nil
	}
	if len(s) > 2*maxCursorID {
		return JobCursor{}, fmt.Errorf("%w: too long", ErrBadCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return JobCursor{}, fmt.Errorf("%w: %w", ErrBadCursor, err)
	}
	ts, id, ok := strings.Cut(string(b), "/")
	if !ok || id == "" || len(id) > maxCursorID {
		return JobCursor{}, fmt.Errorf("%w: want <time>/<id>", ErrBadCursor)
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7e {
			return JobCursor{}, fmt.Errorf("%w: the id holds a character outside printable ASCII", ErrBadCursor)
		}
	}
	us, err := strconv.ParseInt(ts, 10, 64)
	// The bounds keep the time within what both backends store (years 1 to 9999).
	if err != nil || us < -62135596800000000 || us > 253402300799999999 {
		return JobCursor{}, fmt.Errorf("%w: bad time", ErrBadCursor)
	}
	return JobCursor{StartedAt: time.UnixMicro(us).UTC(), ID: id}, nil
}
