package policy

import (
	"encoding/json"
	"fmt"
	"time"
)

// Timestamp is an instant written as the spec writes them: UTC ISO 8601 with milliseconds
// ("2025-10-19T03:25:14.112Z").
type Timestamp time.Time

const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// Time returns t as a time.Time.
func (t Timestamp) Time() time.Time { return time.Time(t) }

// Equal reports whether t and u are the same instant.
func (t Timestamp) Equal(u Timestamp) bool { return time.Time(t).Equal(time.Time(u)) }

func (t Timestamp) String() string { return time.Time(t).UTC().Format(timestampLayout) }

// MarshalJSON writes the millisecond UTC form.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.String())
}

// UnmarshalJSON reads any RFC 3339 time.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	*t = Timestamp(v.UTC())
	return nil
}
