package queue_test

import (
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/queue"
)

func TestBackoff(t *testing.T) {
	const s = time.Second
	for _, tc := range []struct {
		n         int
		base, max time.Duration
		want      time.Duration
	}{
		{0, s, time.Minute, 0},
		{1, s, time.Minute, s},
		{2, s, time.Minute, 2 * s},
		{5, s, time.Minute, 16 * s},
		{7, s, time.Minute, time.Minute},
		{1000, s, time.Minute, time.Minute},
		{3, 2 * time.Minute, time.Minute, time.Minute},
		{80, s, 0, time.Duration(1<<63 - 1)},
		{3, 0, time.Minute, 0},
	} {
		if got := queue.Backoff(tc.n, tc.base, tc.max); got != tc.want {
			t.Errorf("Backoff(%d, %v, %v) = %v; want %v", tc.n, tc.base, tc.max, got, tc.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := queue.Config{}.WithDefaults()
	if err != nil || c.MaxAttempts != queue.DefaultMaxAttempts || c.PollInterval != queue.DefaultPollInterval || c.Now != nil {
		t.Fatalf("WithDefaults = %+v, %v", c, err)
	}
	if _, err := (queue.Config{MaxAttempts: -1}).WithDefaults(); err == nil {
		t.Fatal("negative MaxAttempts accepted")
	}
	if _, err := (queue.Config{PollInterval: -1}).WithDefaults(); err == nil {
		t.Fatal("negative PollInterval accepted")
	}
}
