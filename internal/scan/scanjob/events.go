package scanjob

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/scan/scanstore"
)

// Frame is one progress event on the wire (API spec §2.6), in the spec's key order.
type Frame struct {
	ScanID        string          `json:"scanId"`
	Sequence      int64           `json:"sequence"`
	State         string          `json:"state"`
	Message       string          `json:"message"`
	Timestamp     string          `json:"timestamp"`
	CorrelationID string          `json:"correlationId"`
	Data          json.RawMessage `json:"data"`
}

// TimestampLayout is the spec's ISO 8601 UTC with milliseconds.
const TimestampLayout = "2006-01-02T15:04:05.000Z07:00"

// Timestamp formats t as the API writes instants.
func Timestamp(t time.Time) string { return t.UTC().Format(TimestampLayout) }

// FrameOf renders a stored event.
func FrameOf(ev scanstore.Event) Frame {
	cid := ev.CorrelationID
	if cid == "" {
		cid = scanstore.DefaultCorrelationID(ev.ScanID, ev.Sequence)
	}
	d := ev.Data
	if len(d) == 0 {
		d = []byte("{}")
	}
	return Frame{ScanID: ev.ScanID, Sequence: ev.Sequence, State: string(ev.State), Message: ev.Message,
		Timestamp: Timestamp(ev.Time), CorrelationID: cid, Data: d}
}

// JSON is the frame's one-line JSON (no trailing newline).
func (f Frame) JSON() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(f) // strings, a number and a raw JSON object: cannot fail
	return bytes.TrimRight(b.Bytes(), "\n")
}

// AppendSSE appends the frame as a Server-Sent Event:
//
//	id: 1
//	event: pending
//	data: {...}
//
// The JSON has no raw newlines (the encoder escapes them in strings), so one data line holds it.
func (f Frame) AppendSSE(b []byte) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, f.Sequence, 10)
	b = append(b, "\nevent: "...)
	b = append(b, strings.ToLower(f.State)...)
	b = append(b, "\ndata: "...)
	b = append(b, f.JSON()...)
	return append(b, "\n\n"...)
}

// AppendJSONL appends the frame as one line of newline-delimited JSON.
func (f Frame) AppendJSONL(b []byte) []byte {
	b = append(b, f.JSON()...)
	return append(b, '\n')
}

// eventData builds an event's data object: RFC 8785-sorted keys, as the spec's example
// ({"force":false,"meta.pipeline":"github"}).
func eventData(kv map[string]any) []byte {
	if len(kv) == 0 {
		return []byte("{}")
	}
	b, err := json.Marshal(kv) // map keys are sorted by encoding/json
	if err != nil {
		return []byte("{}")
	}
	return b
}
