package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

func TestJobCursorRoundTrip(t *testing.T) {
	for _, c := range []store.JobCursor{
		{StartedAt: time.Date(2026, 11, 22, 10, 0, 0, 123456000, time.UTC), ID: "0b5f1c4e-6a51-4ad5-9f0e-2a7f3a1d9c11"},
		{StartedAt: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), ID: "x"},
		{StartedAt: time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC), ID: "before-epoch"},
	} {
		got, err := store.ParseJobCursor(c.String())
		if err != nil || !got.StartedAt.Equal(c.StartedAt) || got.ID != c.ID {
			t.Errorf("%+v: round trip %+v, %v", c, got, err)
		}
	}
	if c, err := store.ParseJobCursor(""); err != nil || !c.IsZero() {
		t.Errorf("empty cursor: %+v %v", c, err)
	}
	for _, bad := range []string{"!!", "bm8tc2xhc2g", "MTIzLw", "YWJjL2lk", strings.Repeat("A", 300), "MTIzL2EgYg"} {
		if _, err := store.ParseJobCursor(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseJobCursor: any token either fails or round-trips to itself.
func FuzzParseJobCursor(f *testing.F) {
	f.Add("")
	f.Add(store.JobCursor{StartedAt: time.Unix(1700000000, 5000), ID: "a-b"}.String())
	f.Add("MTIzLw")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := store.ParseJobCursor(s)
		if err != nil {
			return
		}
		again, err := store.ParseJobCursor(c.String())
		if err != nil || !again.StartedAt.Equal(c.StartedAt) || again.ID != c.ID {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, c, c.String(), again, err)
		}
	})
}
